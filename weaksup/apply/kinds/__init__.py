"""The LF kinds, one module each on one contract (:mod:`.base`), and their one registry.

- :mod:`.row`: row-wise Python LFs (:mod:`weaksup.lf`), called once per example;
- :mod:`.vectorized`: polars expressions (:mod:`weaksup.vectorized`), one query per chunk;
- :mod:`.prompt`: prompts to a language model (:mod:`weaksup.llm`), cached and budgeted;
- :mod:`.answers`: recorded answers of crowd workers (:mod:`weaksup.crowd`).

The applier, the engines and the runner ask an LF's kind (:func:`kind_of`) what to do with it;
they never test a kind's name.  A new kind is a sibling module and one line of :data:`LF_KINDS`.

>>> sorted(LF_KINDS)
['answers', 'prompt', 'row', 'vectorized']
>>> [name for name, kind in LF_KINDS.items() if kind.portable]
['row', 'vectorized']
"""

from __future__ import annotations

from collections.abc import Iterable

from weaksup.apply.kinds.answers import AnswersKind
from weaksup.apply.kinds.base import ApplyContext, LabelingFunctionLike, LFKind, LFOutput, RunResource
from weaksup.apply.kinds.prompt import PromptKind
from weaksup.apply.kinds.row import RowKind
from weaksup.apply.kinds.vectorized import VectorizedKind

__all__ = [
    "LF_KINDS",
    "ApplyContext",
    "LFKind",
    "LFOutput",
    "LabelingFunctionLike",
    "RunResource",
    "kind_of",
    "kinds_of",
]

LF_KINDS: dict[str, LFKind] = {kind.name: kind for kind in (RowKind(), VectorizedKind(), PromptKind(), AnswersKind())}
"""Every LF kind, by name."""


def kind_of(lf: LabelingFunctionLike) -> LFKind:
    """The kind of ``lf`` (by its ``kind`` name); a ``ValueError`` naming the LF for an unknown one."""
    kind = LF_KINDS.get(getattr(lf, "kind", None))  # type: ignore[arg-type]
    if kind is None:
        raise ValueError(
            f"LF {getattr(lf, 'name', lf)!r} has kind {getattr(lf, 'kind', None)!r}, which no applier handles; "
            f"LF kinds are {sorted(LF_KINDS)}"
        )
    return kind


def kinds_of(lfs: Iterable[LabelingFunctionLike]) -> dict[LFKind, list[int]]:
    """The kinds of ``lfs``, each with the positions of its LFs, in order of first appearance."""
    groups: dict[LFKind, list[int]] = {}
    for j, lf in enumerate(lfs):
        groups.setdefault(kind_of(lf), []).append(j)
    return groups
