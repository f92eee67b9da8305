"""What LF application leaves in a store, for comparing engines: every vote (all its vote
columns, keyed by example id), error record and watermark, each in one order."""

from __future__ import annotations

import polars as pl

from weaksup.store import VoteStore


def store_contents(store: VoteStore) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The votes, error records (without the run that recorded them) and watermarks of ``store``."""
    votes = store.query(
        "SELECT v.lf_name, v.lf_version, e.example_id, v.label, v.value, v.ranking, v.confidence "
        "FROM votes v JOIN examples e USING (ex_key) ORDER BY ALL"
    )
    errors = store.query("SELECT lf_name, lf_version, ex_key, example_id, error_type, message FROM lf_errors ORDER BY ALL")
    marks = store.query("SELECT lf_name, lf_version, applied_through FROM lf_progress ORDER BY ALL")
    return votes, errors, marks


def assert_same_contents(got: tuple[pl.DataFrame, ...], want: tuple[pl.DataFrame, ...]) -> None:
    """Each frame of ``got`` equals its counterpart in ``want``."""
    for a, b in zip(got, want, strict=True):
        assert a.equals(b), (a, b)
