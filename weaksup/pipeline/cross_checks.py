"""Checks across the pipeline file's keys, run after every key is valid (:data:`CROSS_CHECKS`): where the
votes come from, a DuckDB source table, the keys each label type needs, what a streamed source needs.
Each takes the values (defaults filled in) and the pipeline file's folder and returns a problem or
``None``; :mod:`.config` runs them in order and reports the first problem.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from weaksup.deprecated import moved
from weaksup.label_types import PIPELINE_TYPES
from weaksup.pipeline.schema import GLOB, SCHEMA, STREAM_MEMORY_LIMIT
from weaksup.pipeline.settings import Settings


def _check_votes(values: dict[str, Any], base: Path) -> str | None:
    """Where the examples and votes come from: data.source and LF modules, or [answers] for either."""
    data, answers = values["data"], values["answers"]
    if answers is None:
        if data["source"] is None:
            return f"missing required key 'data.source': {SCHEMA.keys['data'].keys['source'].doc}"  # type: ignore[union-attr]
        if not values["lfs"]["modules"]:
            return "the pipeline has no votes: list LF files in lfs.modules, or name a crowd answers file in [answers]"
        return None
    label_type = values["labels"]["type"]
    if PIPELINE_TYPES[label_type].answer_dtype is None:
        return f"[answers] holds one class or number per item and worker; a {label_type} pipeline takes its votes from LFs"
    if data["stream"]:
        return "data.stream = true cannot take [answers]: the answers are read whole; drop data.stream"
    if data["source"] is None:
        if values["holdout"] is not None:
            return "[holdout] matches data texts, and without data.source the examples have none; give data.source"
        if values["trainer"]["name"] != "none":
            return ("without data.source the examples are the answers' items, with no inputs for an end model: set "
                    "trainer.name = 'none', or give data.source (with data.id_column naming the items)")
    if data["gold_column"] is not None and answers["truth"] is not None:
        return "gold comes from data.gold_column and answers.truth both; keep one"
    return None


def _check_table(values: dict[str, Any], base: Path) -> str | None:
    data = values["data"]
    if data["source"] is None:
        return "data.table names a table of data.source, which is not set" if data["table"] is not None else None
    if data["table"] is not None and (GLOB.search(data["source"]) or (base / data["source"]).is_dir()):
        return f"data.table is set, so data.source must be one DuckDB file, not {data['source']!r}"
    if (base / data["source"]).resolve() == (base / values["store"]).resolve():
        return f"data.source and store are the same file {data['source']!r}; keep the source data out of the vote store"
    return None


def _check_label_type(values: dict[str, Any], base: Path) -> str | None:
    """The keys that depend on ``labels.type``: each task checks its own (:func:`weaksup.pipeline.tasks.check`)."""
    from weaksup.pipeline.tasks import check

    return check(Settings.from_values(values))


def _check_stream(values: dict[str, Any], base: Path) -> str | None:
    """What a streamed source needs: ids from a column, Parquet/CSV files, no whole-source step."""
    data = values["data"]
    if not data["stream"]:
        if data["memory_limit"] != STREAM_MEMORY_LIMIT:
            return "data.memory_limit caps DuckDB in a streamed run: set data.stream = true, or drop data.memory_limit"
        return None
    if data["id_column"] is None:
        return "data.stream = true needs data.id_column: content-hash ids number duplicates across the whole source"
    if data["table"] is not None or Path(data["source"]).suffix.lower() not in (".parquet", ".csv"):
        return f"data.stream = true reads Parquet or CSV files (or a glob of them), not {data['source']!r}"
    if data["duplicate_ids"] != "error" or data["encoding"].lower().replace("-", "") != "utf8":
        return "data.stream = true reads UTF-8 and refuses repeated ids: drop data.duplicate_ids and data.encoding"
    if not PIPELINE_TYPES[values["labels"]["type"]].streams:
        streamed, whole = (" and ".join(n for n, t in PIPELINE_TYPES.items() if t.streams is s) for s in (True, False))
        return f"data.stream = true is for {streamed} labels; {whole} runs load their source whole"
    if values["trainer"]["name"] != "none":
        return ("data.stream = true needs trainer.name = 'none': the end model trains in memory (train it on the "
                "exported training set)")
    return None


CROSS_CHECKS: list[Callable[[dict[str, Any], Path], str | None]] = [
    _check_votes, _check_table, _check_label_type, _check_stream,
]
"""Checks across keys, run after every key is valid: each returns a problem or ``None``."""

__getattr__ = moved(__name__, {"CHECKS": "weaksup.pipeline.cross_checks:CROSS_CHECKS"})
