"""Benchmark of multi-label weak supervision on GoEmotions (issue 22): our label model beside
per-label majority vote and per-label Snorkel, and the end model trained on our labels.

Data: /work/shared/data/goemotions (train / dev / test = 43,410 / 5,426 / 5,427 Reddit
comments, 28 labels).  Two settings:

- **6 labels**: Argilla's tutorial subset (admiration, annoyance, approval, curiosity,
  gratitude, optimism): the examples carrying at least one of the six, every other label dropped;
- **28 labels**: every example, every label.

LFs: ``labeling_functions/goemotions.py`` (keyword and lexicon LFs written on train and dev).
Label models are fitted on the train split's votes with their default settings (nothing is
tuned here) and scored on the rows some LF voted on ("covered").  The end model
(:class:`weaksup.end_models.MultiLabelTextClassifier`) learns from the covered train rows'
probabilities of our label model, its thresholds chosen on dev gold, and is scored on all test
rows.  Per-label Snorkel is Snorkel's LabelModel (the ``snorkel`` extra), one per label.

``python benchmarks/multilabel.py dev`` scores the dev split only (what LF writing may look at);
``python benchmarks/multilabel.py test`` scores test, once, and writes
``benchmarks/results/multilabel.txt``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

from weaksup.end_models import MultiLabelTextClassifier
from weaksup.label_types.multilabel import MULTILABEL
from weaksup.label_types.multilabel_votes import MultiLabelVotes
from weaksup.model import MultiLabelModel, PerLabelMajorityVote, PerLabelSnorkel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "labeling_functions"))
from goemotions import TUTORIAL_LABELS, lfs_for  # noqa: E402

DATA = Path("/work/shared/data/goemotions")
RESULTS = ROOT / "benchmarks" / "results" / "multilabel.txt"


def load(labels: list[str]) -> dict[str, tuple[pl.DataFrame, np.ndarray]]:
    """Each split's comments carrying at least one of ``labels`` and their (n, k) gold."""
    out = {}
    for split in ("train", "dev", "test"):
        frame = pl.read_ndjson(DATA / f"{split}.jsonl.gz")
        gold = np.stack([frame["labels"].list.contains(name).to_numpy() for name in labels], axis=1).astype(np.int8)
        keep = gold.any(axis=1)
        out[split] = (frame.filter(pl.Series(keep)), gold[keep])
    return out


def votes_of(frame: pl.DataFrame, labels: list[str]) -> MultiLabelVotes:
    """The LFs' votes on ``frame``, each LF's column checked as the applier checks it."""
    lfs = lfs_for(labels)
    rows, cols, ids = [], [], []
    for a, lf in enumerate(lfs):
        _, values = MULTILABEL.check_column(lf.evaluate(frame), len(labels))
        voted = pl.Series("v", values, dtype=pl.String).str.json_decode(
            pl.Struct({"present": pl.List(pl.Int32), "absent": pl.List(pl.Int32)})).struct.field("present")  # fmt: skip
        flat = pl.DataFrame({"row": np.arange(frame.height), "label": voted}).explode("label").drop_nulls()
        rows.append(flat["row"].to_numpy()), ids.append(flat["label"].to_numpy()), cols.append(np.full(flat.height, a))
    n = np.concatenate(rows)
    return MultiLabelVotes.from_entries(n, np.concatenate(cols), np.concatenate(ids), np.ones(len(n), bool), frame.height,
                                        len(lfs), len(labels), tuple(lf.name for lf in lfs))  # fmt: skip


def micro_f1(pred: np.ndarray, gold: np.ndarray) -> float:
    return float(MULTILABEL.metrics(pred, gold)["micro_f1"])


