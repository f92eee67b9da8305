"""One :class:`~.base.ReportType` per label type, side by side: the only place the LF report
differs by ``labels.type``.  Each is its :class:`~weaksup.label_types.LabelType`'s report type.

- :mod:`.categorical`: a class per example;
- :mod:`.ranking`: an order of each example's items;
- :mod:`.regression`: a real value per example;
- :mod:`.multilabel`: any number of classes per example.

:mod:`.base` holds the contract and the measures the types share.  The report asks
:func:`report_type_for` with a run's label type.
"""

from __future__ import annotations

from weaksup.deprecated import moved
from weaksup.label_types import PIPELINE_TYPES
from weaksup.report.types.base import Chart, ReportType, RunData

REPORT_TYPES: dict[str, ReportType] = {name: t.report_type.load()() for name, t in PIPELINE_TYPES.items() if t.report_type}
"""The report's type of each label type (``labels.type``), as its :class:`~weaksup.label_types.LabelType` names it."""

__all__ = ["REPORT_TYPES", "Chart", "ReportType", "RunData", "report_type_for"]

__getattr__ = moved(__name__, {
    "KINDS": "weaksup.report.types:REPORT_TYPES",
    "LabelKind": "weaksup.report.types.base:ReportType",
    "kind_for": "weaksup.report.types:report_type_for",
})  # fmt: skip


def report_type_for(label_type: str) -> ReportType:
    """The report type of ``label_type``; a clear error for a label type the report does not know."""
    try:
        return REPORT_TYPES[label_type]
    except KeyError:
        raise ValueError(f"the report knows labels.type {sorted(REPORT_TYPES)}, not {label_type!r}") from None
