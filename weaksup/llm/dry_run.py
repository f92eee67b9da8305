"""Count what prompted LFs would send, before anything is spent.

:func:`dry_run` renders every prompt, drops the ones the store's cache already
answers (and repeats of the same prompt), and estimates the tokens of the rest.
The prompts that fit calibrated LFs (:mod:`.deciders`: content-free and dev
examples) are counted too; an LF's own shots are not asked.
Prompt tokens are estimated from the characters of the chat messages at the
model's own tokens-per-character ratio measured on its cached responses, or at
4 characters per token when the cache has none; completion tokens at the
model's cached average, or the LF's ``max_tokens`` (an upper bound).  Nothing is
written and no request is sent.  Non-prompt LFs in ``lfs`` are ignored.

>>> import polars as pl
>>> from weaksup.llm.prompt_lf import PromptLabelingFunction
>>> lf = PromptLabelingFunction("q", "Comment: {text}\\nSpam? yes or no.", {"yes": 1}, "m")
>>> frame = pl.DataFrame({"example_id": ["a", "b", "c"], "text": ["hi", "sub 2 me", "hi"]})
>>> report = dry_run([lf], frame)
>>> report.per_lf.select("examples", "prompts", "cached", "to_send").row(0)
(3, 2, 0, 2)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from weaksup.lf import Row
from weaksup.store.llm_cache import LLMCache
from weaksup.llm.deciders import calibration_messages
from weaksup.llm.prompt_lf import PromptLabelingFunction

if TYPE_CHECKING:
    from weaksup.store import VoteStore

__all__ = ["DryRunReport", "dry_run", "prompted_lfs"]

CHARS_PER_TOKEN = 4.0


@dataclass(frozen=True)
class DryRunReport:
    """Per prompted LF: examples to label, distinct prompts, how many the cache
    answers, how many would be sent, and their estimated prompt/completion tokens."""

    per_lf: pl.DataFrame

    def totals(self) -> dict[str, int]:
        cols = ("examples", "prompts", "cached", "to_send", "est_prompt_tokens", "est_completion_tokens")
        return {c: int(self.per_lf[c].sum()) for c in cols}

    def __str__(self) -> str:
        t = self.totals()
        return (
            f"dry run: {t['to_send']} requests to send ({t['cached']} of {t['prompts']} distinct prompts cached), "
            f"~{t['est_prompt_tokens']} prompt + ~{t['est_completion_tokens']} completion tokens\n{self.per_lf}"
        )


def prompted_lfs(lfs: Sequence[object]) -> list[PromptLabelingFunction]:
    """The prompted LFs of ``lfs`` (the ones a run sends requests for)."""
    return [lf for lf in lfs if isinstance(lf, PromptLabelingFunction)]


def _model_stats(cache: LLMCache, model: str) -> tuple[float, float | None]:
    """(tokens per character of prompt, mean completion tokens) seen in the cache for ``model``."""
    tokens, chars, completion = cache.token_stats(model)
    return (tokens / chars if tokens and chars else 1 / CHARS_PER_TOKEN), completion


def dry_run(
    lfs: Sequence[Any],
    frame: pl.DataFrame,
    store: VoteStore | None = None,
    *,
    dataset: str | None = None,
    ex_keys: np.ndarray | None = None,
) -> DryRunReport:
    """What applying the prompted LFs in ``lfs`` to ``frame`` would send.

    With ``store``, cached prompts are not counted; with ``dataset`` and
    ``ex_keys`` too (the store keys of ``frame``'s rows), only the examples each
    LF version has not been applied to yet are counted, as a run would.
    """
    prompted = prompted_lfs(lfs)
    marks = (
        store.votes.watermarks(dataset, [(lf.name, lf.version) for lf in prompted])
        if store is not None and dataset is not None and ex_keys is not None
        else [None] * len(prompted)
    )
    rows = list(frame.iter_rows(named=True))
    cache = store.llm_cache() if store is not None else LLMCache.in_memory()
    seen: set[str] = set()
    out = []
    try:
        for lf, mark in zip(prompted, marks):
            todo = range(len(rows)) if mark is None else np.flatnonzero(np.asarray(ex_keys) > mark)
            prompts: dict[str, int] = {}
            content_free, dev = calibration_messages(lf)
            for i in todo:
                msgs = lf.messages(lf.fields(Row(rows[i])) if lf.fields else rows[i])
                if not lf.shows(msgs):
                    prompts[lf.cache_key(msgs)] = len(json.dumps(msgs))
            for msgs in [*content_free, *dev] if len(todo) else []:
                prompts[lf.cache_key(msgs)] = len(json.dumps(msgs))
            cached = set(cache.get(prompts))
            new = {k: n for k, n in prompts.items() if k not in cached and k not in seen}
            seen |= set(new)
            ratio, completion = _model_stats(cache, lf.model)
            out.append(
                {
                    "lf_name": lf.name,
                    "lf_version": lf.version,
                    "model": lf.model,
                    "examples": len(todo),
                    "prompts": len(prompts),
                    "cached": len(cached),
                    "to_send": len(new),
                    "est_prompt_tokens": round(sum(new.values()) * ratio),
                    "est_completion_tokens": round(len(new) * (completion or lf.params["max_tokens"])),
                }
            )
    finally:
        cache.close()
    schema = {
        "lf_name": pl.String, "lf_version": pl.String, "model": pl.String, "examples": pl.Int64,
        "prompts": pl.Int64, "cached": pl.Int64, "to_send": pl.Int64,
        "est_prompt_tokens": pl.Int64, "est_completion_tokens": pl.Int64,
    }  # fmt: skip
    return DryRunReport(pl.DataFrame(out, schema=schema))
