"""The package keeps its shape: typed settings match the schema, one task per pipeline label type,
SQL on the store's tables and its connection only under weaksup/store, no private names across
modules, LF kinds and label types asked and never named outside their modules, registries filled in
their own modules, no import cycles, and modules and functions of a readable size."""

from __future__ import annotations

import ast
import dataclasses
import re
import typing
from pathlib import Path

from weaksup.apply.kinds import LF_KINDS
from weaksup.label_types import LABEL_TYPES, PIPELINE_TYPES
from weaksup.pipeline.schema import SCHEMA, Section
from weaksup.pipeline.settings import Settings
from weaksup.pipeline.tasks import TASKS
from weaksup.store.reports import LABEL_COLUMNS
from weaksup.store.schema import VOTE_COLUMNS

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
    assert set(TASKS) == set(choices) == set(PIPELINE_TYPES)
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


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """The lines of ``path`` that are code: not comments, doctest lines or docstring-only lines."""
    return [(n, line) for n, line in enumerate(path.read_text().splitlines(), 1)
            if not line.lstrip().startswith(("#", ">>>", "..."))]  # fmt: skip


def test_an_lf_kinds_name_is_tested_only_in_its_own_module():
    """The applier, the engines and the runner ask an LF's kind (weaksup.apply.kinds.kind_of); none of
    them tests which kind it is."""
    names = "|".join(LF_KINDS)
    tests = re.compile(
        rf"(?<!dtype)\.kind\s*(==|!=|\bin\b|\bnot in\b)"  # lf.kind == ..., lf.kind in (...)
        rf"|(==|!=)\s*[\"']({names})[\"']|[\"']({names})[\"']\s*(==|!=|\bin\b)"  # ... == "prompt"
    )
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name == "kinds" and path.stem in LF_KINDS:
            continue
        found += [f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}" for n, line in _code_lines(path) if tests.search(line)]
    assert found == []


STORE_COLUMNS = {*VOTE_COLUMNS, *LABEL_COLUMNS, "ex_key", "n_votes"}
"""The votes' and labels' columns: one of them is called like a label type (``ranking``)."""


def _names_a_label_type(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value in LABEL_TYPES


def _tests_a_label_types_name(node: ast.AST) -> bool:
    """``x == "ranking"``, ``x in ("categorical", ...)``, ``{"ranking": ...}``, ``TASKS["ranking"]``, or a
    literal collection of names, but for the store's columns and the pipeline file's sections that
    share a type's name."""
    sections = {t.section for t in LABEL_TYPES.values()}
    if isinstance(node, ast.Compare):
        return any(_tests_a_label_types_name(x) or _names_a_label_type(x) for x in (node.left, *node.comparators))
    if isinstance(node, ast.Subscript):
        return _names_a_label_type(node.slice)
    if isinstance(node, ast.Dict):
        named = [k.value for k in node.keys if k is not None and _names_a_label_type(k)]
        keys = [k.value if isinstance(k, ast.Constant) else None for k in node.keys]
        return bool(named) and not set(keys) <= STORE_COLUMNS and not set(named) <= sections
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        values = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
        return any(_names_a_label_type(e) for e in node.elts) and not set(values) <= STORE_COLUMNS
    return False


def test_a_label_types_name_is_tested_only_in_its_own_modules():
    """Every registry keyed by label type is built from weaksup.label_types.LABEL_TYPES, and code asks
    a type (its traits and methods) rather than testing its name; only the type's own modules (its
    label type, task, report type, label and end model: named after it) may."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.stem in LABEL_TYPES:
            continue
        tree = ast.parse(path.read_text())
        found += [f"{path.relative_to(PACKAGE)}:{node.lineno}: {ast.unparse(node)[:120]}" for node in ast.walk(tree)
                  if _tests_a_label_types_name(node)]  # fmt: skip
    assert found == []


def test_the_check_of_label_type_names_finds_what_it_should():
    """The check above is not vacuous: the forks the label-type axis replaced are found, the store's
    columns and the pipeline's sections are not."""
    forks = ['lf.label_type == "categorical"', 'labels.type != "ranking"', 'x in ("categorical", "regression")',
             'VOTE_COLUMN = {"categorical": "label"}', 'TASKS["regression"]', 'CHOICES = ["categorical", "ranking"]']  # fmt: skip
    shared = ['column not in ("label", "value", "ranking", "payload")', 'SCHEMA = {"data": 1, "ranking": 2, "regression": 3}']
    flagged = lambda code: any(_tests_a_label_types_name(n) for n in ast.walk(ast.parse(code)))  # noqa: E731
    assert [code for code in forks if not flagged(code)] == []
    assert [code for code in shared if flagged(code)] == []


def _imported_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def test_no_registry_is_filled_by_an_import_side_effect():
    """A module never adds to another module's registry when it is imported (a dict or list it
    imported, changed at module level): every registry is filled where it is defined."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        imported = _imported_names(tree)
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AugAssign) else []
            for target in targets:
                if isinstance(target, (ast.Subscript, ast.Attribute)) and ast.unparse(target).split("[")[0].split(".")[0] in imported:
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {ast.unparse(node)}")
            call = node.value if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) else None
            if call is not None and isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name) \
                    and call.func.value.id in imported and call.func.attr in ("update", "setdefault", "append", "add", "extend", "register"):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {ast.unparse(node)}")
    assert found == []


def test_the_stores_connection_is_used_only_under_store():
    """Outside weaksup/store nothing reaches a store's DuckDB connection: the LLM code gets an
    LLMCache handle, the report a read-only ReportReader."""
    con = re.compile(r"\._?con\b(?!\w)")
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.relative_to(PACKAGE).parts[0] == "store":
            continue
        found += [f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}" for n, line in _code_lines(path) if con.search(line)]
    assert found == []


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        out[".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The weaksup modules ``name`` imports, at any level but under ``if TYPE_CHECKING:``."""

    def resolve(dotted: str) -> str | None:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    tree = ast.parse(path.read_text())
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                   for part in node.body for n in ast.walk(part)}  # fmt: skip
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str | None] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            out |= {resolve(a.name) for a in node.names if a.name.startswith("weaksup")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            if base.startswith("weaksup"):
                out |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else resolve(base) for a in node.names}
    return {m for m in out if m is not None and m != name}


def test_no_two_modules_import_each_other_even_through_others():
    """The import graph of weaksup's modules (a package counts as its __init__) has no cycle: every
    dependency points one way, down the data flow."""
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    cycles = []

    def visit(node: str, trail: list[str], done: set[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in trail:
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt not in done:
                visit(nxt, [*trail, nxt], done)
        done.add(node)

    done: set[str] = set()
    for name in sorted(graph):
        if name not in done:
            visit(name, [name], done)
    assert cycles == []


def test_modules_and_functions_stay_readable_in_size():
    """No module over 400 lines; no function over 60 lines in the apply step and the store."""
    long_modules = [f"{p.relative_to(PACKAGE)}: {n}" for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400]
    long_functions = []
    for folder in ("apply", "store"):
        for path in (PACKAGE / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60:
                    long_functions.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1}")
    assert long_modules == [] and long_functions == []
