"""The package keeps its shape: typed settings match the schema, one task per pipeline label type,
SQL on the store's tables only under weaksup/store, no private names across modules."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

from weaksup.lf import LABEL_TYPES
from weaksup.pipeline.schema import SCHEMA, Section
from weaksup.pipeline.settings import Settings
from weaksup.pipeline.tasks import TASKS

PACKAGE = Path(__file__).resolve().parents[1] / "weaksup"
TABLES = ("examples", "votes", "lfs", "lf_progress", "runs", "labels", "lf_errors", "meta",
          "llm_cache", "llm_usage", "llm_batches", "llm_failures")  # fmt: skip


def _fields(cls: type, section: Section, path: str) -> list[str]:
    """Mismatches between a settings dataclass and its schema section, recursively."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    problems = [f"{path}: {k} is in the schema, not in {cls.__name__}" for k in section.keys if k not in names]
    problems += [f"{path}: {k} is in {cls.__name__}, not in the schema" for k in names if k not in section.keys]
    for key, spec in section.keys.items():
        if isinstance(spec, Section) and key in names:
            inner = [t for t in typing.get_args(hints[key]) or (hints[key],) if dataclasses.is_dataclass(t)]
            problems += _fields(inner[0], spec, f"{path}.{key}") if inner else [f"{path}.{key} is not a dataclass"]
    return problems


def test_typed_settings_match_the_schema_key_for_key():
    assert _fields(Settings, SCHEMA, "pipeline") == []


def test_one_task_per_pipeline_label_type():
    choices = SCHEMA.keys["labels"].keys["type"].choices  # type: ignore[union-attr]
    assert set(TASKS) == set(choices)
    assert set(LABEL_TYPES) - set(TASKS) == {"metric"}  # metric-space votes: MetricLabelModel from Python
    for name, task in TASKS.items():
        assert task.label_type == name and task.end_models[-1] == "none"


def test_sql_on_the_stores_tables_lives_under_store():
    table = "|".join(TABLES)
    sql = re.compile(rf"\b(FROM|JOIN|INTO|UPDATE|TABLE)\s+({table})\b")  # SQL here is upper case
    found = []
    for path in PACKAGE.rglob("*.py"):
        if "store" in path.relative_to(PACKAGE).parts[:1]:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if sql.search(line) and not line.lstrip().startswith(("#", ">>>", "...")):
                found.append(f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}")
    assert found == []


def test_no_module_imports_another_modules_private_names():
    private = re.compile(r"^\s*from weaksup[.\w]* import .*\b_[a-z]\w*", re.MULTILINE)
    found = [f"{p.relative_to(PACKAGE)}: {m.group(0).strip()}" for p in PACKAGE.rglob("*.py") for m in private.finditer(p.read_text())]
    assert found == []
