"""Multi-label labels: any number of ``labels.classes`` per example; LFs vote a set of label ids, or abstain.

**How an LF votes.**  Labels are ids, a label's position in ``labels.classes`` (as categorical
class ids are), or the names in ``labels.classes``; an LF returns:

- a set, list or tuple of label ids or names: those labels are present; it says nothing about the others;
- a mapping ``{"present": labels, "absent": labels}`` (either key may be left out): the labels it names
  absent are its per-label "no" votes ("not joy"); an LF that only says what is absent returns
  ``{"absent": {"joy"}}``;
- ``None`` or an empty set: it abstains.

A vectorized LF yields a list column of label ids or names (``pl.when(cond).then(pl.lit(["joy"]))``),
or a struct column with list fields ``present`` and ``absent``; null abstains.  Names become ids
once per batch: a column by one polars ``replace_strict``, a row-wise LF's names through one
name-to-id table per label set.  A prompted LF (which maps answers to one id) votes that label
present.  Recorded answers (``[answers]``) are a set of labels per item and worker, the whole of
what the worker chose: the labels not in it are absent.

A bare id (``return 3``), a name not in ``labels.classes``, an id outside ``0..k-1``, a label named
twice or both present and absent stops the run with a message naming the LF and the example (and,
for a name, the valid names).

Votes go to the store's ``payload`` column as ``{"present":[...],"absent":[...]}`` and are read
back as :class:`~weaksup.label_types.multilabel_votes.MultiLabelVotes`; labels are each label's
probability (``probs``), the most probable label and its probability (``label``,
``confidence``) and the predicted set (``payload``); gold is an (n, k) 0/1 matrix (-1 rows:
unknown); the end model is one-vs-rest logistic regression on soft targets
(:class:`~weaksup.end_models.MultiLabelTextClassifier`).

>>> MULTILABEL.check_vote({2, 0}, 3), MULTILABEL.check_vote({"absent": [1]}, 3), MULTILABEL.check_vote(set(), 3)
('{"present":[0,2],"absent":[]}', '{"present":[],"absent":[1]}', None)
>>> MULTILABEL.check_vote({"c", "a"}, 3, classes=("a", "b", "c"))
'{"present":[0,2],"absent":[]}'
>>> MULTILABEL.check_vote(2, 3)
Traceback (most recent call last):
...
weaksup.label_types.base.VoteError: the bare label id 2 (an int); a multi-label LF returns a set of label ids in 0..2 or names (e.g. {2}), a mapping {"present": labels, "absent": labels}, or None to abstain
>>> gold = np.array([[1, 0, 1], [0, 1, 0], [-1, -1, -1]])
>>> scores = MULTILABEL.metrics([[0, 2], [0], []], gold, classes=["a", "b", "c"])  # row 3: no gold
>>> round(scores["micro_f1"], 3), scores["subset_accuracy"], scores["recall_b"]
(0.667, 0.5, 0.0)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from weaksup.label_types.base import LabelType, Part, VoteError, VoteReader
from weaksup.label_types.multilabel_votes import MultiLabelVotes

if TYPE_CHECKING:
    from weaksup.store.votes import LFVersions

__all__ = ["MULTILABEL", "MultiLabelType", "label_matrix"]

VOTE = pl.Struct({"present": pl.List(pl.Int32), "absent": pl.List(pl.Int32)})
"""A checked vote as a polars value (what recorded answers and vectorized votes become)."""
SEPARATORS = r"[;|,]"
"""What separates the labels of a recorded answer or a gold value written as text (``joy;anger``)."""


def _expected(k: int) -> str:
    return (f"a multi-label LF returns a set of label ids in 0..{k - 1} or names (e.g. {{{max(k - 1, 0)}}}), a mapping "
            '{"present": labels, "absent": labels}, or None to abstain')  # fmt: skip


@lru_cache(maxsize=64)
def _name_index(classes: tuple[str, ...]) -> dict[str, int]:
    """Label name -> id, built once per label set (a row-wise LF's votes look names up here)."""
    return {name: j for j, name in enumerate(classes)}


def _unknown_name(name: object, classes: Sequence[str]) -> str:
    if not classes:
        return f"the label name {name!r}, with no labels.classes to read names by (vote ids, or pass classes=)"
    return f"the label name {name!r}, which is not one of labels.classes {list(classes)}"


def _vote_json(present: Sequence[int], absent: Sequence[int]) -> str:
    return json.dumps({"present": sorted(present), "absent": sorted(absent)}, separators=(",", ":"))


class MultiLabelType(LabelType):
    """Multi-label labels (see the module docstring)."""

    name = "multilabel"
    doc = "a set of labels.classes per example"
    vote_column = "payload"
    votes_class = MultiLabelVotes
    answer_dtype = VOTE
    label_columns = ("probs", "label", "confidence", "payload")
    end_models = ("ovr_logreg", "none")
    end_model = "MultiLabelTextClassifier"
    end_model_file = "end_model.npz"
    predicted_columns = ("labels",)
    task = Part("weaksup.pipeline.tasks.multilabel:MultiLabelTask")
    report_type = Part("weaksup.report.types.multilabel:MultiLabel")
    classes = True
    label_models = True

    # -- votes -------------------------------------------------------------------------

    def check_vote(self, value: Any, cardinality: int, classes: Sequence[str] = ()) -> str | None:
        """The vote as its stored JSON (``None``: abstain)."""
        if value is None:
            return None
        expected = _expected(cardinality)
        if isinstance(value, Mapping):
            unknown = sorted(set(map(str, value)) - {"present", "absent"})
            if unknown:
                raise VoteError(f"a mapping with keys {unknown}", expected)
            present, absent = (self._ids(value.get(key) or (), cardinality, classes) for key in ("present", "absent"))
        elif isinstance(value, (set, frozenset, list, tuple, np.ndarray)):
            present, absent = self._ids(value, cardinality, classes), []
        elif isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise VoteError(f"{value!r} of type {type(value).__name__}", expected)
        else:
            raise VoteError(f"the bare label id {value} (an int)", expected)
        both = sorted(set(present) & set(absent))
        if both:
            raise VoteError(f"label {both[0]} both present and absent", expected)
        return _vote_json(present, absent) if present or absent else None

    def _ids(self, values: Any, k: int, classes: Sequence[str]) -> list[int]:
        expected = _expected(k)
        if isinstance(values, (str, bytes)) or not isinstance(values, (set, frozenset, list, tuple, np.ndarray)):
            raise VoteError(f"{values!r} of type {type(values).__name__} as a set of labels", expected)
        index = _name_index(tuple(classes))
        ids = []
        for v in values:
            if isinstance(v, str):
                if v not in index:
                    raise VoteError(_unknown_name(str(v), classes), expected)
                v = index[v]
            elif isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
                raise VoteError(f"{v!r} of type {type(v).__name__} among the labels", expected)
            if not 0 <= v < k:
                raise VoteError(f"label id {int(v)}, outside the label set 0..{k - 1}", expected)
            ids.append(int(v))
        twice = sorted({v for v in ids if ids.count(v) > 1})
        if twice:
            raise VoteError(f"label {twice[0]} twice in one vote", expected)
        return ids

    def check_column(self, column: pl.Series, cardinality: int, classes: Sequence[str] = ()) -> tuple[np.ndarray, list[Any] | None]:
        expected = (f"a multi-label LF yields lists of label ids in 0..{cardinality - 1} or of names (e.g. pl.lit([{max(cardinality - 1, 0)}])), "
                    "or a struct of such lists 'present' and 'absent'; null abstains")  # fmt: skip
        if column.dtype == pl.Null:
            return self.as_output([None] * column.len())
        if isinstance(column.dtype, pl.Struct):
            fields = [f.name for f in column.dtype.fields]
            unknown = sorted(set(fields) - {"present", "absent"})
            if unknown:
                raise VoteError(f"a struct column with fields {unknown}", expected)
            frame = column.struct.unnest()
            present = frame["present"] if "present" in fields else pl.Series([None] * column.len())
            absent = frame["absent"] if "absent" in fields else pl.Series([None] * column.len())
        elif isinstance(column.dtype, pl.List):
            present, absent = column, pl.Series([None] * column.len())
        elif column.dtype.is_integer():
            row = int(np.flatnonzero(column.is_not_null().to_numpy())[0]) if column.is_not_null().any() else 0
            raise VoteError(f"the bare label id {column[row]} (a column of {column.dtype})", expected, row)
        else:
            raise VoteError(f"a column of dtype {column.dtype}", expected)
        votes = pl.DataFrame({"present": self._list_column(present, cardinality, expected, classes),
                              "absent": self._list_column(absent, cardinality, expected, classes)})  # fmt: skip
        both = votes.select(pl.col("present").list.set_intersection("absent").list.len() > 0)["present"].to_numpy()
        if both.any():
            row = int(np.flatnonzero(both)[0])
            shared = sorted(set(votes["present"][row]) & set(votes["absent"][row]))
            raise VoteError(f"label {shared[0]} both present and absent", expected, row)
        empty = (votes["present"].list.len() + votes["absent"].list.len() == 0).to_numpy()
        encoded = votes.select(pl.struct(pl.col("present").list.sort(), pl.col("absent").list.sort()).struct.json_encode())
        return self.as_output([None if e else v for e, v in zip(empty, encoded.to_series().to_list())])

    def _list_column(self, column: pl.Series, k: int, expected: str, classes: Sequence[str]) -> pl.Series:
        """A list column of label ids or names (null rows: empty) as ids, checked: ids in range, none twice, no null."""
        if column.dtype == pl.Null:
            return pl.Series([[]] * column.len(), dtype=pl.List(pl.Int32))
        if isinstance(column.dtype, pl.List) and isinstance(column.dtype.inner, (pl.String, pl.Categorical, pl.Enum)):
            column = self._names_to_ids(column.cast(pl.List(pl.String)), classes, expected)
        if not isinstance(column.dtype, pl.List) or not (column.dtype.inner.is_integer() or column.dtype.inner == pl.Null):
            raise VoteError(f"a column of dtype {column.dtype}", expected)
        lists = column.fill_null([]).cast(pl.List(pl.Int64))
        holes = lists.list.eval(pl.element().is_null().any()).list.first().fill_null(False).to_numpy()
        if holes.any():
            raise VoteError("a null label id", expected, int(np.flatnonzero(holes)[0]))
        flat = pl.DataFrame({"row": np.arange(len(lists))}).with_columns(lists.alias("id")).explode("id")
        out = flat.filter(pl.col("id").is_not_null() & ((pl.col("id") < 0) | (pl.col("id") >= k)))
        if out.height:
            raise VoteError(f"label id {out['id'][0]}, outside the label set 0..{k - 1}", expected, int(out["row"][0]))
        twice = (lists.list.n_unique() != lists.list.len()).to_numpy()
        if twice.any():
            row = int(np.flatnonzero(twice)[0])
            ids = lists[row].to_list()
            raise VoteError(f"label {next(v for v in ids if ids.count(v) > 1)} twice in one vote", expected, row)
        return lists.cast(pl.List(pl.Int32))

    def _names_to_ids(self, names: pl.Series, classes: Sequence[str], expected: str) -> pl.Series:
        """A list column of label names as ids, in one polars pass; a name not in ``classes`` is an
        error at its first row."""
        flat = pl.DataFrame({"row": np.arange(names.len()), "name": names}).explode("name")
        unknown = flat.filter(pl.col("name").is_not_null() & ~pl.col("name").is_in(list(classes)))
        if unknown.height:
            raise VoteError(_unknown_name(unknown["name"][0], classes), expected, int(unknown["row"][0]))
        return names.list.eval(pl.element().replace_strict(list(classes), list(range(len(classes))), default=None,
                                                           return_dtype=pl.Int64))  # fmt: skip

    def answer_values(self, answers: pl.Series, classes: Sequence[str], by: str,
                      truth: bool = False) -> tuple[pl.Series, str, str]:  # fmt: skip
        """Each answer as the set of labels it names (by name, ``by = "name"``; by id, ``"id"``;
        ``"auto"``: ids when every label is a number no class is named, else names), written as a list or as text
        separated by ``;``, ``|`` or ``,``, optionally in brackets (``[]``: no label): present, the
        others absent (a truth: the set, as gold); null where a label is neither."""
        k = len(classes)
        text = answers.cast(pl.String).str.strip_chars().str.strip_prefix("[").str.strip_suffix("]")
        parts = (answers.cast(pl.List(pl.String)) if isinstance(answers.dtype, pl.List)
                 else text.str.replace_all(SEPARATORS, ";").str.split(";"))  # fmt: skip
        parts = parts.list.eval(pl.element().str.strip_chars(" \"'")).list.eval(pl.element().filter(pl.element() != ""))
        asked = by
        if by == "auto":
            named = parts.explode().drop_nulls()  # ids when every label is written as a number, else names
            by = "id" if named.len() and named.str.contains(r"^\d+$").all() and not named.is_in(list(classes)).any() else "name"
        if by == "name":
            ids = parts.list.eval(pl.element().replace_strict(list(classes), list(range(k)), default=None, return_dtype=pl.Int32))
        else:
            ids = parts.list.eval(pl.element().cast(pl.Int32, strict=False)).list.eval(
                pl.when(pl.element().is_between(0, k - 1)).then(pl.element()))  # fmt: skip
        valid = (ids.list.eval(pl.element().is_null().any()).list.first().fill_null(False).not_()
                 & (ids.list.n_unique() == ids.list.len()) & answers.is_not_null())  # fmt: skip
        ids = pl.select(pl.when(valid).then(ids.list.sort())).to_series()
        names, ids_ = f"names of labels.classes {list(classes)}", f"label ids 0..{k - 1}"
        kind = f"{names} or {ids_}" if asked == "auto" else names if by == "name" else ids_
        expected = f"a set of distinct {kind}, separated by ; or | ([] for none; answers.classes_by = {asked!r})"
        if truth:
            return ids.alias("truth"), by, expected
        everyone = pl.lit(list(range(k)), dtype=pl.List(pl.Int32))
        votes = pl.select(pl.when(ids.is_not_null()).then(pl.struct(ids.alias("present"),
                                                                     everyone.list.set_difference(ids).alias("absent"))))  # fmt: skip
        return votes.to_series().cast(VOTE), by, expected

    def read_votes(self, votes: VoteReader, ex_keys: np.ndarray, lfs: LFVersions, **context: Any) -> MultiLabelVotes:
        """The votes of ``lfs`` on ``ex_keys`` over ``context["k"]`` labels (default: the largest id
        voted, plus one); a class id in the store's ``label`` column (a prompted LF's) votes that
        label present.  An id outside ``0..k-1`` is an error naming the LF and the example
        (``context["example_ids"][i]``, else the key)."""
        votes.check_label_type(lfs, self.name)
        keys = np.asarray(ex_keys, dtype=np.int64)
        got = votes.coordinates(keys, lfs, self.vote_column)
        decoded = pl.DataFrame({"row": got["row"].to_numpy(), "col": got["col"].to_numpy(),
                                "vote": pl.Series(got["vote"].to_pylist(), dtype=pl.String).str.json_decode(VOTE)})  # fmt: skip
        decoded = decoded.unnest("vote")
        parts = [decoded.select("row", "col", pl.col(side).alias("label"), pl.lit(side == "present").alias("present"))
                 .explode("label").drop_nulls("label") for side in ("present", "absent")]  # fmt: skip
        single = votes.coordinates(keys, lfs, "label")
        parts.append(pl.DataFrame({"row": single["row"].to_numpy(), "col": single["col"].to_numpy(),
                                   "label": single["vote"].to_numpy().astype(np.int32), "present": True}))  # fmt: skip
        entries = pl.concat([p.cast({"row": pl.Int64, "col": pl.Int32, "label": pl.Int32}) for p in parts])
        k = int(context.get("k") or (int(entries["label"].max()) + 1 if entries.height else 1))
        outside = entries.filter((pl.col("label") < 0) | (pl.col("label") >= k))
        if outside.height:
            i, a, j = (int(outside[c][0]) for c in ("row", "col", "label"))
            ids = context.get("example_ids")
            where = f"example {ids[i]!r}" if ids is not None else f"the example with key {int(keys[i])}"
            raise ValueError(f"LF {lfs[a][0]!r} (version {lfs[a][1]!r}) votes label id {j} on {where}, outside the "
                             f"label set 0..{k - 1} (labels.classes); fix the LF, or give the classes it votes")  # fmt: skip
        return MultiLabelVotes.from_entries(entries["row"].to_numpy(), entries["col"].to_numpy(), entries["label"].to_numpy(),
                                            entries["present"].to_numpy(), len(keys), len(lfs), k,
                                            tuple(lf[0] for lf in lfs))  # fmt: skip

    # -- labels and gold ---------------------------------------------------------------

    def label_rows(self, ex_keys: np.ndarray, predicted: Any, n_votes: np.ndarray) -> pl.DataFrame:
        """``predicted``: each label's probability (n, k) and the predicted labels (n, k) 0/1."""
        probs, labels = predicted
        probs = np.asarray(probs, dtype=float)
        chosen = [json.dumps(np.flatnonzero(row).tolist()) for row in np.asarray(labels)]
        return pl.DataFrame({
            "ex_key": ex_keys,
            "probs": probs,
            "label": probs.argmax(axis=1).astype(np.int32) if probs.shape[1] else np.zeros(len(probs), np.int32),
            "confidence": probs.max(axis=1) if probs.shape[1] else np.zeros(len(probs)),
            "payload": chosen,
            "n_votes": np.asarray(n_votes).astype(np.int32),
        })  # fmt: skip

    def training_frame(self, inputs: pl.DataFrame, rows: pl.DataFrame, classes: Sequence[str]) -> pl.DataFrame:
        """``prob_<class>`` per label, ``labels`` (the predicted names), ``n_votes``."""
        k = len(classes)
        probs = np.asarray(rows["probs"].list.to_array(k).to_numpy(), dtype=float) if rows.height else np.zeros((0, k))
        chosen = [[classes[j] for j in json.loads(p)] for p in rows["payload"].to_list()]
        return inputs.with_columns(
            *(pl.Series(f"prob_{name}", probs[:, j]) for j, name in enumerate(classes)),
            pl.Series("labels", chosen, dtype=pl.List(pl.String)),
            rows["n_votes"].cast(pl.Int64),
        )

    def gold_column(self, gold: Any) -> pl.Series:
        """Per example its 0/1 row (null where unknown)."""
        gold = np.asarray(gold)
        return pl.Series("gold", [row.tolist() if (row >= 0).all() else None for row in gold], dtype=pl.List(pl.Int8))

    def read_gold(self, column: pl.Series, classes: Sequence[str] = ()) -> np.ndarray:
        """An (n, k) int8 matrix, rows of -1 where unknown (k: the rows' length, else ``len(classes)``)."""
        known = column.drop_nulls()
        k = len(known[0]) if known.len() else len(classes)
        gold = np.full((column.len(), k), -1, dtype=np.int8)
        rows = np.flatnonzero(column.is_not_null().to_numpy())
        if len(rows):
            gold[rows] = np.asarray(column.drop_nulls().list.to_array(k).to_numpy(), dtype=np.int8)
        return gold

    def gold_mask(self, gold: Any) -> np.ndarray:
        gold = np.asarray(gold)
        return (gold >= 0).all(axis=1) if gold.ndim == 2 and gold.shape[1] else np.zeros(len(gold), dtype=bool)

    def metrics(self, predicted: Any, gold: Any, **options: Any) -> dict[str, float | None]:
        """``micro_f1``, ``macro_f1`` (over the labels in gold or predicted), ``subset_accuracy``,
        ``micro_precision``, ``micro_recall`` and per label (``options["classes"]`` names them,
        else ids) ``precision_<label>``, ``recall_<label>``, ``f1_<label>``, where gold is known;
        None where undefined."""
        from sklearn.metrics import precision_recall_fscore_support

        gold = np.asarray(gold)
        classes = [str(c) for c in options.get("classes") or range(gold.shape[1] if gold.ndim == 2 else 0)]
        known = self.gold_mask(gold)
        y, p = gold[known].astype(int), label_matrix(predicted, len(classes), classes)[known]
        names = ["micro_f1", "macro_f1", "subset_accuracy", "micro_precision", "micro_recall"]
        out: dict[str, float | None] = dict.fromkeys(names)
        out.update({f"{m}_{c}": None for c in classes for m in ("precision", "recall", "f1")})
        if not len(y):
            return out
        tp, fp, fn = (y & p).sum(axis=0), ((1 - y) & p).sum(axis=0), (y & (1 - p)).sum(axis=0)
        micro = precision_recall_fscore_support(y, p, average="micro", zero_division=0.0)
        used = (tp + fp + fn) > 0
        f1 = np.where(used, 2 * tp / np.maximum(2 * tp + fp + fn, 1), np.nan)
        out.update(micro_f1=float(micro[2]), macro_f1=float(f1[used].mean()) if used.any() else None,
                   subset_accuracy=float((y == p).all(axis=1).mean()), micro_precision=float(micro[0]),
                   micro_recall=float(micro[1]))  # fmt: skip
        for j, c in enumerate(classes):
            out[f"precision_{c}"] = float(tp[j] / (tp[j] + fp[j])) if tp[j] + fp[j] else None
            out[f"recall_{c}"] = float(tp[j] / (tp[j] + fn[j])) if tp[j] + fn[j] else None
            out[f"f1_{c}"] = None if np.isnan(f1[j]) else float(f1[j])
        return out

    # -- end model ---------------------------------------------------------------------

    def load_end_model(self, path: Path, **options: Any) -> Any:
        from weaksup.end_models.multilabel import MultiLabelTextClassifier

        return MultiLabelTextClassifier.load(path)

    def predict(self, model: Any, frame: pl.DataFrame, **options: Any) -> pl.DataFrame:
        """``labels`` (the names of the labels over their thresholds) and ``prob_<class>`` per label,
        from the text in ``text_column`` (default: the column the model was trained on)."""
        meta = model.metadata_
        column = options.get("text_column") or meta.get("text_column", "text")
        if column not in frame.columns:
            raise ValueError(f"no text column {column!r}; its columns are {frame.columns}: choose one with --text-column")
        if frame[column].dtype != pl.String:
            raise ValueError(f"column {column!r} holds {frame[column].dtype}, not text: choose one with --text-column")
        classes = [str(c) for c in meta.get("classes") or range(len(model.thresholds_))]
        texts = frame[column].fill_null("").to_list()
        probs, chosen = model.predict_proba(texts), model.predict(texts)
        return pl.DataFrame([
            pl.Series("labels", [[classes[j] for j in np.flatnonzero(row)] for row in chosen], dtype=pl.List(pl.String)),
            *(pl.Series(f"prob_{name}", probs[:, j]) for j, name in enumerate(classes)),
        ])  # fmt: skip


def label_matrix(labels: Any, k: int, classes: Sequence[str] = ()) -> np.ndarray:
    """(n, k) int 0/1 from an (n, k) array, or from per-example collections of label ids or names."""
    if isinstance(labels, np.ndarray) and labels.ndim == 2:
        return (labels > 0).astype(int)
    index = {str(c): j for j, c in enumerate(classes)}
    out = np.zeros((len(labels), k), dtype=int)
    for i, row in enumerate(labels):
        for v in row or ():
            j = index[v] if isinstance(v, str) else int(v)
            out[i, j] = 1
    return out


MULTILABEL = MultiLabelType()
