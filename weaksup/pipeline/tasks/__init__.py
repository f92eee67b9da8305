"""One :class:`~.base.Task` per label type, side by side: the only place a run's steps differ by
``labels.type``.  Each is its :class:`~weaksup.label_types.LabelType`'s task.

- :mod:`.categorical`: a class per example;
- :mod:`.ranking`: an order of each example's items (examples shaped by :mod:`.sets`);
- :mod:`.regression`: a real value per example;
- :mod:`.multilabel`: any number of classes per example.

:mod:`.base` holds the contract and what the tasks share; :mod:`.features` picks the ranking and
regression end models' inputs.  The runner asks :func:`task_for`; the config asks :func:`check`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from weaksup.label_types import PIPELINE_TYPES, LabelType
from weaksup.pipeline.settings import Settings
from weaksup.pipeline.tasks.base import InMemoryPrepared, Labeled, Prepared, StreamedPrepared, Task, Trained

TASKS: dict[str, type[Task]] = {name: t.task.load() for name, t in PIPELINE_TYPES.items() if t.task is not None}
"""The task of each label type (``labels.type``), as its :class:`~weaksup.label_types.LabelType` names it."""

__all__ = ["TASKS", "InMemoryPrepared", "Labeled", "Prepared", "StreamedPrepared", "Task", "Trained", "check", "task_for"]


def task_for(settings: Settings, end_model: Any = None) -> Task:
    """The task of the run's label type (``end_model``: an estimator given from Python)."""
    return TASKS[settings.labels.type](settings, end_model)


def check(settings: Settings) -> str | None:
    """The keys that depend on the label type: each type's own section only with it, labels.classes,
    [holdout] and label_model.name only for types that take them, the type's own checks, then an end
    model of the type.  A problem, or ``None``."""
    name = settings.labels.type
    label_type = PIPELINE_TYPES[name]
    for other in PIPELINE_TYPES.values():
        section = other.section
        if section is not None and other is not label_type and getattr(settings, section) is not None:
            return f"[{section}] is for labels.type = {other.name!r}, but labels.type is {name!r}"
    if settings.labels.classes and not label_type.classes:
        return f"labels.classes is for labels.type = {_names(lambda t: t.classes, ' or ')}, not {name!r}; remove it"
    if settings.holdout is not None and not label_type.holdout:
        return f"[holdout] matches texts, for {_names(lambda t: t.holdout, ' and ', quote=False)} labels; a {name} pipeline evaluates on data.test_split"
    if settings.label_model.name not in ("auto", "label_model") and not label_type.label_models:
        return (
            f"label_model.name applies to {_names(lambda t: t.label_models, ' and ', quote=False)} labels; a {name} "
            f"pipeline uses the {name} label model (set its options in label_model.params)"
        )
    problem = TASKS[name].check(settings)
    if problem is None and settings.trainer.name not in label_type.end_models and not label_type.estimators:
        return (f"trainer.name is {settings.trainer.name!r}, which does not fit labels.type = {name!r}; "
                f"use one of {list(label_type.end_models)}")  # fmt: skip
    return problem


def _names(has: Callable[[LabelType], bool], joined: str, quote: bool = True) -> str:
    """The pipeline label types with a trait, for messages: ``'categorical'``."""
    return joined.join(repr(t.name) if quote else t.name for t in PIPELINE_TYPES.values() if has(t))
