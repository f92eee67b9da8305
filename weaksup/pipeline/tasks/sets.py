"""Ranking examples: one row per query, its items in a list column, item fields in aligned lists.

A ranking example (a query, a result page, a set of movies to order) is one row with

- ``items``: the ids of its items, as strings (the vote store keeps ranking votes as strings);
- one list column per item field, aligned with ``items``: ``revenue[j]`` belongs to ``items[j]``;
- optionally ``split`` and any per-example columns.

A ranking LF reads one such row and returns some of its item ids, best first, or ``None``.
Data that is already in this shape is used as it is.  :func:`item_sets` builds it from a
table of items (one row per item) by drawing random sets, each from a single split's pool,
so train and test sets never share an item.

>>> import polars as pl
>>> movies = pl.DataFrame({"example_id": ["m1", "m2", "m3", "m4"], "split": ["train"] * 4, "runtime": [90, 120, 100, 95]})
>>> sets = item_sets(movies, size=3, counts={"train": 2}, seed=0)
>>> sets.columns
['example_id', 'split', 'items', 'runtime']
>>> row = sets.row(0, named=True)
>>> row["example_id"], len(row["items"]), len(row["runtime"])
('train-00000', 3, 3)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from weaksup.data import ID

ITEMS = "items"


def item_sets(
    items: pl.DataFrame,
    *,
    size: int,
    counts: Mapping[str, int],
    seed: int,
    split_column: str = "split",
    items_column: str = ITEMS,
) -> pl.DataFrame:
    """``counts[split]`` random sets of ``size`` distinct items from each split's pool of ``items``.

    ``items`` has one row per item, its id in ``example_id``.  Each set becomes a row with
    id ``<split>-NNNNN``, its split, ``items_column`` (the item ids as strings) and every
    other column of ``items`` as a list aligned with them.  The same seed and items give
    the same sets, so a rerun finds its examples unchanged.
    """
    if size < 2:
        raise ValueError(f"ranking.set_size is {size}; a ranking set needs at least 2 items")
    for col in (ID, split_column):
        if col not in items.columns:
            raise ValueError(f"cannot build ranking sets: the item table has no {col!r} column; columns are {items.columns}")
    if items_column in items.columns:
        raise ValueError(
            f"cannot build ranking sets: the item table already has a column {items_column!r}; "
            "rename it, or set ranking.items_column to another name"
        )
    rng = np.random.default_rng(seed)
    fields = [c for c in items.columns if c not in (ID, split_column)]
    frames = []
    for split in sorted(counts):
        pool = items.filter(pl.col(split_column).cast(pl.String) == split)
        if pool.height < size:
            raise ValueError(
                f"ranking.sets.{split} asks for sets of {size} items, but split {split!r} has only "
                f"{pool.height} items; lower ranking.set_size or add items to that split"
            )
        picks = np.stack([rng.choice(pool.height, size, replace=False) for _ in range(counts[split])])
        rows = pool[picks.ravel()].with_columns(pl.Series("_set", np.repeat(np.arange(len(picks)), size)))
        frames.append(
            rows.group_by("_set", maintain_order=True)
            .agg(pl.col(ID).cast(pl.String).alias(items_column), *fields)
            .select(
                pl.format("{}-{}", pl.lit(split), pl.col("_set").cast(pl.String).str.zfill(5)).alias(ID),
                pl.lit(split).alias(split_column),
                items_column,
                *fields,
            )
        )
    return pl.concat(frames)
