"""Fit each calibrated or abstaining prompted LF's decision once per run, from cached or fresh answers.

An LF with ``calibrate``, ``coverage``, ``precision`` or ``min_confidence``
(:mod:`.calibration`) needs answers beyond those of the examples it labels: to its content-free
prompts (contextual calibration) and to its dev examples (batch or gold calibration, coverage,
precision).  :func:`fit_deciders` asks for them through the batch function's own path (the
cache first, then the server, ``ask``) before the LF's first chunk, LF by LF so that each LF's
prompts share their prefix, and keeps the fitted :class:`~weaksup.llm.calibration.Decider` in the
run's state for the chunks that follow.  The answers are cached, so the next run fits the same
decider without a request.

An LF whose fitting answers did not all come back (a fault that outlasted its retries, the
budget, the circuit breaker) cannot vote in this run: it gets the reason instead of a decider,
and its batch stops before its first example, so the next run tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from weaksup.llm.calibration import ARGMAX, Decider, fit
from weaksup.llm.prompt_lf import PromptLabelingFunction
from weaksup.llm.session import SKIPPED, Failure

__all__ = ["calibration_messages", "fit_deciders"]

log = logging.getLogger("weaksup.llm")
STATE_KEY = "prompt.deciders"
Ask = Callable[[dict[str, tuple[PromptLabelingFunction, list[dict[str, str]]]]], Mapping[str, Any]]
"""Answers for ``{cache key: (lf, messages)}``: a response dict, a Failure or SKIPPED per key."""


class NotFitted(Exception):
    """A calibrated LF's fitting answers did not all come back: it cannot vote in this run."""


def fit_deciders(
    lfs: Sequence[PromptLabelingFunction], state: dict[str, Any], ask: Ask
) -> list[Decider | BaseException | None]:
    """Per LF: its decider (the uncalibrated :data:`ARGMAX` for LFs without options), or why it could not
    be fitted (the failure to record, or None when its prompts were skipped by the budget or breaker)."""
    fitted: dict[tuple[str, str], Decider] = state.setdefault(STATE_KEY, {})
    out: list[Decider | BaseException | None] = []
    for lf in lfs:
        key = (lf.name, lf.version)
        if not lf.decision.active:
            out.append(ARGMAX)
        elif key in fitted:
            out.append(fitted[key])
        else:
            got = _fit(lf, ask)
            if isinstance(got, Decider):
                fitted[key] = got
            out.append(got)
    return out


def calibration_messages(lf: PromptLabelingFunction) -> tuple[list[list[dict[str, str]]], list[list[dict[str, str]]]]:
    """The prompts fitting ``lf``'s decision needs beyond its examples': content-free ones, and its
    dev examples' (both empty for an LF without calibration or thresholds)."""
    spec = lf.decision
    content_free = lf.content_free_messages() if spec.uses_content_free else []
    dev_rows = list(lf.dev.rows()) if spec.uses_dev and lf.dev is not None else []
    return content_free, [lf.messages(lf.prompt_values(row)) for row in dev_rows]


def _fit(lf: PromptLabelingFunction, ask: Ask) -> Decider | BaseException | None:
    spec = lf.decision
    content_free, dev_messages = calibration_messages(lf)
    prompts = {lf.cache_key(m): (lf, m) for m in [*content_free, *dev_messages]}
    answers = ask(prompts)
    for result in answers.values():
        if result is SKIPPED:
            return None
        if isinstance(result, Failure):
            return NotFitted(
                f"prompted LF {lf.name!r} could not be calibrated: a calibration prompt failed "
                f"({type(result.exc).__name__}: {result.exc}); the next run tries again"
            )

    def probs(messages: list[list[dict[str, str]]]) -> tuple[np.ndarray, np.ndarray]:
        rows = [lf.verbalizer.probs(answers[lf.cache_key(m)].get("top_logprobs"))[0] for m in messages]
        ok = np.array([p is not None for p in rows], dtype=bool)
        kept = [p for p in rows if p is not None]
        return (np.array(kept) if kept else np.empty((0, len(lf.choices)))), ok

    cf, _ = probs(content_free)
    dev, ok = probs(dev_messages)
    gold = target = None
    if lf.dev is not None and lf.dev.gold is not None and dev_messages:
        gold = lf.dev.gold[ok]
        target = np.array([_choice_index(lf, int(c)) for c in gold])
    try:
        decider = fit(spec, lf.choice_labels, content_free=cf, dev=dev, dev_gold=gold, dev_target=target)
    except ValueError as exc:
        return NotFitted(f"prompted LF {lf.name!r} could not be calibrated: {exc}")
    log.info(
        "prompted LF %s: calibration %s (bias %s, temperature %.3g), threshold %s, from %d content-free and %d dev "
        "answers", lf.name, spec.calibrate or "none", decider.bias, decider.temperature, decider.threshold,
        len(cf), len(dev),
    )  # fmt: skip
    return decider


def _choice_index(lf: PromptLabelingFunction, label: int) -> int:
    try:
        return lf.choices.index(lf.answer_for(label))
    except ValueError:
        return -1
