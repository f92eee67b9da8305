"""The vote store's schema: its tables, their version and the migrations from older versions.

Kept apart from :mod:`weaksup.store` so the tables can be read in one place, with what each
holds; :class:`~weaksup.store.VoteStore` creates a new store's tables from :data:`SCHEMA`
and brings an older store up to date with :data:`MIGRATIONS`.

Schema (version :data:`SCHEMA_VERSION`; ``meta.schema_version`` records it):

``meta(key, value)``
    Store-wide settings: ``schema_version``, ``next_ex_key`` (the first key no example has had) and
    ``store_id`` (random: the export folders a store's runs make record it).
``examples(ex_key, dataset, example_id, content_hash, split, data, added_run, retired_run)``
    One row per *content version* of an example.  A sync gives its new rows keys from
    ``next_ex_key`` up, in input order, and moves ``next_ex_key`` past them in the same
    transaction, so later rows always have larger keys, even after ``gc`` deletes the
    newest retired rows; keys are unique but not dense.  (No index: an index on ``ex_key``
    cost a third of a million-row sync and grew in memory with the store.)  When an example's content
    changes under the same id, the old row is retired (``retired_run`` set) and a
    new row with a new key is added; deleted examples are retired.  ``data`` is
    the input columns as JSON, so exports need nothing but the store.
``lfs(lf_name, lf_version, kind, label_type, first_run, last_run)``
    Every LF version ever seen.
``lf_progress(dataset, lf_name, lf_version, applied_through)``
    A watermark: that LF version has been applied to every example of the
    dataset whose ``ex_key <= applied_through``.  Votes and the watermark move
    in one transaction, so a crash loses at most the chunk in flight and a
    rerun never duplicates votes.  This is what makes runs incremental: new or
    changed examples get keys above every watermark, and a new LF version starts at 0.
``votes(lf_name, lf_version, ex_key, label, value, ranking, payload, confidence)``
    Sparse: abstains have no row.  Keyed by LF *version*, not by run, so later
    runs reuse them.  ``label`` holds categorical class ids, ``value`` real-valued
    votes, ``ranking`` ordered item ids (best first), ``payload`` JSON for other
    label types, ``confidence`` an optional per-vote confidence (e.g. from logprobs).
``runs(run_id, pipeline, pipeline_hash, params, status, started_at, finished_at, error, metrics, lf_versions,
export_dir, data_fingerprint, lf_summary)``
    ``status`` is ``running``, ``succeeded``, ``failed``, ``interrupted`` or ``skipped`` (nothing had
    changed since the pipeline's last succeeded run, whose outputs stand).
    ``params`` is the validated pipeline, ``export_dir`` the run's export
    folder, ``lf_summary`` the LF summary as JSON rows.  Rows are never deleted:
    they are the run history.
``labels(run_id, ex_key, probs, label, confidence, n_votes, value, variance, ranking, payload)``
    Each run's denoised labels.  Only succeeded runs keep theirs: the labels of
    failed and interrupted runs are discarded, and ``gc`` prunes old runs'.
``lf_errors(run_id, dataset, lf_name, lf_version, ex_key, example_id, error_type, message, created_at)``
    Exceptions raised by LFs (each counted as an abstain).

``llm_cache``, ``llm_usage``, ``llm_batches``, ``llm_failures``
    The prompted LFs' response cache and usage (:data:`LLM_TABLES`, described in
    :mod:`weaksup.store.llm_cache`).

**Versions.**  Version 1 lacked the last three ``runs`` columns, version 2 the LLM tables
(earlier weaksup created them on first use, so a migration keeps any it finds), version 3 drew
example keys from a sequence and indexed them (the migration rebuilds ``examples`` without the
index and starts ``next_ex_key`` past the sequence and every key); opening such a
store for writing migrates it in place (one transaction), and a read-only open
asks for that.  Newer versions are refused.

>>> import duckdb
>>> con = duckdb.connect()
>>> _ = con.execute(SCHEMA)
>>> sorted(row[0] for row in con.sql("SELECT table_name FROM information_schema.tables").fetchall())
['examples', 'labels', 'lf_errors', 'lf_progress', 'lfs', 'llm_batches', 'llm_cache', 'llm_failures', 'llm_usage',
 'meta', 'runs', 'votes']
>>> all(version in MIGRATIONS for version in range(1, SCHEMA_VERSION))
True
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

SCHEMA_VERSION = 4

EXAMPLES = """
CREATE TABLE IF NOT EXISTS {table} (
    ex_key BIGINT NOT NULL,
    dataset VARCHAR NOT NULL,
    example_id VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    split VARCHAR,
    data JSON,
    added_run BIGINT,
    retired_run BIGINT
);
"""
"""The ``examples`` table's DDL, for ``{table}`` (the version-4 migration rebuilds the table from it)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
INSERT INTO meta VALUES ('next_ex_key', '1');
CREATE SEQUENCE IF NOT EXISTS run_id_seq START 1;
""" + EXAMPLES.format(table="examples") + """
CREATE TABLE IF NOT EXISTS lfs (
    lf_name VARCHAR NOT NULL,
    lf_version VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    label_type VARCHAR NOT NULL,
    first_run BIGINT,
    last_run BIGINT,
    PRIMARY KEY (lf_name, lf_version)
);
CREATE TABLE IF NOT EXISTS lf_progress (
    dataset VARCHAR NOT NULL,
    lf_name VARCHAR NOT NULL,
    lf_version VARCHAR NOT NULL,
    applied_through BIGINT NOT NULL,
    PRIMARY KEY (dataset, lf_name, lf_version)
);
CREATE TABLE IF NOT EXISTS votes (
    lf_name VARCHAR NOT NULL,
    lf_version VARCHAR NOT NULL,
    ex_key BIGINT NOT NULL,
    label INTEGER,
    value DOUBLE,
    ranking VARCHAR[],
    payload JSON,
    confidence DOUBLE
);
CREATE TABLE IF NOT EXISTS runs (
    run_id BIGINT PRIMARY KEY,
    pipeline VARCHAR NOT NULL,
    pipeline_hash VARCHAR,
    params JSON,
    status VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    error VARCHAR,
    metrics JSON,
    lf_versions JSON,
    export_dir VARCHAR,
    data_fingerprint VARCHAR,
    lf_summary JSON
);
CREATE TABLE IF NOT EXISTS labels (
    run_id BIGINT NOT NULL,
    ex_key BIGINT NOT NULL,
    probs DOUBLE[],
    label INTEGER,
    confidence DOUBLE,
    n_votes INTEGER NOT NULL,
    value DOUBLE,
    variance DOUBLE,
    ranking VARCHAR[],
    payload JSON
);
CREATE TABLE IF NOT EXISTS lf_errors (
    run_id BIGINT,
    dataset VARCHAR NOT NULL,
    lf_name VARCHAR NOT NULL,
    lf_version VARCHAR NOT NULL,
    ex_key BIGINT,
    example_id VARCHAR NOT NULL,
    error_type VARCHAR NOT NULL,
    message VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
"""

LLM_TABLES = """
CREATE TABLE IF NOT EXISTS llm_cache (
    cache_key VARCHAR PRIMARY KEY,
    model VARCHAR NOT NULL,
    prompt VARCHAR NOT NULL,
    params JSON NOT NULL,
    response JSON NOT NULL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    run_id BIGINT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS llm_usage (
    run_id BIGINT,
    lf_name VARCHAR NOT NULL,
    lf_version VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    requests BIGINT NOT NULL,
    cache_hits BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    malformed BIGINT NOT NULL,
    off_label BIGINT NOT NULL,
    skipped BIGINT NOT NULL,
    request_seconds DOUBLE NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS llm_failures (
    cache_key VARCHAR PRIMARY KEY,
    runs INTEGER NOT NULL,
    last_run BIGINT,
    error_type VARCHAR NOT NULL,
    failed_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS llm_batches (
    run_id BIGINT,
    started_at TIMESTAMPTZ NOT NULL,
    seconds DOUBLE NOT NULL,
    prompts BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    budget_exhausted BOOLEAN NOT NULL
);
"""
"""The prompted LFs' response cache and usage (:mod:`weaksup.store.llm_cache` says what each holds)."""

SCHEMA += LLM_TABLES

MIGRATIONS: dict[int, str] = {
    1: "ALTER TABLE runs ADD COLUMN export_dir VARCHAR; ALTER TABLE runs ADD COLUMN data_fingerprint VARCHAR; "
    "ALTER TABLE runs ADD COLUMN lf_summary JSON;",
    2: LLM_TABLES,
    3: EXAMPLES.format(table="examples_v4")
    + """
INSERT INTO examples_v4 SELECT * FROM examples;
INSERT INTO meta SELECT 'next_ex_key', CAST(greatest(nextval('ex_key_seq'), coalesce(max(ex_key), 0) + 1) AS VARCHAR)
    FROM examples;
DROP TABLE examples;
ALTER TABLE examples_v4 RENAME TO examples;
DROP SEQUENCE ex_key_seq;
""",
}
"""SQL taking a store from version ``v`` to ``v + 1``."""


VOTE_COLUMNS = {
    "lf_name": pa.string(),
    "lf_version": pa.string(),
    "ex_key": pa.int64(),
    "label": pa.int32(),
    "value": pa.float64(),
    "ranking": pa.list_(pa.string()),
    "payload": pa.string(),
    "confidence": pa.float64(),
}
"""The ``votes`` table's columns and their Arrow types, in table order (bulk inserts use them)."""


def vote_table(votes: pl.DataFrame) -> pa.Table:
    """``votes`` with every vote column present, in schema order and types."""
    missing = {"lf_name", "lf_version", "ex_key"} - set(votes.columns)
    if missing:
        raise ValueError(f"votes frame lacks columns {sorted(missing)}")
    arrays = {}
    for name, typ in VOTE_COLUMNS.items():
        if name in votes.columns:
            arrays[name] = votes[name].to_arrow().cast(typ)
        else:
            arrays[name] = pa.nulls(votes.height, typ)
    return pa.table(arrays)
