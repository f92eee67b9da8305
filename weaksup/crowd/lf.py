"""An LF of kind ``"answers"``: one worker's recorded answers, voted back on the items they name.

An :class:`AnswerLF` holds a worker's answers as (item, vote) pairs, the votes already in the
label space (class ids, or numbers for regression).  Its version is a hash of those pairs in item
order, so a changed answers file re-applies exactly the workers whose answers changed, and the
order of the file's rows does not matter.

>>> import polars as pl
>>> rows = pl.DataFrame({"item": ["q1", "q1", "q2"], "worker": ["ann", "bob", "ann"], "vote": [1, 0, 0]})
>>> ann, bob = answer_lfs(rows)
>>> ann.name, ann.kind, ann.answers.rows(), len(ann.version)
('ann', 'answers', [('q1', 1), ('q2', 0)], 12)
>>> ann.version == answer_lfs(rows.reverse())[0].version  # row order is not an answer
True
"""

from __future__ import annotations

import polars as pl

from weaksup.label_types import LABEL_TYPES
from weaksup.lf import source_hash

__all__ = ["ANSWER_LABEL_TYPES", "AnswerLF", "answer_lfs"]

ANSWER_LABEL_TYPES = tuple(name for name, t in LABEL_TYPES.items() if t.answer_dtype is not None)
"""The label types answers can be: one value per item and worker (class ids, or numbers; a ranking is not)."""


class AnswerLF:
    """One worker's answers as an LF: ``answers`` is a frame of ``item`` (the example id) and
    ``vote`` (in the label space: its type's ``answer_dtype``, e.g. an Int32 class id), one row per item."""

    kind = "answers"

    def __init__(self, name: str, answers: pl.DataFrame, label_type: str = "categorical") -> None:
        if label_type not in ANSWER_LABEL_TYPES:
            raise ValueError(
                f"answers LF {name!r}: label_type {label_type!r} is not supported; recorded answers are class ids "
                f"or numbers ({', '.join(ANSWER_LABEL_TYPES)})"
            )
        twice = answers.filter(pl.col("item").is_duplicated())["item"]
        if len(twice):
            raise ValueError(f"answers LF {name!r} answers item {twice[0]!r} more than once; keep one answer per item")
        dtype = LABEL_TYPES[label_type].answer_dtype
        self.name = name
        self.label_type = label_type
        self.answers = answers.select(pl.col("item").cast(pl.String), pl.col("vote").cast(dtype))
        ordered = self.answers.sort("item")
        items, votes = "\x1f".join(ordered["item"].to_list()), ",".join(map(repr, ordered["vote"].to_list()))
        self.version = source_hash("answers", label_type, items, votes)

    def __repr__(self) -> str:
        return f"AnswerLF({self.name!r}, {self.answers.height} answers, version={self.version!r})"


def answer_lfs(rows: pl.DataFrame, label_type: str = "categorical") -> list[AnswerLF]:
    """One :class:`AnswerLF` per worker of ``rows`` (columns ``item``, ``worker``, ``vote``; one
    row per item and worker), in order of each worker's first row."""
    workers = rows["worker"].unique(maintain_order=True).to_list()
    groups = rows.partition_by("worker", as_dict=True, maintain_order=True)
    return [AnswerLF(str(w), groups[(w,)].select("item", "vote"), label_type) for w in workers]
