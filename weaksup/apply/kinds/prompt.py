"""Prompted LFs (:mod:`weaksup.llm`, kind ``"prompt"``): a question per example to a language model.

Their batch function (:func:`weaksup.llm.batch.apply_prompt_lfs`: cached, concurrent, retried,
budgeted) reads and writes the store's LLM cache, shares one budget across the run and may stop
mid-chunk, so they run in the process that commits the votes, never on a worker.  A run opens one
LLM session for them, from the pipeline's ``[llm]`` table (else the environment).  The LLM stack
(``openai``) is imported only when prompted LFs are applied.

>>> from weaksup.llm.prompt_lf import PromptLabelingFunction
>>> import polars as pl
>>> lf = PromptLabelingFunction("asks", "Comment: {text}\\nSpam? yes or no", {"yes": 1}, model="m")
>>> PromptKind().columns_read([lf], pl.DataFrame({"example_id": ["a"], "text": ["hi"], "n": [1]}))
{'asks': ['text']}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from weaksup.apply.kinds.base import ApplyContext, LFKind, LFOutput, RunResource
from weaksup.apply.kinds.row import trace_columns

if TYPE_CHECKING:
    from weaksup.llm.prompt_lf import PromptLabelingFunction

__all__ = ["PromptKind"]


class PromptKind(LFKind):
    """Prompted LFs (see the module docstring)."""

    name = "prompt"

    def apply_batch(self, lfs: Sequence[PromptLabelingFunction], chunk: pl.DataFrame, ctx: ApplyContext) -> list[LFOutput]:
        from weaksup.llm.batch import apply_prompt_lfs

        return apply_prompt_lfs(lfs, chunk, ctx)

    def columns_read(self, lfs: Sequence[PromptLabelingFunction], frame: pl.DataFrame) -> dict[str, list[str]]:
        return {
            lf.name: trace_columns(lf.fields, frame) if lf.fields else sorted(set(lf.fields_used) & set(frame.columns))
            for lf in lfs
        }

    def user_code(self, lf: PromptLabelingFunction) -> Sequence[Callable[..., Any]]:
        return () if lf.fields is None else (lf.fields,)

    def open_run(self, state: dict[str, Any], settings: Mapping[str, Any]) -> RunResource:
        from weaksup.llm.session import configure

        return configure(state, settings.get("llm") or {})  # [llm] settings, else the environment
