"""Pipeline files: TOML, validated against :data:`~.schema.SCHEMA`, with errors that name the key.

Paths in a pipeline file are relative to the file's own folder, so a pipeline
runs the same from any working directory (cron included).

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "p.toml").write_text('name = "demo"\\n[data]\\nsorce = "x.csv"\\n')
>>> load_config(d / "p.toml")
Traceback (most recent call last):
...
weaksup.pipeline.config.ConfigError: ...p.toml: unknown key 'data.sorce' (line 3); known keys in [data]: ...

The schema itself is data, in :mod:`.schema`; this module reads a file (or a dict), applies
``--set`` overrides, validates the values against the schema with messages that name the key
and its line, runs the cross-key checks, and returns a :class:`PipelineConfig` whose
``settings`` are typed (:mod:`.settings`).
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weaksup.pipeline.cross_checks import CROSS_CHECKS
from weaksup.pipeline.schema import SCHEMA, Key, Section
from weaksup.pipeline.schema_doc import type_names
from weaksup.pipeline.settings import Settings


class ConfigError(ValueError):
    """A pipeline file is invalid; the message names the file, the key path and the line."""


@dataclass(frozen=True)
class PipelineConfig:
    """A validated pipeline: ``values`` holds every key (defaults filled in), ``settings``
    the same as typed sections (:class:`~weaksup.pipeline.settings.Settings`).

    ``hash`` is a hash of the validated values (so comments and key order do
    not change it, but ``--set`` overrides do).
    """

    file: Path
    values: dict[str, Any]
    hash: str
    settings: Settings

    def resolve(self, relative: str) -> Path:
        """A path from the file, made absolute against the file's folder."""
        return (self.file.parent / relative).resolve()


def load_config(file: str | Path, overrides: Sequence[str] = ()) -> PipelineConfig:
    """Read and validate a pipeline file, after applying ``KEY=VALUE`` overrides.

    An override's value is read as a TOML value (``seed=3``, ``formats=["csv"]``),
    or as a plain string when it is not one (``source=data/*.csv``).
    """
    file = Path(file)
    if not file.exists():
        raise ConfigError(f"pipeline file {str(file)!r} does not exist")
    text = file.read_text()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    return _checked(raw, _Context(file, text, {_override(raw, item, file) for item in overrides}))


def config_from_dict(values: Mapping[str, Any], folder: str | Path) -> PipelineConfig:
    """Validate a pipeline given as a dict (the TOML file's tables as nested dicts), with paths
    relative to ``folder``: a run from Python or a notebook, with no pipeline file."""
    file = Path(folder) / "<pipeline dict>"
    return _checked(json.loads(json.dumps(values)), _Context(file, "", set()))


def _checked(raw: dict[str, Any], ctx: _Context) -> PipelineConfig:
    values = _validate(raw, SCHEMA, (), ctx)
    for check in CROSS_CHECKS:
        problem = check(values, ctx.file.parent)
        if problem:
            raise ConfigError(f"{ctx.file}: {problem}")
    digest = hashlib.sha256(json.dumps(_hashed(values, SCHEMA), sort_keys=True, default=str).encode()).hexdigest()[:12]
    return PipelineConfig(ctx.file.resolve(), values, digest, Settings.from_values(values))


def _hashed(values: Any, section: Section) -> Any:
    """``values`` without the keys at their default that the schema keeps out of the hash."""
    if not isinstance(values, dict):
        return values
    out = {}
    for name, value in values.items():
        spec = section.keys.get(name)
        if isinstance(spec, Key) and not spec.hashed_at_default and value == spec.default:
            continue
        out[name] = _hashed(value, spec) if isinstance(spec, Section) else value
    return out


