"""The label-type contract: what weaksup does differently by label type, held by one object per type.

A :class:`LabelType` is what ``labels.type`` (and an LF's ``label_type``) names.  It holds:

- **the vote format**: :attr:`~LabelType.vote_column` (the store's ``votes`` column), the checks
  of one LF return value (:meth:`~LabelType.check_vote`) and of a vectorized LF's column
  (:meth:`~LabelType.check_column`), :attr:`~LabelType.votes_class` and
  :meth:`~LabelType.read_votes` (the votes of some LF versions on some examples, read from the
  store in the form the label models take); :attr:`~LabelType.vectorized` and
  :attr:`~LabelType.answer_dtype` say whether polars columns and recorded answers can hold them;
- **the labels**: :attr:`~LabelType.label_columns` (the store's ``labels`` columns it fills),
  :meth:`~LabelType.label_rows` (written) and :meth:`~LabelType.training_frame` (read back into
  the exported training set), and the gold: :meth:`~LabelType.gold_column` (written to
  ``gold.parquet``), :meth:`~LabelType.read_gold`, :meth:`~LabelType.gold_mask`;
- **the metrics**: :meth:`~LabelType.metrics` of predictions against gold;
- **the end model**: :attr:`~LabelType.end_models` (``trainer.name`` values), its class
  (:attr:`~LabelType.end_model`), and :meth:`~LabelType.predict` (``weaksup predict``);
- **its pipeline task and report type**, as :class:`Part` references: they sit above the layers
  that ask a type for its vote checks (the applier, the store), so the type names them, as a
  package names its entry points, and they are imported when first asked for;
- **what a pipeline of the type accepts**: :attr:`~LabelType.classes`, :attr:`~LabelType.holdout`,
  :attr:`~LabelType.label_models`, :attr:`~LabelType.streams`, its own :attr:`~LabelType.section`.

Every registry keyed by label type is built from the objects of
:data:`weaksup.label_types.LABEL_TYPES`; nothing outside a type's own modules tests its name
(``tests/test_structure.py``), and ``tests/test_label_types.py`` runs every type through one contract.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

import numpy as np
import polars as pl

from weaksup.votes import ABSTAIN

if TYPE_CHECKING:
    import pyarrow as pa

    from weaksup.store.votes import LFVersions

__all__ = ["LabelType", "Part", "VoteError", "VoteReader"]

T = TypeVar("T")


class VoteError(ValueError):
    """A vote that does not fit its label type: ``problem`` (what it was), ``expected`` (what an LF
    of the type returns) and, for a column, the first bad ``row``.  The kind that applied the LF
    turns it into an error naming the LF and the example."""

    def __init__(self, problem: str, expected: str, row: int | None = None) -> None:
        super().__init__(f"{problem}; {expected}")
        self.problem = problem
        self.expected = expected
        self.row = row


@dataclass(frozen=True)
class Part(Generic[T]):
    """A part of a label type that lives above the code asking the type for its checks, named as
    ``"module:attribute"`` and imported when first loaded (as a package names an entry point)."""

    path: str

    def load(self) -> T:
        """The named object, importing its module."""
        module, _, name = self.path.partition(":")
        return getattr(importlib.import_module(module), name)


class VoteReader(Protocol):
    """What a label type reads votes through: the store's vote table (:class:`weaksup.store.votes.VoteTable`)."""

    def coordinates(self, ex_keys: np.ndarray, lfs: LFVersions, column: str = "label") -> pa.Table:
        """The non-null ``column`` votes of ``lfs`` on ``ex_keys`` as ``(row, col, vote)``, by row then col."""
        ...

    def label_matrix(self, ex_keys: np.ndarray, lfs: LFVersions) -> Any:
        """The ``label`` votes as sparse coordinates (:class:`~weaksup.votes.SparseVotes`)."""
        ...

    def check_label_type(self, lfs: LFVersions, wanted: str) -> None:
        """Raise unless every LF version is in the store with label type ``wanted``."""
        ...


