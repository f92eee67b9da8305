"""Prompted labeling functions: ask a language model, through any OpenAI-compatible server.

The LF kind (:mod:`.prompt_lf`; how answers are read: :mod:`.verbalizer`; few-shot examples and
dev sets: :mod:`.fewshot`; calibration and abstaining: :mod:`.calibration`, fitted per run by
:mod:`.deciders`; paraphrased LFs: :mod:`.ensemble`), its batch function (:mod:`.batch`: cached,
concurrent, retried, budgeted), the run's session and budget (:mod:`.session`), the client and its
retries (:mod:`.client`), the fail-fast checks (:mod:`.preflight`, :mod:`.breaker`), costs
(:mod:`.costs`), a dry run that counts what a run would send (:mod:`.dry_run`) and a
local model server (:mod:`.serve`).  The cache and usage tables are the store's
(:mod:`weaksup.store.llm_cache`).  Prompted LFs are the ``"prompt"`` LF kind
(:mod:`weaksup.apply.kinds.prompt`), so they mix freely with Python LFs in one LF set.
"""

from weaksup.llm.client import LLMSettings, LLMSetupError
from weaksup.llm.dry_run import DryRunReport, dry_run
from weaksup.llm.ensemble import paraphrases
from weaksup.llm.fewshot import DevSet, Shot, draw_shots
from weaksup.llm.prompt_lf import (
    PromptLabelingFunction,
    normalize_answer,
    prompt_labeling_function,
)
from weaksup.llm.batch import apply_prompt_lfs
from weaksup.llm.session import LLMSession, configure
from weaksup.llm.usage import usage_by_lf, usage_by_run

__all__ = [
    "DevSet",
    "DryRunReport",
    "LLMSession",
    "LLMSettings",
    "LLMSetupError",
    "PromptLabelingFunction",
    "Shot",
    "apply_prompt_lfs",
    "configure",
    "draw_shots",
    "dry_run",
    "normalize_answer",
    "paraphrases",
    "prompt_labeling_function",
    "usage_by_lf",
    "usage_by_run",
]
