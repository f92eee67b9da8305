"""One :class:`~.base.LabelKind` per label type, side by side: the only place the LF report
differs by ``labels.type``.

- :mod:`.categorical`: a class per example;
- :mod:`.ranking`: an order of each example's items;
- :mod:`.regression`: a real value per example.

:mod:`.base` holds the contract and the measures the kinds share.  The report asks
:func:`kind_for` with a run's label type.
"""

from __future__ import annotations

from weaksup.report.types.base import Chart, LabelKind
from weaksup.report.types.categorical import Categorical
from weaksup.report.types.ranking import Ranking
from weaksup.report.types.regression import Regression

KINDS: dict[str, LabelKind] = {kind.name: kind for kind in (Categorical(), Ranking(), Regression())}
"""The report's kind of each label type (``labels.type``)."""

__all__ = ["KINDS", "Chart", "LabelKind", "kind_for"]


def kind_for(label_type: str) -> LabelKind:
    """The kind of ``label_type``; a clear error for a label type the report does not know."""
    try:
        return KINDS[label_type]
    except KeyError:
        raise ValueError(f"the report knows labels.type {sorted(KINDS)}, not {label_type!r}") from None