class LabelType:
    """One label type (see the module docstring).  Types are stateless singletons; a part a type
    does not have (a Python-only type has no task) is ``None``, and its methods raise
    ``NotImplementedError``."""

    name: ClassVar[str]
    """What ``labels.type`` and an LF's ``label_type`` say."""
    doc: ClassVar[str]
    """What one label is, for help texts (``a class per example``)."""
    vote_column: ClassVar[str]
    """The store's ``votes`` column this type's votes go to."""
    abstain: ClassVar[Any] = None
    """What an LF returns to abstain."""
    votes_class: ClassVar[type]
    """The in-memory form of its votes (:mod:`weaksup.votes`), which :meth:`read_votes` returns."""
    vectorized: ClassVar[bool] = True
    """Whether a vectorized LF can vote it (a polars column can hold its votes)."""
    answer_dtype: ClassVar[pl.DataType | None] = None
    """The dtype of a recorded answer in the label space (:mod:`weaksup.crowd`); ``None``: the type
    takes no recorded answers."""
    label_columns: ClassVar[tuple[str, ...]] = ()
    """The store's ``labels`` columns its label rows fill (beside ``ex_key`` and ``n_votes``)."""
    end_models: ClassVar[tuple[str, ...]] = ()
    """``trainer.name`` values of its end model, the default first and ``none`` last; empty for a
    type pipelines cannot run."""
    end_model: ClassVar[str | None] = None
    """Its end model's class (a name :mod:`weaksup.end_models` serves), as its model files name it."""
    end_model_file: ClassVar[str | None] = None
    """The file a run saves its end model to."""
    other_model_files: ClassVar[tuple[str, ...]] = ()
    """Other files a run may save its end model to (an estimator that is not plain data, through skops)."""
    other_end_models: ClassVar[tuple[str, ...]] = ()
    """Other end-model classes its model files may name."""
    estimators: ClassVar[bool] = False
    """Whether ``trainer.name`` may also name a scikit-learn estimator (an import path or an entry
    point of ``weaksup.end_models``), and ``run_pipeline(end_model=...)`` pass one."""
    predicted_columns: ClassVar[tuple[str, ...]] = ()
    """The columns ``weaksup predict`` shows of its predictions."""
    task: ClassVar[Part[Any] | None] = None
    """Its pipeline task (:mod:`weaksup.pipeline.tasks`); ``None``: pipelines cannot run it."""
    report_type: ClassVar[Part[Any] | None] = None
    """Its LF report's type (:mod:`weaksup.report.types`)."""
    classes: ClassVar[bool] = False
    """Whether a pipeline names its labels in ``labels.classes``."""
    holdout: ClassVar[bool] = False
    """Whether a pipeline may evaluate on ``[holdout]`` (an external labeled text set)."""
    label_models: ClassVar[bool] = False
    """Whether a pipeline chooses among the label models of ``label_model.name``."""
    streams: ClassVar[bool] = False
    """Whether a pipeline may read its source batch by batch (``data.stream``)."""
    section: ClassVar[str | None] = None
    """Its own pipeline section, if any (``[ranking]``)."""

    # -- votes -------------------------------------------------------------------------

    def check_vote(self, value: Any, cardinality: int, classes: Sequence[str] = ()) -> Any:
        """One LF return value as the vote to store (``None`` = abstain); :class:`VoteError` if it
        is not one of this type's.  ``classes``: the label names (``labels.classes``), for a type
        whose LFs may vote names; empty when the caller has none."""
        raise NotImplementedError

    def check_column(self, column: pl.Series, cardinality: int, classes: Sequence[str] = ()) -> tuple[np.ndarray, list[Any] | None]:
        """A vectorized LF's output column (one value per row) as checked votes: ``(labels,
        values)`` as :meth:`as_output` gives them; :class:`VoteError` (with the first bad ``row``)
        if it holds a value that is not one of this type's votes (``classes``: as for :meth:`check_vote`)."""
        raise NotImplementedError(f"label type {self.name!r}: vectorized LFs cannot vote it")

    def as_output(self, votes: list[Any]) -> tuple[np.ndarray, list[Any] | None]:
        """Checked votes (``None`` = abstain), one per row, as an LF output's ``(labels, values)``:
        types other than class ids keep them in ``values`` and leave every label ``-1``."""
        return np.full(len(votes), ABSTAIN, np.int32), votes

    def answer_values(self, answers: pl.Series, classes: Sequence[str], by: str,
                      truth: bool = False) -> tuple[pl.Series, str, str]:  # fmt: skip
        """Recorded answers (``truth``: gold labels beside them) in the label space, as
        :attr:`answer_dtype` with null where one is not a label; how they name labels (``by``,
        ``answers.classes_by``, resolved); and what an answer must be, for the error at a null."""
        raise NotImplementedError(f"label type {self.name!r} takes no recorded answers")

    def read_votes(self, votes: VoteReader, ex_keys: np.ndarray, lfs: LFVersions, **context: Any) -> Any:
        """The votes of LF versions ``lfs`` (``(name, version)`` pairs) on the examples ``ex_keys``, as
        :attr:`votes_class`; row ``i`` is ``ex_keys[i]``, column ``j`` is ``lfs[j]``."""
        raise NotImplementedError

    # -- labels and gold ---------------------------------------------------------------

    def label_rows(self, ex_keys: np.ndarray, predicted: Any, n_votes: np.ndarray) -> pl.DataFrame:
        """The store's label rows (``ex_key``, :attr:`label_columns`, ``n_votes``) of a label model's
        predictions (in the form the type's task has them)."""
        raise NotImplementedError(f"label type {self.name!r} keeps no labels in the store")

    def training_frame(self, inputs: pl.DataFrame, rows: pl.DataFrame, classes: Sequence[str]) -> pl.DataFrame:
        """The exported training set of label rows read back from the store (``rows``: the
        :attr:`label_columns` and ``n_votes``), after ``inputs`` (``example_id`` and the input columns)."""
        raise NotImplementedError(f"label type {self.name!r} exports no training set")

    def gold_column(self, gold: Any) -> pl.Series:
        """The gold a run used (aligned with its examples) as the ``gold`` column of ``gold.parquet``
        (null where unknown)."""
        raise NotImplementedError(f"label type {self.name!r} saves no gold")

    def read_gold(self, column: pl.Series, classes: Sequence[str] = ()) -> Any:
        """The gold of a ``gold`` column (null where unknown) in the form the type's task and report
        use; ``classes``, when given, may let it pick a smaller form."""
        raise NotImplementedError(f"label type {self.name!r} reads no gold")

    def gold_mask(self, gold: Any) -> np.ndarray:
        """Which examples have gold."""
        raise NotImplementedError(f"label type {self.name!r} reads no gold")

    def metrics(self, predicted: Any, gold: Any, **options: Any) -> dict[str, float | None]:
        """Scores of ``predicted`` labels against ``gold`` (aligned, where gold is known), by name."""
        raise NotImplementedError

    # -- end model ---------------------------------------------------------------------

    def load_end_model(self, path: Path, **options: Any) -> Any:
        """The end model a run saved at ``path`` (loading runs no code from the file), its metadata
        in ``metadata_``; ``options``: ``trusted``, exact type names a skops file may hold."""
        raise NotImplementedError(f"label type {self.name!r} has no end model")

    def predict(self, model: Any, frame: pl.DataFrame, **options: Any) -> pl.DataFrame:
        """``weaksup predict``: the columns the end ``model`` adds to ``frame`` (one row each)."""
        raise NotImplementedError(f"label type {self.name!r} has no end model")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
