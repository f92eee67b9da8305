"""Prompted LFs for SMS spam (classes: HAM = 0, SPAM = 1), in the style of
labeling_functions/youtube_spam_prompts.py: yes/no questions about each message, each answer
mapped to a vote or an abstain.  Questions were written by reading the WRENCH sms train and
valid splits only.

The model is ``$WEAKSUP_LLM_MODEL``, by default the local ``SmolLM2-135M-Instruct`` that
``weaksup serve-model`` serves.  Messages are cut to 400 characters by :func:`message`.
:func:`ask` takes a prompted LF's options (``mode``, ``shots``, ``dev``, ``calibrate``...), so
``benchmarks/llm_lfs.py`` builds its calibrated and few-shot variants from :data:`QUESTIONS`.
"""

import os

from weaksup.llm import PromptLabelingFunction

HAM, SPAM = 0, 1
MODEL = os.environ.get("WEAKSUP_LLM_MODEL", "SmolLM2-135M-Instruct")
SYSTEM = "You check text messages for spam. Answer the question about the message with one word: yes or no."

QUESTIONS = {
    "llm_sms_is_spam": (
        "Is this text message spam (an advertisement, a prize or offer, or a request to call or text a number)?",
        {"yes": SPAM, "no": HAM},
    ),
    "llm_sms_prize": ("Does the message say the reader has won a prize, cash, a holiday or a reward?", {"yes": SPAM}),
    "llm_sms_call_or_text": (
        "Does the message ask the reader to call, text or reply to a number or a short code?",
        {"yes": SPAM},
    ),
    "llm_sms_personal": ("Is this a personal message between friends, family or colleagues?", {"yes": HAM}),
}
"""LF name -> (question, label map)."""


def message(x):
    """The template's ``{text}``: the message, whitespace-normalised and cut to 400 characters."""
    return {"text": " ".join(str(x.text).split())[:400]}


def ask(name, question, labels, **options):
    """A yes/no question about the message, as a prompted LF (the message last: a shared prefix)."""
    template = question + ' Answer yes or no.\nMessage: "{text}"'
    return PromptLabelingFunction(name, template, labels, MODEL, system=SYSTEM, fields=message, **options)


is_spam = ask("llm_sms_is_spam", *QUESTIONS["llm_sms_is_spam"], mode="logprobs")
prize = ask("llm_sms_prize", *QUESTIONS["llm_sms_prize"], mode="logprobs")
call_or_text = ask("llm_sms_call_or_text", *QUESTIONS["llm_sms_call_or_text"], mode="logprobs")
personal = ask("llm_sms_personal", *QUESTIONS["llm_sms_personal"], mode="logprobs")