def setting(name: str, labels: list[str], split: str, say: callable) -> dict[str, float]:
    data = load(labels)
    (train, _), (scored, gold) = data["train"], data[split]
    v_train, v_scored = votes_of(train, labels), votes_of(scored, labels)
    covered = v_scored.n_votes() > 0
    k = len(labels)
    say(f"== {name}: {train.height:,} train, {scored.height:,} {split} comments, {v_train.m} LFs; "
        f"{split} coverage {covered.mean():.3f} ==")  # fmt: skip
    models = {"ours": MultiLabelModel(cardinality=k), "per-label MV": PerLabelMajorityVote(cardinality=k),
              "per-label Snorkel": PerLabelSnorkel(cardinality=k)}  # fmt: skip
    scores, fitted = {}, {}
    for label, model in models.items():
        t0 = time.perf_counter()
        model.fit(v_train)
        seconds = time.perf_counter() - t0
        pred = model.predict(v_scored)
        m = MULTILABEL.metrics(pred[covered], gold[covered], classes=labels)
        scores[label], fitted[label] = m["micro_f1"], model
        say(f"  {label:18s} micro-F1 {m['micro_f1']:.3f}  macro-F1 {m['macro_f1'] or 0:.3f}  subset acc "
            f"{m['subset_accuracy']:.3f}  P {m['micro_precision']:.3f} R {m['micro_recall']:.3f}  fit {seconds:.1f}s")  # fmt: skip
    say(f"  ours - per-label MV: {100 * (scores['ours'] - scores['per-label MV']):+.1f} points; ours - per-label "
        f"Snorkel: {100 * (scores['ours'] - scores['per-label Snorkel']):+.1f} points (micro-F1, covered {split} rows)")  # fmt: skip
    ours = fitted["ours"]
    t_cov = v_train.n_votes() > 0
    texts = train["text"].to_list()
    probs = ours.predict_proba(v_train)
    dev_frame, dev_gold = data["dev"]
    t0 = time.perf_counter()
    end = MultiLabelTextClassifier().fit([texts[i] for i in np.flatnonzero(t_cov)], probs[t_cov], dev_frame["text"].to_list(), dev_gold)
    seconds = time.perf_counter() - t0
    end_scores = MULTILABEL.metrics(end.predict(scored["text"].to_list()), gold, classes=labels)
    say(f"  end model (on ours, {int(t_cov.sum()):,} covered train rows, thresholds on dev gold): micro-F1 "
        f"{end_scores['micro_f1']:.3f} macro-F1 {end_scores['macro_f1']:.3f} on all {split} rows; trained in {seconds:.1f}s")  # fmt: skip
    say("  per label (ours on covered rows: P / R / F1):")
    pred = ours.predict(v_scored)
    m = MULTILABEL.metrics(pred[covered], gold[covered], classes=labels)
    for c in labels:
        say(f"    {c:15s} {m[f'precision_{c}'] or 0:.2f} / {m[f'recall_{c}'] or 0:.2f} / {m[f'f1_{c}'] or 0:.2f}")
    return {**scores, "end model": end_scores["micro_f1"], "end seconds": seconds}


def main() -> None:
    split = sys.argv[1] if len(sys.argv) > 1 else "dev"
    if split not in ("dev", "test"):
        raise SystemExit("usage: python benchmarks/multilabel.py [dev|test]")
    lines: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    with open("/proc/loadavg") as f:
        say(f"machine load (1/5/15 min) at start: {' '.join(f.read().split()[:3])} on {__import__('os').cpu_count()} cores")
    six = setting("6 labels (the tutorial's subset)", TUTORIAL_LABELS, split, say)
    all28 = setting("28 labels", (DATA / "labels.txt").read_text().split(), split, say)
    say("")
    say(f"== Table: micro-F1 on covered {split} rows (label models) and on all {split} rows (end model) ==")
    say(f"{'':28s}{'ours':>8s}{'per-label MV':>14s}{'per-label Snorkel':>19s}{'end model':>11s}")
    for name, s in (("6 labels", six), ("28 labels", all28)):
        say(f"{name:28s}{s['ours']:8.3f}{s['per-label MV']:14.3f}{s['per-label Snorkel']:19.3f}{s['end model']:11.3f}")
    with open("/proc/loadavg") as f:
        say(f"machine load at end: {' '.join(f.read().split()[:3])}")
    if split == "test":  # keeps the sections other benchmarks append (## ..., multilabel_prompted.py's)
        old = RESULTS.read_text() if RESULTS.exists() else ""
        RESULTS.write_text("\n".join(lines) + "\n" + (old[old.index("\n## "):] if "\n## " in old else ""))


if __name__ == "__main__":
    main()
