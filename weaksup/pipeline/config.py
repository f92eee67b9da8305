"""Pipeline files: TOML, validated against :data:`SCHEMA`, with errors that name the key.

Paths in a pipeline file are relative to the file's own folder, so a pipeline
runs the same from any working directory (cron included).

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> (d / "p.toml").write_text('name = "demo"\\n[data]\\nsorce = "x.csv"\\n')
34
>>> load_config(d / "p.toml")
Traceback (most recent call last):
...
weaksup.pipeline.config.ConfigError: ...p.toml: unknown key 'data.sorce' (line 3); known keys in [data]: ...

The schema (every key, its type, default and meaning) is printed by
``weaksup schema`` and documented in the README.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A pipeline file is invalid; the message names the file, the key path and the line."""


@dataclass(frozen=True)
class Key:
    """One key of the schema: its type(s), whether it is required, its default and doc."""

    types: type | tuple[type, ...]
    doc: str
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] | None = None


SCHEMA: dict[str, Any] = {
    "name": Key(str, "Pipeline name; also names the dataset in the store.", required=True),
    "store": Key(str, "DuckDB vote store file (created if missing).", default="weaksup.duckdb"),
    "data": {
        "source": Key(str, "CSV/Parquet/JSONL file or glob, or a WRENCH folder.", required=True),
        "id_column": Key(str, "Column holding example ids; default: a content hash (WRENCH: split:key)."),
        "split_column": Key(str, "Column naming each example's split.", default="split"),
        "gold_column": Key(str, "Column with gold class ids (null where unknown); used only to evaluate.", default="label"),
        "train_split": Key(str, "Split whose votes fit the label model and train the end model.", default="train"),
        "test_split": Key(str, "Split the end model is evaluated on; it never trains anything.", default="test"),
    },
    "labels": {
        "type": Key(str, "Label type.", default="categorical", choices=("categorical",)),
        "classes": Key(list, "Class names, in class-id order.", required=True),
    },
    "lfs": {
        "modules": Key(list, "Python files defining the LFs (module-level LF objects).", required=True),
        "strict": Key(bool, "Stop at the first LF exception instead of recording it.", default=False),
    },
    "label_model": {
        "name": Key(str, "majority_vote, dawid_skene, label_model or snorkel.", default="label_model"),
        "seed": Key(int, "Seed for the label model and tie-breaks.", default=0),
        "params": Key(dict, "Hyperparameters passed to the label model.", default={}),
    },
    "trainer": {
        "name": Key(str, "End model.", default="tfidf_logreg", choices=("tfidf_logreg", "none")),
        "text_column": Key(str, "Input column the end model reads.", default="text"),
        "params": Key(dict, "Hyperparameters of the end model (C, min_df).", default={}),
    },
    "export": {
        "dir": Key(str, "Folder for per-run exports (training sets, models, manifest).", default="exports"),
        "formats": Key(list, "Any of parquet, jsonl, csv.", default=["parquet"]),
        "keep_uncovered": Key(bool, "Also export examples no LF voted on.", default=False),
    },
}


@dataclass(frozen=True)
class PipelineConfig:
    """A validated pipeline: ``values`` holds every key (defaults filled in)."""

    file: Path
    values: dict[str, Any]
    hash: str

    def __getitem__(self, section: str) -> Any:
        return self.values[section]

    def resolve(self, relative: str) -> Path:
        """A path from the file, made absolute against the file's folder."""
        return (self.file.parent / relative).resolve()


def load_config(file: str | Path) -> PipelineConfig:
    """Read and validate a pipeline file."""
    file = Path(file)
    if not file.exists():
        raise ConfigError(f"pipeline file {str(file)!r} does not exist")
    text = file.read_text()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    values = _validate(raw, SCHEMA, (), file, text)
    _check_paths(values, file)
    return PipelineConfig(file.resolve(), values, hashlib.sha256(text.encode()).hexdigest()[:12])


