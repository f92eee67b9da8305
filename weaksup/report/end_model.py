"""The report's end-model section: per split with gold, each class's precision, recall and F1 and
the confusion matrix, as the run recorded them in its ``manifest.json`` (``end_model.scores``).

>>> scores = {"test": {"accuracy": 0.9, "macro_f1": 0.8, "log_loss": 0.3, "confusion": [[5, 1], [0, 4]],
...                    "per_class": {"HAM": {"precision": 1.0, "recall": 0.83, "f1": 0.91},
...                                  "SPAM": {"precision": 0.8, "recall": 1.0, "f1": 0.89}}}}
>>> end_model_tables(scores)["test"].columns
['class', 'precision', 'recall', 'F1', 'predicted HAM', 'predicted SPAM']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

MAX_MANIFEST_BYTES = 16 * 2**20
"""A manifest larger than this is not read (the section is left out)."""


def recorded_scores(run_dir: Path | None) -> dict[str, Any]:
    """``end_model.scores`` of the run folder's ``manifest.json``; empty when there is none."""
    path = Path(run_dir) / "manifest.json" if run_dir else None
    if path is None or not path.is_file() or path.stat().st_size > MAX_MANIFEST_BYTES:
        return {}
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    scores = (manifest.get("end_model") or {}).get("scores") if isinstance(manifest, dict) else None
    return scores if isinstance(scores, dict) else {}


def end_model_tables(scores: dict[str, Any]) -> dict[str, pl.DataFrame]:
    """One table per split: a row per class (gold), its precision, recall and F1, then the confusion
    matrix's counts by predicted class."""
    tables = {}
    for split, s in scores.items():
        per_class, matrix = s.get("per_class") or {}, s.get("confusion") or []
        classes = list(per_class)
        if not classes or len(matrix) != len(classes):
            continue
        rows = {"class": classes, **{name: [round(float(per_class[c][key]), 3) for c in classes]
                                     for name, key in (("precision", "precision"), ("recall", "recall"), ("F1", "f1"))}}  # fmt: skip
        rows.update({f"predicted {c}": [int(row[j]) for row in matrix] for j, c in enumerate(classes)})
        tables[split] = pl.DataFrame(rows)
    return tables