def store_of(file: str | Path) -> Path:
    """The store a pipeline file names, read without validating the rest of the file
    (so ``weaksup status`` works, and fast, even while the file is being edited)."""
    file = Path(file)
    try:
        raw = tomllib.loads(file.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read pipeline file {str(file)!r}: {exc}") from None
    store = raw.get("store", SCHEMA.keys["store"].default)  # type: ignore[union-attr]
    if not isinstance(store, str):
        raise ConfigError(f"{file}: 'store'{_line_of(file.read_text(), ('store',))} must be a str, got {store!r}")
    return (file.parent / store).resolve()


def name_of(file: str | Path) -> str | None:
    """The ``name`` a pipeline file gives, read like :func:`store_of` (None when it gives none)."""
    try:
        name = tomllib.loads(Path(file).read_text()).get("name")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read pipeline file {str(file)!r}: {exc}") from None
    return name if isinstance(name, str) else None


@dataclass(frozen=True)
class _Context:
    file: Path
    text: str
    overridden: set[tuple[str, ...]]

    def where(self, path: tuple[str, ...]) -> str:
        """`` (line N)`` or `` (from --set)`` for a key."""
        if path in self.overridden:
            return " (from --set)"
        return _line_of(self.text, path)


def _override(raw: dict[str, Any], item: str, file: Path) -> tuple[str, ...]:
    key, sep, text = item.partition("=")
    path = tuple(p.strip() for p in key.strip().split("."))
    if not sep or not all(path):
        raise ConfigError(f"{file}: override {item!r} must look like section.key=value (e.g. data.source=x.csv)")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    table = raw
    for part in path[:-1]:
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{file}: override {item!r}: {part!r} is not a table")
    table[path[-1]] = value
    return path


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


def _is(value: Any, types: type | tuple[type, ...]) -> bool:
    """isinstance, except that a bool is not an int (TOML keeps them apart)."""
    wanted = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool) and bool not in wanted:
        return False
    return isinstance(value, wanted)


def _validate(raw: dict[str, Any], section: Section, prefix: tuple[str, ...], ctx: _Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    where = f"[{'.'.join(prefix)}]" if prefix else "the top level"
    for key, value in raw.items():
        path = (*prefix, key)
        name = ".".join(path)
        spec = section.keys.get(key)
        if spec is None:
            raise ConfigError(
                f"{ctx.file}: unknown key {name!r}{ctx.where(path)}; known keys in {where}: "
                f"{', '.join(sorted(section.keys))}"
            )
        if isinstance(spec, Section):
            if not isinstance(value, dict):
                raise ConfigError(f"{ctx.file}: {name!r}{ctx.where(path)} must be a table ([{name}])")
            continue
        if not _is(value, spec.types):
            raise ConfigError(f"{ctx.file}: {name!r}{ctx.where(path)} must be a {type_names(spec.types)}, got {value!r}")
        if spec.items is not None:
            members = value.values() if isinstance(value, dict) else value
            bad = [v for v in members if not _is(v, spec.items)]
            if bad:
                raise ConfigError(
                    f"{ctx.file}: {name!r}{ctx.where(path)} must hold {type_names(spec.items)} values, got {bad[0]!r}"
                )
        if spec.choices and value not in spec.choices:
            raise ConfigError(f"{ctx.file}: {name!r}{ctx.where(path)} is {value!r}; choose one of {list(spec.choices)}")
        if spec.check is not None:
            for label, item in ([(f"{name}[{i}]", v) for i, v in enumerate(value)] if spec.each else [(name, value)]):
                problem = spec.check(item, ctx.file.parent)
                if problem:
                    raise ConfigError(f"{ctx.file}: {label} = {item!r} {problem}{ctx.where(path)}")
        out[key] = value
    for key, spec in section.keys.items():
        path = (*prefix, key)
        if isinstance(spec, Section):
            if key not in raw and spec.optional:
                out[key] = None
            else:
                out[key] = _validate(raw.get(key, {}), spec, path, ctx)
        elif key not in out:
            if spec.required:
                raise ConfigError(f"{ctx.file}: missing required key {'.'.join(path)!r}: {spec.doc}")
            out[key] = spec.default.copy() if isinstance(spec.default, (list, dict)) else spec.default
    return out


