"""Do the shared sms folder's valid and test votes belong to their messages?

WRENCH's sms LFs are keyword rules (Awasthi et al., 2020), and their votes on train follow the
messages: 97% of them are right.  On valid and test, the shipped votes are right only 74% and
80% of the time, and spam votes far less often.  This script checks why, from train alone:

1. For each LF, take the words common to every train message it votes on.  Where "vote on the
   messages that hold all of these words" reproduces the LF's train votes exactly, that word
   set is the LF's rule (most LFs; the rest need word order or phrases).
2. Apply those rules to the valid and test messages and compare with the shipped votes.
3. Fit each label model on train (where shipped and rebuilt votes are the same) and score it on
   test twice: with the shipped votes and with the rebuilt ones, for the same LFs.

Run from the repository root::

    .venv/bin/python benchmarks/sms_votes.py

It prints the report and writes it to ``benchmarks/results/sms_votes.txt`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _wrench import SHARED, score  # noqa: E402
from label_models import ROWS, TIE_SEEDS  # noqa: E402

from weaksup.model import make_label_model  # noqa: E402

FOLDER = "sms"
SPLITS = ("train", "valid", "test")


def words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9']+", text.lower()))


def load(split: str) -> tuple[list[frozenset[str]], np.ndarray, np.ndarray]:
    """(each message's words, shipped votes (n, m), gold labels) of one split."""
    rows = json.loads((SHARED / FOLDER / f"{split}.json").read_text()).values()
    texts = [words(r["data"]["text"]) for r in rows]
    L = np.array([r["weak_labels"] for r in rows], dtype=np.int64)
    return texts, L, np.array([r["label"] for r in rows], dtype=np.int64)


def induce_rules(texts: list[frozenset[str]], L: np.ndarray) -> dict[int, tuple[frozenset[str], int]]:
    """LF column -> (word set, class) for each LF whose train votes a word set reproduces exactly."""
    rules = {}
    for a in range(L.shape[1]):
        fires = np.flatnonzero(L[:, a] >= 0)
        if len(fires) == 0 or len(set(L[fires, a].tolist())) > 1:
            continue
        common = frozenset.intersection(*(texts[i] for i in fires))
        matches = [i for i, t in enumerate(texts) if common and common <= t]
        if matches == fires.tolist():
            rules[a] = (common, int(L[fires[0], a]))
    return rules


def apply_rules(texts: list[frozenset[str]], rules: dict[int, tuple[frozenset[str], int]]) -> np.ndarray:
    """Votes of the rules on these messages, one column per rule, -1 = abstain."""
    R = np.full((len(texts), len(rules)), -1, dtype=np.int64)
    for j, (common, label) in enumerate(rules.values()):
        R[[common <= t for t in texts], j] = label
    return R


def precision(L: np.ndarray, y: np.ndarray) -> str:
    voted = L >= 0
    right = L == y[:, None]
    return f"{right[voted].mean():.3f}" if voted.any() else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "sms_votes.txt")
    args = parser.parse_args()
    data = {split: load(split) for split in SPLITS}
    rules = induce_rules(data["train"][0], data["train"][1])
    cols = list(rules)
    m = data["train"][1].shape[1]
    lines = [
        "# benchmarks/sms_votes.py",
        "",
        f"{len(rules)} of the {m} sms LFs are word-set rules that reproduce their train votes exactly.",
        "For those LFs, per split: how often the shipped and rebuilt votes agree (where either votes),",
        "and the share of each that is right (against gold).",
        "",
        (
            f"{'split':6} {'shipped':>8} {'rebuilt':>8} {'agree':>6} {'shipped right':>14} {'rebuilt right':>14}"
            f" {'spam votes right (shipped)':>27}"
        ),
    ]
    rebuilt = {}
    for split in SPLITS:
        texts, L, y = data[split]
        shipped, rebuilt[split] = L[:, cols], apply_rules(texts, rules)
        either = (shipped >= 0) | (rebuilt[split] >= 0)
        spam = np.where(shipped == 1, shipped, -1)
        lines.append(
            f"{split:6} {int((shipped >= 0).sum()):8} {int((rebuilt[split] >= 0).sum()):8} "
            f"{(shipped == rebuilt[split])[either].mean():6.3f} {precision(shipped, y):>14} "
            f"{precision(rebuilt[split], y):>14} {precision(spam, y):>27}"
        )
    lines += [
        "",
        (
            f"Label models on those {len(rules)} LFs: fit on train, F1 of class 1 on test, mean over "
            f"{len(TIE_SEEDS)} tie-break seeds."
        ),
        "",
        f"{'model':15} {'shipped test votes':>19} {'rebuilt test votes':>19}",
    ]
    L_fit = data["train"][1][:, cols]
    y_test = data["test"][2]
    for row, (name, params) in ROWS.items():
        model = make_label_model(name, cardinality=2, seed=0, **params).fit(L_fit)
        cells = []
        for L_test in (data["test"][1][:, cols], rebuilt["test"]):
            cells.append(np.mean([score(FOLDER, y_test, model.set_params(seed=s).predict(L_test)) for s in TIE_SEEDS]))
        lines.append(f"{row:15} {cells[0]:19.3f} {cells[1]:19.3f}")
    report = "\n".join(lines) + "\n"
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)


if __name__ == "__main__":
    main()
