"""Prompted labeling functions: ask a language model, through any OpenAI-compatible server.

Importing this package registers the ``"prompt"`` LF kind with the applier, so
prompted LFs mix freely with Python LFs in one LF set.

>>> from weaksup.llm import PromptLabelingFunction
>>> from weaksup.apply import BATCH_APPLIERS
>>> "prompt" in BATCH_APPLIERS
True
"""

from weaksup.store.llm_cache import usage_by_lf, usage_by_run
from weaksup.llm.client import LLMSettings, LLMSetupError
from weaksup.llm.dry_run import DryRunReport, dry_run
from weaksup.llm.prompt_lf import (
    PromptLabelingFunction,
    normalize_answer,
    prompt_labeling_function,
)
from weaksup.llm.session import LLMSession, apply_prompt_lfs, configure

__all__ = [
    "DryRunReport",
    "LLMSession",
    "LLMSettings",
    "LLMSetupError",
    "PromptLabelingFunction",
    "apply_prompt_lfs",
    "configure",
    "dry_run",
    "normalize_answer",
    "prompt_labeling_function",
    "usage_by_lf",
    "usage_by_run",
]
