"""Coverage, width and bias of `weaksup estimate`'s class shares (issue 23), with either predictor.

    python benchmarks/estimate_coverage.py [--draws 1000] [--sets youtube,sms,imdb,trec]

On each set's train split (imdb: valid and test, it has no train; the WRENCH votes, ../shared/data), the default label model
(``label_model``) is fitted on the votes alone and gives every example soft labels.  Two predictors
then feed the intervals, as ``weaksup estimate --predictions`` does:

- ``label_model``: those soft labels;
- ``end_model`` (the default of ``weaksup estimate`` when the run has one): the default end model
  (:class:`weaksup.end_models.SoftTextClassifier`, TF-IDF + logistic regression, ``trainer.name =
  "tfidf_logreg"``) fitted as a pipeline fits it, on the covered rows' texts and soft labels, and its
  class probabilities on every row, in-sample.  In-sample, not cross-fitted: it is what
  ``weaksup estimate`` uses (the run's saved end model on the examples the run labelled), so the
  figures are those of the shipped command; and the intervals stay valid without cross-fitting,
  since the end model is fitted on weak labels only, never on gold and without knowing which rows
  are gold: given the model, the gold rows are still a uniform draw from the examples.  This was
  decided before any width of the four sets was looked at, and so was the default.

The true share of each class is the split's gold average.  Then, ``draws`` times for each n in 50,
100 and 200, n examples are drawn at random as the gold rows (the same draws for both predictors),
and :func:`weaksup.estimate.prevalence` gives the plug-in, the classical (gold only: Agresti-Coull)
and the PPI++ 90% interval (with the same pseudo rows, :func:`weaksup.estimate.share_estimate`) of
each class's share.
Printed per set, n and predictor: how often the PPI interval covers the true share (mean over
classes, and the worst class), its median width beside the classical one's and their ratio, how
often the classical interval covers, and the plug-in's bias (mean over classes of |plug-in -
truth|: it does not depend on the draw), and the predictor's accuracy on all rows.  Nothing here
is tuned on these sets: the small-sample interval was chosen on synthetic data
(benchmarks/estimate_simulation.py), PPI++'s weight is chosen from the gold rows of each draw, and
the end model runs with the pipeline's defaults.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import json

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _wrench import SHARED, cardinality  # noqa: E402

from weaksup.end_models import SoftTextClassifier  # noqa: E402
from weaksup.estimate import prevalence  # noqa: E402
from weaksup.model import make_label_model  # noqa: E402
from weaksup.votes import SparseVotes  # noqa: E402

SIZES = (50, 100, 200)
ALPHA = 0.1


PREDICTORS = ("label_model", "end_model")


def predictors(folder: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each predictor's (n, k) class probabilities on the train split (imdb has none: its valid and
    test splits together), and the gold: the default label model fitted on the votes alone, and the
    default end model fitted on the covered rows' texts and soft labels, predicting in-sample."""
    names = ["train"] if (SHARED / folder / "train.json").exists() else ["valid", "test"]
    rows = [r for name in names for r in json.loads((SHARED / folder / f"{name}.json").read_text()).values()]
    L = np.array([r["weak_labels"] for r in rows], dtype=np.int64)
    y = np.array([r["label"] for r in rows], dtype=np.int64)
    texts = [r["data"]["text"] for r in rows]
    votes = SparseVotes.from_dense(L)
    probs = make_label_model("label_model", cardinality=cardinality(folder), seed=0).fit(votes).predict_proba(votes)
    covered = np.flatnonzero((L >= 0).any(axis=1))
    end = SoftTextClassifier(seed=0).fit([texts[i] for i in covered], probs[covered])
    return {"label_model": probs, "end_model": end.predict_proba(texts)}, y


def run_set(folder: str, draws: int, seed: int) -> list[dict[str, float]]:
    by_name, y = predictors(folder)
    rows = []
    for name in PREDICTORS:
        rows += run_predictor(folder, name, by_name[name], y, draws, seed)
    return rows


def run_predictor(folder: str, predictor: str, probs: np.ndarray, y: np.ndarray, draws: int,
                  seed: int) -> list[dict[str, float]]:  # fmt: skip
    k = probs.shape[1]
    truth = np.array([(y == j).mean() for j in range(k)])
    accuracy = float((probs.argmax(axis=1) == y).mean())
    rng = np.random.default_rng(seed)
    rows = []
    for n in SIZES:
        cover = np.zeros((draws, k), dtype=bool)
        cover_classical = np.zeros((draws, k), dtype=bool)
        width = np.zeros((draws, k))
        width_classical = np.zeros((draws, k))
        plug_in = np.zeros(k)
        for d in range(draws):
            gold = np.full(len(y), -1)
            picked = rng.choice(len(y), n, replace=False)
            gold[picked] = y[picked]
            table = prevalence(probs, gold, [str(j) for j in range(k)], ALPHA)
            low, high = table["ppi_low"].to_numpy(), table["ppi_high"].to_numpy()
            c_low, c_high = table["classical_low"].to_numpy(), table["classical_high"].to_numpy()
            cover[d] = (low <= truth) & (truth <= high)
            cover_classical[d] = (c_low <= truth) & (truth <= c_high)
            width[d], width_classical[d] = high - low, c_high - c_low
            plug_in = table["plug_in"].to_numpy()
        ppi_w, cls_w = float(np.median(width)), float(np.median(width_classical))
        rows.append({"set": folder, "N": len(y), "k": k, "n": n, "predictor": predictor, "accuracy": accuracy,
                     "coverage": float(cover.mean()),
                     "worst_class": float(cover.mean(axis=0).min()), "classical_coverage": float(cover_classical.mean()),
                     "ppi_width": ppi_w, "classical_width": cls_w, "ratio": ppi_w / cls_w,
                     "plug_in_bias": float(np.abs(plug_in - truth).mean())})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--sets", default="youtube,sms,imdb,trec")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start, load = time.perf_counter(), os.getloadavg()[0]
    print(f"`weaksup estimate` on each train split (imdb: valid + test): {args.draws} draws of n gold rows, {1 - ALPHA:.0%} intervals")
    print("| set (N, k) | n | predictor (accuracy) | PPI coverage (worst class) | classical (Agresti-Coull) coverage "
          "| median width PPI / classical (ratio) | plug-in bias |")
    print("|---|---|---|---|---|---|---|")
    for folder in args.sets.split(","):
        for r in run_set(folder, args.draws, args.seed):
            print(f"| {r['set']} ({r['N']:,}, {r['k']}) | {r['n']} | {r['predictor']} ({r['accuracy']:.3f}) | "
                  f"{r['coverage']:.3f} ({r['worst_class']:.3f}) | "
                  f"{r['classical_coverage']:.3f} | {r['ppi_width']:.3f} / {r['classical_width']:.3f} "
                  f"({r['ratio']:.3f}) | {r['plug_in_bias']:.3f} |", flush=True)  # fmt: skip
    print(f"({time.perf_counter() - start:.0f} s; load average {load:.2f} at the start, {os.getloadavg()[0]:.2f} at "
          "the end, on 2 shared cores)")


if __name__ == "__main__":
    main()
