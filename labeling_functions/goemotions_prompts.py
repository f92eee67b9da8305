"""Prompted multi-label LFs for GoEmotions: one yes/no question per label, asked of a language model.

Each LF asks whether a comment expresses one label, in ``mode="logprobs"`` (the probability of
"yes" and "no" from the first token), and votes that label present when the answer is "yes"; a
"no" abstains (it says nothing about the label).  ``labels={"yes": j}`` is how a prompted LF votes
label ``j`` of a multi-label pipeline: its class id is stored as "label ``j`` present".

They run on any OpenAI-compatible server: set ``OPENAI_BASE_URL`` (and ``OPENAI_API_KEY`` if the
server needs one).  The model is ``$WEAKSUP_LLM_MODEL``, by default the local
``SmolLM2-135M-Instruct`` that ``weaksup serve-model`` serves.  The module-level LFs (over
:data:`TUTORIAL_LABELS`, as ``pipelines/goemotions.toml`` orders them) use contextual calibration,
which needs no data; :func:`lfs_for` builds them for any label list with other options
(``benchmarks/multilabel_prompted.py`` calibrates on a dev set and abstains below a coverage).
Questions were written from the label names and the GoEmotions paper's definitions, not from scores.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from weaksup.llm import PromptLabelingFunction

TUTORIAL_LABELS = ["admiration", "annoyance", "approval", "curiosity", "gratitude", "optimism"]
"""The six labels of Argilla's tutorial subset, in label-id order (as in goemotions.py)."""
MODEL = os.environ.get("WEAKSUP_LLM_MODEL", "SmolLM2-135M-Instruct")
SYSTEM = "You read Reddit comments. Answer the question about the comment with one word: yes or no."

QUESTIONS = {
    "admiration": "Does the writer express admiration, praise or respect for someone or something?",
    "annoyance": "Is the writer annoyed or irritated?",
    "approval": "Does the writer agree with or approve of something?",
    "curiosity": "Is the writer curious, wanting to know or understand something?",
    "gratitude": "Does the writer thank someone or express gratitude?",
    "optimism": "Is the writer hopeful or optimistic about the future?",
}
"""Label -> the yes/no question asked about each comment."""


def comment(x: Any) -> dict[str, str]:
    """The template's ``{text}``: the comment, whitespace-normalised and cut to 600 characters."""
    return {"text": " ".join(str(x.text).split())[:600]}


def ask(label: str, classes: Sequence[str] = TUTORIAL_LABELS, **options: Any) -> PromptLabelingFunction:
    """The question about ``label`` as a prompted multi-label LF voting it present on "yes" (its id:
    its position in ``classes``).  The comment comes last, so all prompts of one LF share a prefix."""
    template = QUESTIONS[label] + ' Answer yes or no.\nComment: "{text}"'
    return PromptLabelingFunction(f"llm_{label}", template, {"yes": list(classes).index(label)}, MODEL, system=SYSTEM,
                                  fields=comment, mode="logprobs", label_type="multilabel", **options)  # fmt: skip


def lfs_for(classes: Sequence[str], **options: Any) -> list[PromptLabelingFunction]:
    """One LF per label of ``classes`` that has a question (``options``: the prompted LF's own)."""
    return [ask(label, classes, **options) for label in classes if label in QUESTIONS]


# The pipeline's LFs: module-level objects, as weaksup.pipeline.sources collects them.
globals().update({lf.name: lf for lf in lfs_for(TUTORIAL_LABELS, calibrate="contextual")})
