"""The pipeline file's schema, as data: a :class:`Section` of :class:`Key` entries (type, default,
doc, an optional per-key check); the checks across keys are in :mod:`.cross_checks`.

A new section (say ``[llm]``) is one more entry in :data:`SCHEMA`; ``weaksup schema`` prints it
(:func:`schema_doc`), :mod:`.config` validates it, and :mod:`.settings` gives it a typed view.
Paths are relative to the pipeline file's folder (the ``base`` of each check).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weaksup.end_models.options import SOFT_LABELS, TEXT_FEATURIZERS, check_type_name, end_model_problem
from weaksup.label_types import DEFAULT_LABEL_TYPE, LABEL_TYPES, PIPELINE_TYPES

Check = Callable[[Any, Path], "str | None"]
"""A per-key check: ``(value, pipeline folder) -> problem`` (``None`` when fine)."""


@dataclass(frozen=True)
class Key:
    """One key of the schema: its type(s), whether it is required, its default and doc.

    ``items`` is the type of list items or dict values; ``check`` a further
    check returning a problem (or ``None``), run on each list item if ``each``.  A key that
    ``hashed_at_default`` is false for (one added after pipeline files existed) joins the
    pipeline's hash only when set to another value, so existing pipelines keep their hash.
    """

    types: type | tuple[type, ...]
    doc: str
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] | None = None
    items: type | tuple[type, ...] | None = None
    check: Check | None = None
    each: bool = False
    hashed_at_default: bool = True


@dataclass(frozen=True)
class Section:
    """A TOML table of keys (and sub-sections).  An ``optional`` section is ``None``
    when absent; otherwise its defaults are filled in."""

    doc: str
    keys: dict[str, Key | Section] = field(default_factory=dict)
    optional: bool = False


# -- per-key checks -------------------------------------------------------------------

GLOB = re.compile(r"[*?\[]")


def _exists(value: str, base: Path) -> str | None:
    return None if (base / value).exists() else "does not exist (paths are relative to the pipeline file)"


def is_module_name(entry: str) -> bool:
    """Whether an ``lfs.modules`` entry is a module's dotted name (``rules.spam``) rather than a ``.py`` file."""
    return bool(re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", entry)) and not entry.endswith(".py")


def _file_or_module(value: str, base: Path) -> str | None:
    """An LF module: a file that exists, or a module's dotted name (imported when the run loads its LFs)."""
    if (base / value).exists() or is_module_name(value):
        return None
    return "does not exist (paths are relative to the pipeline file; a module name is dotted, without .py)"


def _exists_or_glob(value: str, base: Path) -> str | None:
    return None if GLOB.search(value) else _exists(value, base)


def _positive(value: int, base: Path) -> str | None:
    return None if value > 0 else "must be positive"


def _share(value: float, base: Path) -> str | None:
    return None if 0 <= value <= 1 else "must be a share between 0 and 1"


def _at_least_two(value: int, base: Path) -> str | None:
    return None if value >= 2 else "must be at least 2"


def _cron(value: str, base: Path) -> str | None:
    from weaksup.pipeline.schedule import CronError, parse_cron

    try:
        parse_cron(value)
    except CronError as exc:
        return str(exc)
    return None


def _timezone(value: str, base: Path) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return "is not a known IANA time zone (e.g. 'UTC', 'Europe/Paris')"
    return None


STREAM_MEMORY_LIMIT = "256MB"
"""``data.memory_limit``'s default.  A 1M-example run stays under it, so it is also what keeps a
larger run's memory level with a smaller one's; the store reads a key range at a time
(:meth:`~weaksup.store.VoteStore.key_range_batches`), which a cap this small needs."""


def _size(value: str, base: Path) -> str | None:
    from weaksup.store import memory_size_problem  # the store's own check of what DuckDB takes

    return memory_size_problem(value)


def _class_prior(value: str | list, base: Path) -> str | None:
    if isinstance(value, str):  # a named prior, else proportions
        return None if value in ("learned", "uniform", "gold") else "must be learned, uniform, gold or a list of proportions"
    if not value or not all(isinstance(p, (int, float)) and not isinstance(p, bool) and p > 0 for p in value):
        return "as proportions must be positive numbers, one per class"
    return None if abs(sum(value) - 1.0) <= 1e-6 else f"as proportions must sum to 1, not {sum(value):.6g}"


END_MODELS = {e: name for name, t in PIPELINE_TYPES.items() for e in t.end_models if e != "none"}
"""Each ``trainer.name`` but ``none``, with the label type whose end model it is."""


def _either(items: Iterable[str]) -> str:
    """``a, b or c``: for help texts."""
    items = list(items)
    return f"{', '.join(items[:-1])} or {items[-1]}" if len(items) > 1 else "".join(items)


def _formats(value: list[str], base: Path) -> str | None:
    bad = [f for f in value if f not in ("parquet", "jsonl", "csv")]
    return f"has unknown formats {bad}; use parquet, jsonl or csv" if bad else None


SCHEMA = Section(
    "A weaksup pipeline.",
    {
        "name": Key(str, "Pipeline name; also names the dataset in the store.", required=True),
        "store": Key(str, "DuckDB vote store file (created if missing).", default="weaksup.duckdb"),
        "data": Section(
            "The examples to label.",
            {
                "source": Key(
                    str,
                    "CSV/Parquet/JSONL file or glob, a WRENCH folder, or a DuckDB file (with data.table). Required "
                    "unless [answers] is given: then the answers' items are the examples.",
                    check=_exists_or_glob,
                ),
                "table": Key(str, "Table or view to read when data.source is a DuckDB file."),
                "rename": Key(dict, "Columns to rename on load, old = new; other keys use the new names.",
                              default={}, items=str),
                "id_column": Key(str, "Column holding example ids; default: a content hash (WRENCH: split:key)."),
                "encoding": Key(str, "Text encoding of CSV/JSONL files, e.g. utf-8, latin-1, cp1252.", default="utf-8"),
                "duplicate_ids": Key(
                    str,
                    "Rows sharing an id: error, drop_identical (keep one of identical rows; different rows "
                    "are an error) or keep_last.",
                    default="error",
                    choices=("error", "drop_identical", "keep_last"),
                ),
                "split_column": Key(str, "Column naming each example's split (absent: all are train).",
                                    default="split"),
                "gold_column": Key(str, "Column with the gold labels (null where unknown), used only to evaluate and "
                                   "never shown to LFs; unset: `label` if the data has it. A column named here must "
                                   "be in the data."),
                "train_split": Key(str, "Split whose votes fit the label model and train the end model.",
                                   default="train"),
                "test_split": Key(str, "Split the end model is evaluated on; it never trains anything.",
                                  default="test"),
                "dev_split": Key(str, "Split whose gold labels choose the default label model by least log-loss, "
                                 "give class_prior = 'gold' its proportions and check a learned one.", default="valid"),
                "stream": Key(bool, "Read the source in batches, never whole (Parquet/CSV files or a glob; needs "
                              "id_column, categorical labels and trainer.name = 'none').", default=False),
                "memory_limit": Key(str, "DuckDB's memory cap in a streamed run, e.g. '1GB': past it, the store spills "
                                    "to disk. More is faster on a large run; the default keeps a 10M-example run's "
                                    "memory level with a 1M one's.", default=STREAM_MEMORY_LIMIT, check=_size),
            },
        ),
        "holdout": Section(
            "An external labeled evaluation set: data rows whose match_column equals one of its texts are "
            "dropped before LF application and training, and the end model is evaluated on it.",
            {
                "source": Key(str, "CSV/Parquet/JSONL file or a WRENCH folder.", required=True, check=_exists),
                "split": Key(str, "Split to take from a WRENCH folder (e.g. test)."),
                "text_column": Key(str, "Holdout column holding the text.", default="text"),
                "gold_column": Key(str, "Holdout column holding gold class ids.", default="label"),
                "match_column": Key(str, "Data column compared (exactly) with the holdout text.", default="text"),
            },
            optional=True,
        ),
        "labels": Section(
            "The label space.",
            {
                "type": Key(
                    str,
                    f"Label type: {_either(f'{n} ({t.doc})' for n, t in PIPELINE_TYPES.items())}; one task each "
                    "(weaksup.pipeline.tasks). LFs may also vote "
                    + "; ".join(t.doc for n, t in LABEL_TYPES.items() if n not in PIPELINE_TYPES) + ".",
                    default=DEFAULT_LABEL_TYPE,
                    choices=tuple(PIPELINE_TYPES),
                ),
                "classes": Key(list, "Class (or label) names, in id order, for the types that name them.", default=[], items=str),
            },
        ),
        "ranking": Section(
            "Ranking examples (labels.type = 'ranking'): each example is a set of items, its item ids in a list "
            "column and each item field in a list aligned with them (weaksup.pipeline.tasks.sets).",
            {
                "items_column": Key(str, "List column holding each example's item ids.", default="items"),
                "set_size": Key(int, "Draw each example as a random set of this many data rows (a table of items, "
                                "data.id_column their ids), from one split's rows; unset: rows are sets already.",
                                check=_at_least_two),
                "sets": Key(dict, "With set_size: how many sets each split gets, e.g. { train = 1000, test = 500 }.",
                            default={}, items=int),
                "seed": Key(int, "Seed of the set draw (the same seed draws the same sets).", default=0),
                "ndcg_k": Key(int, "k of the NDCG@k reported beside Kendall tau.", default=5, check=_positive),
            },
            optional=True,
        ),
        "regression": Section(
            "Regression labels (labels.type = 'regression').",
            {
                "gold_labels": Key(int, "Train gold values (data.gold_column, drawn with label_model.seed) that fix "
                                   "the label's scale and offset, 0 to 50; 0: standardised, or in the units of "
                                   "label_model.params.reference_lf.", default=50),
            },
            optional=True,
        ),
        "lfs": Section(
            "The labeling functions.",
            {
                "modules": Key(list, "Python files (paths) or modules (dotted names, imported from the pipeline's "
                               "folder or wherever Python finds modules) defining the LFs (module-level LF objects); "
                               "may be empty when [answers] gives the votes.", default=[], items=str,
                               check=_file_or_module, each=True),
                "strict": Key(bool, "Stop at the first LF exception instead of recording it.", default=False),
                "chunk_size": Key(int, "Examples per committed chunk: a crash loses at most one chunk's work "
                                  "(lower it for slow LFs, e.g. LLM prompts). Unset: 100,000, or 1,000,000 for "
                                  "vectorized LFs alone (commits would cost a third of their work at 100,000); "
                                  "100,000 for every kind with data.stream.", check=_positive),
                "max_error_rate": Key((int, float), "Fail the run when an LF errs (raises, or its LLM requests fail) "
                                      "on more than this share of the examples it was applied to in the run, 0 to "
                                      "1; the votes already computed are kept. Unset: never.", check=_share),
            },
        ),
        "answers": Section(
            "Recorded answers (crowd workers, annotators) as votes, with no LF code: each worker is an LF of kind "
            "'answers' (weaksup.crowd), versioned by a hash of its answers. Answers join the examples by id "
            "(data.id_column); without data.source the answers' items are the examples. Categorical answers name "
            "labels.classes; regression answers are numbers; ranking pipelines take no answers.",
            {
                "source": Key(str, "CSV (with a header row) or Parquet file: one row per item, worker and answer.",
                              required=True, check=_exists),
                "item_column": Key(str, "Column holding the item (an example id); unset: the file's first column."),
                "worker_column": Key(str, "Column holding the worker (the LF name); unset: the second column."),
                "answer_column": Key(str, "Column holding the answer; unset: the third column."),
                "truth": Key(str, "CSV/Parquet file of item and truth (its first two columns): gold labels, used only "
                             "to evaluate, as data.gold_column would be.", check=_exists),
                "classes_by": Key(str, "How categorical answers and truths name classes: name (a labels.classes "
                                  "entry), id (a class id 0..k-1), or auto (names when every answer is one, else ids).",
                                  default="auto", choices=("auto", "name", "id")),
                "repeats": Key(str, "A worker answering an item more than once: the first or last answer counts, or "
                               "error.", default="first", choices=("first", "last", "error")),
            },
            optional=True,
        ),
        "label_model": Section(
            "The label model.",
            {
                "name": Key(str, "label_model (the default: AutoLabelModel, also called auto), firing_rates, "
                            "majority_vote, dawid_skene or snorkel (any name weaksup.model registers).",
                            default="label_model"),
                "seed": Key(int, "Seed for the label model and tie-breaks.", default=0),
                "params": Key(dict, "Hyperparameters passed to the label model.", default={}),
                "class_prior": Key((str, list), "Class prior P(y) (categorical) of the rows no LF votes on: 'learned', "
                                   "'uniform', 'gold' (data.dev_split's gold proportions) or one proportion per class "
                                   "summing to 1.", default="learned", check=_class_prior),
            },
        ),
        "trainer": Section(
            "The end model.",
            {
                "name": Key(str, f"End model: {_either([*(f'{e} ({n})' for e, n in END_MODELS.items()), 'none'])}; "
                            "or (categorical) a classifier's entry point in 'weaksup.end_models' or import path.",
                            default=PIPELINE_TYPES[DEFAULT_LABEL_TYPE].end_models[0],
                            check=lambda v, base: end_model_problem(v, END_MODELS)),
                "text_column": Key(str, "Input column the end model reads as text (when the data has it).", default="text"),
                "params": Key(dict, "The end model's hyperparameters (tfidf_logreg: C, min_df; pairwise_ranker: C, max_pairs; "
                              "soft_regressor: HistGradientBoostingRegressor's; others: the constructor's).", default={}),
                "features": Key(list, "Input columns the end model reads (default: numbers, and for categorical labels "
                                "short-valued strings, no LF reads); never a column an LF reads.", items=str),
                "exclude_columns": Key(list, "Columns the end model must not read, beside the LFs'.", default=[], items=str),
                "text_featurizer": Key(str, "Categorical estimators' text features: tfidf, hashing (no vocabulary) or "
                                       "embeddings.", default="tfidf", choices=TEXT_FEATURIZERS, hashed_at_default=False),
                "soft_labels": Key(str, "Soft labels to an estimator: expand (a weighted row per class), argmax (weighted "
                                   "by confidence) or auto.", default="auto", choices=SOFT_LABELS, hashed_at_default=False),
                "trusted_types": Key(list, "Exact type names (module.Class) a skops end-model file may hold beyond "
                                     "weaksup's.", default=[], items=str, check=lambda v, base: check_type_name(v),
                                     each=True, hashed_at_default=False),
            },
        ),
        "export": Section(
            "Per-run exports: <dir>/run-NNNN/ with manifest.json; <dir>/LATEST names the newest.",
            {
                "dir": Key(str, "Folder for per-run exports (training sets, models, manifest).", default="exports"),
                "formats": Key(list, "Any of parquet, jsonl, csv.", default=["parquet"], items=str, check=_formats),
                "keep_uncovered": Key(bool, "Also export examples no LF voted on; their label is the label model's "
                                       "prior, and their label_source column says 'prior' (others: 'votes').",
                                       default=False),
                "report": Key(bool, "Write report.html (the LF report, `weaksup report`) into each run folder.", default=True),
                "suspicious": Key(bool, "Also flag suspicious labels in each run's report (the cleanlab extra; it trains "
                                  "5 end models, so it is off by default: `weaksup report` always checks).",
                                  default=False),
            },
        ),
        "llm": Section(
            "Model server for prompted LFs (any OpenAI-compatible API). The API key is never in this file: "
            "it is read from the environment variable named by api_key_env.",
            {
                "base_url": Key(str, "Server URL, usually ending in /v1; default: $OPENAI_BASE_URL, else OpenAI's API."),
                "api_key_env": Key(str, "Environment variable holding the API key.", default="OPENAI_API_KEY"),
                "concurrency": Key(int, "Requests in flight at once.", default=8, check=_positive),
                "timeout": Key((int, float), "Seconds before a request is abandoned and retried.", default=60.0),
                "max_attempts": Key(int, "Tries per request; 429, 5xx, timeouts and connection errors are retried.",
                                    default=5, check=_positive),
                "max_retry_wait": Key((int, float), "Most seconds to wait when the server asks to (Retry-After); a "
                                      "server asking for longer twice stops the LF for the run.", default=120.0,
                                      check=_positive),
                "max_requests": Key(int, "Budget: HTTP requests per run (never exceeded). Unset: unlimited.",
                                    check=_positive),
                "max_tokens": Key(int, "Budget: prompt + completion tokens per run; may be overshot by the requests "
                                  "in flight (at most `concurrency`). Unset: unlimited.", check=_positive),
                "flush_every": Key(int, "Responses per cache write: a crash loses at most this many.", default=64,
                                   check=_positive),
                "max_consecutive_failures": Key(int, "Circuit breaker: after this many connection failures in a "
                                                "row, prompted LFs stop for the run (the next run asks again).",
                                                default=10, check=_positive),
            },
            optional=True,
        ),
        "engine": Section(
            "Where row-wise and vectorized LFs run; the client process always writes the store.",
            {
                "name": Key(str, "serial (this process), processes (worker processes on this machine), dask "
                            "(a dask.distributed cluster; the weaksup[dask] extra) or spark (mapInArrow on a Spark "
                            "application; the weaksup[spark] extra and Java 17+).", default="serial",
                            choices=("serial", "processes", "dask", "spark")),
                "workers": Key(int, "Worker processes (processes), LocalCluster workers (dask without address) or "
                               "local[workers] cores (spark without address).",
                               default=2, check=_positive),
                "address": Key(str, "Dask scheduler address, e.g. tcp://scheduler:8786, or Spark master URL, e.g. "
                               "spark://master:7077; unset: a LocalCluster, or local[workers] (or the running "
                               "Spark application's session)."),
                "threads_per_worker": Key(int, "Threads per LocalCluster worker (dask).", default=1, check=_positive),
            },
            optional=True,
        ),
        "schedule": Section(
            "When `weaksup schedule` runs the pipeline.",
            {
                "cron": Key(str, "Cron expression, standard 5 fields (minute hour day month weekday; 1-5 = "
                            "Mon-Fri, 0 and 7 = Sun).", required=True, check=_cron),
                "timezone": Key(str, "IANA time zone the expression is read in; default: the machine's.",
                                check=_timezone),
            },
            optional=True,
        ),
    },
)


def with_defaults(values: Mapping[str, Any], section: Section) -> dict[str, Any]:
    """``values`` with every key of ``section`` that it lacks set to the key's default (an
    absent optional section to ``None``): how a run's stored values read after new keys appear."""
    out: dict[str, Any] = {}
    for key, spec in section.keys.items():
        if isinstance(spec, Section):
            given = values.get(key)
            out[key] = None if given is None and spec.optional else with_defaults(given or {}, spec)
        else:
            out[key] = values[key] if key in values else (
                spec.default.copy() if isinstance(spec.default, (list, dict)) else spec.default)  # fmt: skip
    return out
