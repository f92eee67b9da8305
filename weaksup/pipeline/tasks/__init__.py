"""One :class:`~.base.Task` per label type, side by side: the only place a run's steps differ by
``labels.type``.

- :mod:`.categorical`: a class per example;
- :mod:`.ranking`: an order of each example's items (examples shaped by :mod:`.sets`);
- :mod:`.regression`: a real value per example.

:mod:`.base` holds the contract and what the tasks share; :mod:`.features` picks the ranking and
regression end models' inputs.  The runner asks :func:`task_for`; the config asks :func:`check`.
"""

from __future__ import annotations


from weaksup.pipeline.settings import Settings
from weaksup.pipeline.tasks import categorical, ranking, regression
from weaksup.pipeline.tasks.base import InMemoryPrepared, Labeled, Prepared, StreamedPrepared, Task, Trained

TASKS: dict[str, type[Task]] = {
    "categorical": categorical.CategoricalTask,
    "ranking": ranking.RankingTask,
    "regression": regression.RegressionTask,
}
"""The task of each label type (``labels.type``)."""

__all__ = ["TASKS", "InMemoryPrepared", "Labeled", "Prepared", "StreamedPrepared", "Task", "Trained", "check", "task_for"]


def task_for(settings: Settings) -> Task:
    """The task of the run's label type."""
    return TASKS[settings.labels.type](settings)


def check(settings: Settings) -> str | None:
    """The keys that depend on the label type: each type's own sections only with it, an end model
    of the type, then the type's own checks.  A problem, or ``None``."""
    label_type = settings.labels.type
    for section in ("ranking", "regression"):
        if getattr(settings, section) is not None and label_type != section:
            return f"[{section}] is for labels.type = {section!r}, but labels.type is {label_type!r}"
    if label_type != "categorical":
        if settings.labels.classes:
            return f"labels.classes is for labels.type = 'categorical', not {label_type!r}; remove it"
        if settings.holdout is not None:
            return f"[holdout] matches texts, for categorical labels; a {label_type} pipeline evaluates on data.test_split"
        if settings.label_model.name not in ("auto", "label_model"):
            return (
                f"label_model.name applies to categorical labels; a {label_type} pipeline uses the {label_type} "
                "label model (set its options in label_model.params)"
            )
        end_models = TASKS[label_type].end_models
        if settings.trainer.name not in end_models:
            return (f"trainer.name is {settings.trainer.name!r}, which does not fit labels.type = {label_type!r}; "
                    f"use one of {list(end_models)}")  # fmt: skip
    return TASKS[label_type].check(settings)
