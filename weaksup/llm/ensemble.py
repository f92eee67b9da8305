"""Prompt ensembles: one question asked several ways, each way its own LF.

A small model's answer swings with the wording.  :func:`paraphrases` turns several templates of
one question into LFs named ``<name>_1``, ``<name>_2``... sharing every other option; the label
model sees them as separate voters and learns from their agreement how much they repeat each
other, instead of one wording deciding alone.  (Surface forms of an *answer* are summed within
one LF instead: ``verbalizers``, :mod:`.verbalizer`.)

>>> lfs = paraphrases("is_spam", ["Is this spam? {text}", "Is this an ad? {text}"], {"yes": 1, "no": 0}, "m",
...                   mode="logprobs")
>>> [lf.name for lf in lfs], lfs[0].version != lfs[1].version
(['is_spam_1', 'is_spam_2'], True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from weaksup.llm.prompt_lf import PromptLabelingFunction

__all__ = ["paraphrases"]


def paraphrases(
    name: str, templates: Sequence[str], labels: Mapping[str, int], model: str, **options: Any
) -> list[PromptLabelingFunction]:
    """One :class:`PromptLabelingFunction` per template, named ``<name>_<n>`` (from 1), with the same
    ``labels``, ``model`` and keyword ``options``."""
    if len(set(templates)) != len(templates) or not templates:
        raise ValueError(f"paraphrases of {name!r}: give one or more distinct templates")
    return [PromptLabelingFunction(f"{name}_{n}", t, labels, model, **options) for n, t in enumerate(templates, 1)]
