"""The label types, one module each on one contract (:mod:`.base`), and their one registry.

- :mod:`.categorical`: a class per example;
- :mod:`.ranking`: an order of each example's items;
- :mod:`.regression`: a real value per example;
- :mod:`.metric`: a value of a metric space (from Python only: its distance is a function);
- :mod:`.multilabel`: any number of classes per example.

Every registry keyed by label type is built from :data:`LABEL_TYPES`: the vote checks and columns
(:mod:`weaksup.apply.checks`), the label types LFs of each kind may vote (:mod:`weaksup.lf`,
:mod:`weaksup.vectorized`, :mod:`weaksup.crowd`), the pipeline tasks (:data:`weaksup.pipeline.tasks.TASKS`),
the report types (:data:`weaksup.report.types.REPORT_TYPES`) and the pipeline file's choices.  A new
label type is a sibling module (with its task, report type, label model and end model) and one line here.

>>> list(LABEL_TYPES)
['categorical', 'ranking', 'regression', 'metric', 'multilabel']
>>> list(PIPELINE_TYPES)
['categorical', 'ranking', 'regression', 'multilabel']
>>> label_type_for("ordinal")
Traceback (most recent call last):
...
ValueError: unknown label type 'ordinal'; use one of categorical, ranking, regression, metric, multilabel
"""

from __future__ import annotations

from weaksup.label_types.base import LabelType, Part, VoteError, VoteReader
from weaksup.label_types.categorical import CATEGORICAL
from weaksup.label_types.metric import METRIC
from weaksup.label_types.multilabel import MULTILABEL
from weaksup.label_types.ranking import RANKING
from weaksup.label_types.regression import REGRESSION

__all__ = ["DEFAULT_LABEL_TYPE", "LABEL_TYPES", "PIPELINE_TYPES", "LabelType", "Part", "VoteError", "VoteReader",
           "label_type_for"]  # fmt: skip

LABEL_TYPES: dict[str, LabelType] = {t.name: t for t in (CATEGORICAL, RANKING, REGRESSION, METRIC, MULTILABEL)}
"""Every label type, by name."""

PIPELINE_TYPES: dict[str, LabelType] = {name: t for name, t in LABEL_TYPES.items() if t.task is not None}
"""The label types a pipeline file can name (``labels.type``): those with a task."""

DEFAULT_LABEL_TYPE = CATEGORICAL.name
"""The label type of an LF or pipeline that names none."""


def label_type_for(name: str) -> LabelType:
    """The label type called ``name``; a ``ValueError`` naming the known ones for another name."""
    found = LABEL_TYPES.get(name)
    if found is None:
        raise ValueError(f"unknown label type {name!r}; use one of {', '.join(LABEL_TYPES)}")
    return found
