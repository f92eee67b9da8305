"""Prompted labeling functions: ask a language model, through any OpenAI-compatible server.

The LF kind (:mod:`.prompt_lf`), its batch function (:mod:`.batch`: cached, concurrent,
retried, budgeted), the run's session and budget (:mod:`.session`), the client and its
retries (:mod:`.client`), a dry run that counts what a run would send (:mod:`.dry_run`) and a
local model server (:mod:`.serve`).  The cache and usage tables are the store's
(:mod:`weaksup.store.llm_cache`).  Prompted LFs are the ``"prompt"`` LF kind
(:mod:`weaksup.apply.kinds.prompt`), so they mix freely with Python LFs in one LF set.
"""

from weaksup.llm.client import LLMSettings, LLMSetupError
from weaksup.llm.dry_run import DryRunReport, dry_run
from weaksup.llm.prompt_lf import (
    PromptLabelingFunction,
    normalize_answer,
    prompt_labeling_function,
)
from weaksup.llm.batch import apply_prompt_lfs
from weaksup.llm.session import LLMSession, configure
from weaksup.llm.usage import usage_by_lf, usage_by_run

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
