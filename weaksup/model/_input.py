"""Validation of label-model input, in one place for every model.

A label matrix arrives either dense, as an (n, m) array with ``-1`` for abstain, or
as :class:`weaksup.votes.SparseVotes`.  Both come out as validated ``SparseVotes``,
so every model works on the coordinate form and never densifies.

>>> import numpy as np
>>> v = as_votes(np.array([[0, -1], [1.0, 1.0]]), cardinality=2, model="MajorityVote")
>>> v.nnz, v.labels.tolist()
(3, [0, 1, 1])
>>> as_votes(np.array([[0, 2]]), cardinality=2, model="MajorityVote")
Traceback (most recent call last):
...
ValueError: MajorityVote: LF column 1 votes 2 on row 0, but votes must be -1 (abstain) or a class id in 0..1 (cardinality=2); fix the LF or raise cardinality
"""

from __future__ import annotations

from typing import Union

import numpy as np

from weaksup.votes import SparseVotes

LabelMatrix = Union[np.ndarray, SparseVotes]
"""What every label model accepts: a dense (n, m) int array (or a pandas DataFrame of one, whose
columns name the LFs) or sparse votes."""


def check_cardinality(cardinality: int, model: str) -> int:
    """Return ``cardinality`` as an int, or raise if it is not an integer ≥ 2."""
    if isinstance(cardinality, bool) or not isinstance(cardinality, (int, np.integer)):
        raise TypeError(f"{model}: cardinality must be an int, got {cardinality!r}")
    if cardinality < 2:
        raise ValueError(
            f"{model}: cardinality must be at least 2 (the number of classes), got {cardinality}"
        )
    return int(cardinality)


def _lf(col: int, names: tuple[str, ...] | None) -> str:
    return f"LF {names[col]!r} (column {col})" if names else f"LF column {col}"


def _dense_to_int(L: np.ndarray, model: str, names: tuple[str, ...] | None) -> np.ndarray:
    """Integer copy of a dense label matrix; floats must hold whole numbers."""
    if L.dtype.kind in "iu":
        return L
    if L.dtype.kind != "f":
        raise TypeError(
            f"{model}: the label matrix must hold integers (-1 = abstain), got dtype {L.dtype}"
        )
    bad = ~np.isfinite(L)
    bad[~bad] = L[~bad] != np.round(L[~bad])
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{model}: {_lf(col, names)} holds {float(L[row, col])} on row {row}, but votes must be whole "
            "numbers (-1 = abstain, 0..k-1 = class); replace NaN by -1 and round or fix the LF"
        )
    return L.astype(np.int64)


def as_votes(
    L: LabelMatrix, cardinality: int, model: str, n_lfs: int | None = None
) -> SparseVotes:
    """Validate a label matrix and return it as ``SparseVotes``.

    ``model`` names the caller in error messages.  ``n_lfs``, when given, is the number
    of LFs the model was fitted on; a different number of columns is an error.
    """
    if isinstance(L, SparseVotes):
        votes = L
        _check_coordinates(votes, model)
    else:  # an array, or a pandas DataFrame (its columns name the LFs) without importing pandas
        columns = getattr(L, "columns", None)
        names = tuple(str(c) for c in columns) if columns is not None and not isinstance(L, np.ndarray) else None
        arr = np.asarray(L.to_numpy() if hasattr(L, "to_numpy") else L)
        if arr.ndim != 2:
            raise ValueError(
                f"{model}: expected a 2-D (n, m) label matrix or SparseVotes, got shape {arr.shape}"
            )
        votes = SparseVotes.from_dense(_dense_to_int(arr, model, names), lf_names=names)
    names = votes.lf_names
    labels = votes.labels
    bad = (labels < 0) | (labels >= cardinality)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        col, row, vote = int(votes.cols[i]), int(votes.rows[i]), int(labels[i])
        raise ValueError(
            f"{model}: {_lf(col, names)} votes {vote} on row {row}, but votes must be -1 (abstain) "
            f"or a class id in 0..{cardinality - 1} (cardinality={cardinality}); "
            "fix the LF or raise cardinality"
        )
    if n_lfs is not None and votes.m != n_lfs:
        raise ValueError(
            f"{model}: fitted on {n_lfs} LFs but the label matrix has {votes.m} columns; "
            "pass the same LFs, in the same order, as at fit"
        )
    if votes.n == 0:
        raise ValueError(f"{model}: the label matrix has no rows")
    return votes


def _check_coordinates(votes: SparseVotes, model: str) -> None:
    """Rows and columns of sparse votes must index into (n, m)."""
    for what, idx, size in (("row", votes.rows, votes.n), ("column", votes.cols, votes.m)):
        if len(idx) and (idx.min() < 0 or idx.max() >= size):
            raise ValueError(
                f"{model}: SparseVotes has a {what} index outside 0..{size - 1}; "
                "rebuild it with the right n and m"
            )


def check_class_balance(class_balance: np.ndarray | str | None, cardinality: int, model: str):
    """Return a validated class prior of length ``cardinality``, or None to learn it.

    ``class_balance`` is proportions (one positive number per class, summing to 1), ``"uniform"``
    (1/k each), or ``"learned"`` / None (the model learns it, or keeps its own default).
    """
    if class_balance is None or (isinstance(class_balance, str) and class_balance == "learned"):
        return None
    if isinstance(class_balance, str):
        if class_balance != "uniform":
            raise ValueError(
                f"{model}: class_balance must be proportions, 'uniform' or 'learned', got {class_balance!r}"
            )
        return np.full(cardinality, 1.0 / cardinality)
    p = np.asarray(class_balance, dtype=float)
    if p.shape != (cardinality,) or not np.isfinite(p).all() or (p <= 0).any():
        raise ValueError(
            f"{model}: class_balance must be {cardinality} positive numbers (one per class), "
            f"'uniform' or 'learned', got {class_balance!r}"
        )
    if abs(p.sum() - 1.0) > 1e-6:
        raise ValueError(f"{model}: class_balance must sum to 1, got sum {p.sum():.6g}")
    return p


def as_dev_gold(
    dev_votes: LabelMatrix | None, dev_gold: np.ndarray | None, cardinality: int, model: str
) -> tuple[SparseVotes, np.ndarray] | None:
    """Dev votes and their gold (class ids, -1 where unknown) checked, or None when neither is given."""
    if (dev_votes is None) != (dev_gold is None):
        raise ValueError(f"{model}: give dev_votes and dev_gold together, or neither")
    if dev_votes is None:
        return None
    dev = as_votes(dev_votes, cardinality, f"{model.split('.')[0]} (dev_votes)")
    gold = np.asarray(dev_gold).ravel()
    if gold.shape != (dev.n,):
        raise ValueError(f"{model}: dev_gold has {gold.size} labels for {dev.n} dev rows")
    if (gold >= cardinality).any() or (gold < -1).any():
        raise ValueError(f"{model}: dev_gold must be class ids 0..{cardinality - 1} or -1")
    return dev, gold