def _line_of(text: str, path: tuple[str, ...]) -> str:
    """`` (line N)`` for the key's line in the file, when it can be found."""
    section, key = ".".join(path[:-1]), path[-1]
    current = ""
    for lineno, line in enumerate(text.splitlines(), 1):
        header = re.match(r"\s*\[([^\]]+)\]", line)
        if header:
            current = header.group(1).strip()
        elif current == section and re.match(rf"\s*{re.escape(key)}\s*=", line):
            return f" (line {lineno})"
        elif header is None and section and current == "" and re.match(rf"\s*{re.escape(section)}\s*=", line):
            return f" (line {lineno})"
    return ""


def _validate(raw: dict[str, Any], schema: dict[str, Any], prefix: tuple[str, ...], file: Path, text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    where = f"[{'.'.join(prefix)}]" if prefix else "the top level"
    for key, value in raw.items():
        path = (*prefix, key)
        if key not in schema:
            raise ConfigError(
                f"{file}: unknown key {'.'.join(path)!r}{_line_of(text, path)}; known keys in {where}: "
                f"{', '.join(sorted(schema))}"
            )
        spec = schema[key]
        if isinstance(spec, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{file}: {'.'.join(path)!r} must be a table ([{'.'.join(path)}])")
            continue
        if not isinstance(value, spec.types) or (spec.types is int and isinstance(value, bool)):
            names = spec.types.__name__ if isinstance(spec.types, type) else "/".join(t.__name__ for t in spec.types)
            raise ConfigError(
                f"{file}: {'.'.join(path)!r}{_line_of(text, path)} must be a {names}, got {value!r}"
            )
        if spec.choices and value not in spec.choices:
            raise ConfigError(
                f"{file}: {'.'.join(path)!r}{_line_of(text, path)} is {value!r}; choose one of {list(spec.choices)}"
            )
        out[key] = value
    for key, spec in schema.items():
        path = (*prefix, key)
        if isinstance(spec, dict):
            out[key] = _validate(raw.get(key, {}), spec, path, file, text)
        elif key not in out:
            if spec.required:
                raise ConfigError(f"{file}: missing required key {'.'.join(path)!r}: {spec.doc}")
            out[key] = spec.default.copy() if isinstance(spec.default, (list, dict)) else spec.default
    return out


def _check_paths(values: dict[str, Any], file: Path) -> None:
    source = values["data"]["source"]
    if not any(c in source for c in "*?[") and not (file.parent / source).exists():
        raise ConfigError(f"{file}: data.source = {source!r} does not exist (paths are relative to the pipeline file)")
    for i, module in enumerate(values["lfs"]["modules"]):
        if not (file.parent / module).exists():
            raise ConfigError(f"{file}: lfs.modules[{i}] = {module!r} does not exist (paths are relative to the pipeline file)")
    bad = [f for f in values["export"]["formats"] if f not in ("parquet", "jsonl", "csv")]
    if bad:
        raise ConfigError(f"{file}: export.formats has unknown formats {bad}; use parquet, jsonl or csv")
    if len(values["labels"]["classes"]) < 2:
        raise ConfigError(f"{file}: labels.classes needs at least 2 class names")


def schema_doc(schema: dict[str, Any] | None = None, prefix: str = "") -> str:
    """The schema as text: one line per key with its type, default and meaning."""
    lines = []
    for key, spec in (schema or SCHEMA).items():
        name = f"{prefix}{key}"
        if isinstance(spec, dict):
            lines.append(f"[{name}]")
            lines.append(schema_doc(spec, f"{name}."))
        else:
            types = spec.types.__name__ if isinstance(spec.types, type) else "/".join(t.__name__ for t in spec.types)
            req = "required" if spec.required else f"default {spec.default!r}"
            lines.append(f"  {name} ({types}, {req}): {spec.doc}")
    return "\n".join(lines)
