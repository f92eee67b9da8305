"""A pipeline's ``[answers]``: recorded answers (crowd workers, annotators) as its votes, with no LF code.

The answers file (CSV with a header row, or Parquet; one row per item, worker and answer) is
read into one :class:`~weaksup.crowd.AnswerLF` per worker, in order of each worker's first row.
Categorical answers name ``labels.classes`` (``answers.classes_by``: by name, by class id, or
``auto``: names when every answer is one, else ids); regression answers are numbers.  Every
answer is checked before any work starts: one outside the label space is an error naming the
file, line, item, worker and value.

The examples are ``[data]``'s rows when ``data.source`` is given (answers join them by
``example_id``, so ``data.id_column`` names the items' ids); otherwise they are the answers'
items, in order of first appearance, then items only ``answers.truth`` names (they get no votes,
as in :func:`weaksup.crowd.files.load_crowd`), with the item id as their one input column, ``item``.  ``answers.truth`` gives gold labels (item, truth).

>>> import tempfile, pathlib
>>> from weaksup.pipeline.settings import AnswersSettings, LabelsSettings
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "answer.csv").write_text("question,worker,answer\\nq1,ann,yes\\nq1,bob,no\\nq2,ann,no\\n")
>>> section = AnswersSettings("answer.csv", None, None, None, None, "auto", "first")
>>> got = load_answers(section, LabelsSettings("categorical", ["no", "yes"]), d)
>>> [(lf.name, lf.answers.rows()) for lf in got.lfs], got.items
([('ann', [('q1', 1), ('q2', 0)]), ('bob', [('q1', 0)])], ['q1', 'q2'])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from weaksup.crowd import AnswerLF, answer_lfs
from weaksup.crowd.files import CrowdColumnError, crowd_row, read_crowd_columns
from weaksup.data import ID
from weaksup.label_types import PIPELINE_TYPES
from weaksup.pipeline.settings import AnswersSettings, LabelsSettings
from weaksup.pipeline.sources import Examples, SourceError
from weaksup.pipeline.tasks.base import DEFAULT_GOLD

__all__ = ["Answers", "load_answers"]


@dataclass(frozen=True)
class Answers:
    """The answers file read and checked: one LF per worker, the items they answered (then
    items only the truth names), the truth per item (``item``, ``gold``), and counts."""

    source: str
    lfs: list[AnswerLF]
    answered: list[str]
    truth_only: list[str]
    truth: pl.DataFrame | None
    n_answers: int
    repeats: int

    @property
    def items(self) -> list[str]:
        """The answered items in order of first appearance, then the items only the truth names."""
        return self.answered + self.truth_only

    def examples(self) -> Examples:
        """The items as the examples (no data source): ``example_id``, ``item`` (the same id: the one input
        column, which the store keeps as the example's content) and, with a truth file, the gold."""
        frame = pl.DataFrame({ID: self.items, "item": self.items}, schema={ID: pl.String, "item": pl.String})
        return Examples(self._with_truth(frame), 0, 0)

    def join(self, loaded: Examples) -> Examples:
        """``[data]``'s examples with the truth added; an error when no answered item is an example id."""
        frame = loaded.frame
        answered = pl.Series(self.answered, dtype=pl.String)
        if not answered.is_in(frame[ID].implode()).any():
            raise SourceError(
                f"none of the {len(answered):,} items in answers.source = {self.source!r} is an example id of "
                f"data.source (items e.g. {answered.head(3).to_list()}, example ids e.g. {frame[ID].head(3).to_list()}); "
                "set data.id_column to the data column holding the items' ids"
            )
        if self.truth is not None and DEFAULT_GOLD in frame.columns:
            raise SourceError(
                f"answers.truth gives gold labels, and the data has a {DEFAULT_GOLD!r} column, which is read as gold "
                f"too; drop answers.truth, or rename the column with data.rename"
            )
        return Examples(self._with_truth(frame), loaded.duplicates_dropped, loaded.held_out)

    def describe(self, frame: pl.DataFrame) -> str:
        """One line for the run's console: how many answers, workers and items, and what was left out."""
        answered = pl.Series(self.answered, dtype=pl.String)
        strays = int((~answered.is_in(frame[ID].implode())).sum())
        notes = [f"{self.repeats:,} repeated answers dropped (answers.repeats)"] if self.repeats else []
        notes += [f"{strays:,} answered items are not examples, so their answers are not used"] if strays else []
        return (f"answers: {self.n_answers:,} from {len(self.lfs):,} workers on {len(answered):,} items "
                f"({self.source})" + (f"; {', '.join(notes)}" if notes else ""))  # fmt: skip

    def _with_truth(self, frame: pl.DataFrame) -> pl.DataFrame:
        if self.truth is None:
            return frame
        gold = self.truth.rename({"item": ID, "gold": DEFAULT_GOLD})
        return frame.join(gold, on=ID, how="left", maintain_order="left")


def load_answers(section: AnswersSettings, labels: LabelsSettings, base: Path) -> Answers:
    """Read ``[answers]`` (paths relative to ``base``) into checked answer LFs of ``labels.type``."""
    path = base / section.source
    names = (section.item_column, section.worker_column, section.answer_column)
    try:
        rows = read_crowd_columns(path, ("item", "worker", "answer"), names)
    except (FileNotFoundError, ValueError) as exc:
        hint = "" if all(names) or not isinstance(exc, CrowdColumnError) else (
            " (answers.item_column, worker_column and answer_column name the columns; unset: the first three)")
        raise SourceError(f"answers.source = {section.source!r}: {exc}{hint}") from None
    if rows.height == 0:
        raise SourceError(f"answers.source = {section.source!r} has a header row and no answers; add rows of "
                          "item, worker and answer")  # fmt: skip
    rows = rows.with_row_index("row")
    again = rows.filter(~pl.struct("item", "worker").is_first_distinct())
    if again.height and section.repeats == "error":
        first = again.row(0, named=True)
        raise SourceError(
            f"answers.source = {section.source!r} {crowd_row(path, first['row'])}: worker {first['worker']!r} answers "
            f"item {first['item']!r} again; set answers.repeats = 'first' or 'last' to keep one answer"
        )
    kept = rows.unique(["item", "worker"], keep="last" if section.repeats == "last" else "first", maintain_order=True)
    votes, by = _votes(kept, labels, section, path)
    answered = kept["item"].unique(maintain_order=True).to_list()
    truth = None if section.truth is None else _truth(section, labels, by, base)
    known = set(answered)
    truth_only = [] if truth is None else [i for i in truth["item"].to_list() if i not in known]
    lfs = answer_lfs(kept.select("item", "worker", votes.alias("vote")), labels.type)
    return Answers(section.source, lfs, answered, truth_only, truth, kept.height, rows.height - kept.height)


def _votes(rows: pl.DataFrame, labels: LabelsSettings, section: AnswersSettings, path: Path) -> tuple[pl.Series, str]:
    """Each row's answer in the label space (:meth:`~weaksup.label_types.LabelType.answer_values`), and how
    answers named classes; an error at the first that is not."""
    answers = rows["answer"]
    votes, by, expected = PIPELINE_TYPES[labels.type].answer_values(answers, labels.classes, section.classes_by)
    if votes.is_null().any():
        i = int(votes.is_null().arg_max())
        if section.classes_by == "auto" and answers[i] in labels.classes:  # names among ids: say both
            other = rows.row(int((~answers.is_in(labels.classes)).arg_max()), named=True)
            raise SourceError(
                f"answers.source = {section.source!r} names classes both by name ({answers[i]!r}, "
                f"{crowd_row(path, rows['row'][i])}) and by class id ({other['answer']!r}, {crowd_row(path, other['row'])}); "
                f"write every answer one way: a name of labels.classes {labels.classes} or a class id "
                f"0..{len(labels.classes) - 1} (answers.classes_by says which)"
            )
        _refuse(rows, i, section, path, expected)
    return votes, by


def _refuse(rows: pl.DataFrame, i: int, section: AnswersSettings, path: Path, expected: str) -> None:
    row = rows.row(i, named=True)
    raise SourceError(
        f"answers.source = {section.source!r} {crowd_row(path, row['row'])} (item {row['item']!r}, worker "
        f"{row['worker']!r}): answer {row['answer']!r} is not {expected}"
    )


def _truth(section: AnswersSettings, labels: LabelsSettings, by: str, base: Path) -> pl.DataFrame:
    """``answers.truth`` as ``item`` and ``gold`` (a class id, or a number), one row per item."""
    assert section.truth is not None
    path = base / section.truth
    try:
        truth = read_crowd_columns(path, ("item", "truth"))
    except (FileNotFoundError, ValueError) as exc:
        raise SourceError(f"answers.truth = {section.truth!r}: {exc}") from None
    conflict = truth.group_by("item", maintain_order=True).agg(pl.col("truth").n_unique()).filter(pl.col("truth") > 1)
    if conflict.height:
        raise SourceError(f"answers.truth = {section.truth!r}: item {conflict['item'][0]!r} has "
                          f"{conflict['truth'][0]} different truths; give one truth per item")  # fmt: skip
    gold, _, expected = PIPELINE_TYPES[labels.type].answer_values(truth["truth"], labels.classes, by, truth=True)
    bad = gold.is_null()
    if bad.any():
        i = int(bad.arg_max())
        raise SourceError(
            f"answers.truth = {section.truth!r} {crowd_row(path, i)} (item {truth['item'][i]!r}): truth "
            f"{truth['truth'][i]!r} is not {expected}, as the answers are"
        )
    return pl.DataFrame({"item": truth["item"], "gold": gold}).unique("item", keep="first", maintain_order=True)
