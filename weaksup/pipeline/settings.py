"""Typed views of a validated pipeline file: one frozen dataclass per section.

:mod:`.config` validates the TOML against its schema (types, defaults, checks, messages that
name the key and line); :class:`Settings` is what the rest of weaksup reads from it, so a run
says ``settings.data.train_split`` instead of indexing dicts.  Each dataclass's fields are
the section's keys (a test keeps the two in step), and :meth:`Settings.from_values` fills keys
an older run's stored values lack from the schema's defaults.

>>> s = Settings.from_values({"name": "demo", "data": {"source": "x.csv"}, "lfs": {"modules": ["lfs.py"]}})
>>> s.data.train_split, s.labels.type, s.holdout is None, s.label_model.name
('train', 'categorical', True, 'label_model')
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from weaksup.pipeline.schema import SCHEMA, STREAM_MEMORY_LIMIT, with_defaults


@dataclass(frozen=True)
class DataSettings:
    """``[data]``: the examples to label."""

    source: str | None
    table: str | None
    rename: dict[str, str]
    id_column: str | None
    duplicate_ids: str
    split_column: str
    gold_column: str | None
    train_split: str
    test_split: str
    encoding: str
    dev_split: str = "valid"
    stream: bool = False
    memory_limit: str = STREAM_MEMORY_LIMIT


@dataclass(frozen=True)
class HoldoutSettings:
    """``[holdout]``: an external labeled evaluation set (categorical runs)."""

    source: str
    split: str | None
    text_column: str
    gold_column: str
    match_column: str


@dataclass(frozen=True)
class LabelsSettings:
    """``[labels]``: the label type and, for categorical labels, the class names."""

    type: str
    classes: list[str]


@dataclass(frozen=True)
class RankingSettings:
    """``[ranking]``: how ranking examples are shaped."""

    items_column: str
    set_size: int | None
    sets: dict[str, int]
    seed: int
    ndcg_k: int


@dataclass(frozen=True)
class RegressionSettings:
    """``[regression]``: how many gold values fix y's units."""

    gold_labels: int


@dataclass(frozen=True)
class LFsSettings:
    """``[lfs]``: the LF modules and how they are applied."""

    modules: list[str]
    strict: bool
    chunk_size: int | None
    max_error_rate: float | None = None


@dataclass(frozen=True)
class AnswersSettings:
    """``[answers]``: recorded answers as votes, one LF per worker (:mod:`weaksup.pipeline.answers`)."""

    source: str
    item_column: str | None
    worker_column: str | None
    answer_column: str | None
    truth: str | None
    classes_by: str
    repeats: str


@dataclass(frozen=True)
class LabelModelSettings:
    """``[label_model]``: which label model, its seed, hyperparameters and class prior."""

    name: str
    seed: int
    params: dict[str, Any]
    class_prior: str | list[float] = "learned"


@dataclass(frozen=True)
class TrainerSettings:
    """``[trainer]``: the end model."""

    name: str
    text_column: str
    params: dict[str, Any]
    features: list[str] | None
    exclude_columns: list[str]
    text_featurizer: str = "tfidf"
    soft_labels: str = "auto"
    trusted_types: list[str] = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class ExportSettings:
    """``[export]``: where and how each run's outputs are written."""

    dir: str
    formats: list[str]
    keep_uncovered: bool
    report: bool
    suspicious: bool


@dataclass(frozen=True)
class LLMSectionSettings:
    """``[llm]``: the model server prompted LFs talk to."""

    base_url: str | None
    api_key_env: str
    concurrency: int
    timeout: float
    max_attempts: int
    max_retry_wait: float
    max_requests: int | None
    max_tokens: int | None
    flush_every: int
    max_consecutive_failures: int = 10


@dataclass(frozen=True)
class EngineSettings:
    """``[engine]``: where row-wise and vectorized LFs run."""

    name: str
    workers: int
    address: str | None
    threads_per_worker: int


@dataclass(frozen=True)
class ScheduleSettings:
    """``[schedule]``: when ``weaksup schedule`` runs the pipeline."""

    cron: str
    timezone: str | None


@dataclass(frozen=True)
class Settings:
    """A whole validated pipeline."""

    name: str
    store: str
    data: DataSettings
    holdout: HoldoutSettings | None
    labels: LabelsSettings
    ranking: RankingSettings | None
    regression: RegressionSettings | None
    lfs: LFsSettings
    answers: AnswersSettings | None
    label_model: LabelModelSettings
    trainer: TrainerSettings
    export: ExportSettings
    llm: LLMSectionSettings | None
    engine: EngineSettings | None
    schedule: ScheduleSettings | None

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Settings:
        """Typed settings from validated values (``PipelineConfig.values`` or a run's stored params);
        keys absent from ``values`` take the schema's default."""
        return _build(cls, with_defaults(values, SCHEMA))


T = TypeVar("T")


def _build(cls: type[T], values: Mapping[str, Any]) -> T:
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        value = values.get(f.name)
        section = _section_type(hints[f.name])
        kwargs[f.name] = _build(section, value) if section is not None and value is not None else value
    return cls(**kwargs)


def _section_type(hint: Any) -> type | None:
    """The dataclass a field holds (``X`` or ``X | None``), else None."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    found = [t for t in options if dataclasses.is_dataclass(t)]
    return found[0] if found else None  # type: ignore[return-value]
