"""Prompted LFs for YouTube comment spam (classes: HAM = 0, SPAM = 1), after *Language Models
in the Loop* (Smith et al., 2022): several yes/no questions per comment, each answer mapped to
a vote or an abstain.

They run on any OpenAI-compatible server: set ``OPENAI_BASE_URL`` (and ``OPENAI_API_KEY`` if the
server needs one).  The model is ``$WEAKSUP_LLM_MODEL``, by default the local
``SmolLM2-135M-Instruct`` that ``weaksup serve-model`` serves; the model name is part of
every LF's version, so switching models re-labels (from the cache when the prompts were
already asked of that model).  Questions were written by reading the WRENCH youtube
train and valid splits only.

Comments are cut to 600 characters (a few are very long) by :func:`comment`.
"""

import os

from weaksup.llm import PromptLabelingFunction

HAM, SPAM = 0, 1
MODEL = os.environ.get("WEAKSUP_LLM_MODEL", "SmolLM2-135M-Instruct")
SYSTEM = "You check YouTube comments for spam. Answer the question about the comment with one word: yes or no."


def comment(x):
    """The template's ``{text}``: the comment, whitespace-normalised and cut to 600 characters."""
    return {"text": " ".join(str(x.text).split())[:600]}


def ask(name, question, labels, **options):
    """A yes/no question about the comment, as a prompted LF.  The comment comes last, so all
    prompts of one LF share a prefix that servers with prefix caching evaluate once."""
    template = question + ' Answer yes or no.\nComment: "{text}"'
    return PromptLabelingFunction(name, template, labels, MODEL, system=SYSTEM, fields=comment, **options)


QUESTIONS = {
    "llm_asks_to_subscribe": ("Does the comment ask people to subscribe to a channel?", {"yes": SPAM}),
    "llm_promotes_own_content": (
        "Does the writer advertise their own channel, videos, music, website or page?",
        {"yes": SPAM},
    ),
    "llm_asks_to_visit": (
        "Does the comment ask people to check out, visit, click or watch something else?",
        {"yes": SPAM},
    ),
    "llm_has_link": ("Does the comment contain a link or a website address?", {"yes": SPAM}),
    "llm_money_or_prizes": (
        "Does the comment offer money, prizes, gift cards, jobs or ways to earn money?",
        {"yes": SPAM},
    ),
    "llm_asks_for_likes": ("Does the comment beg for likes, thumbs up, shares or followers?", {"yes": SPAM}),
    "llm_about_the_song": ("Is the comment only about the song, the singer or this music video?", {"yes": HAM}),
    "llm_likes_the_song": ("Does the comment say the writer loves or likes this song or video?", {"yes": HAM}),
    "llm_is_spam": (
        "Is this comment spam (advertising, self-promotion or requests to subscribe, visit or click)?",
        {"yes": SPAM, "no": HAM},
    ),
    "llm_is_spam_json": (
        "Is this comment spam, i.e. does it advertise something instead of talking about the video?",
        {"yes": SPAM, "no": HAM},
    ),
}
"""LF name -> (question, label map): ``benchmarks/llm_lfs.py`` builds calibrated and few-shot variants from them."""

asks_to_subscribe = ask("llm_asks_to_subscribe", *QUESTIONS["llm_asks_to_subscribe"])
promotes_own_content = ask("llm_promotes_own_content", *QUESTIONS["llm_promotes_own_content"])
asks_to_visit = ask("llm_asks_to_visit", *QUESTIONS["llm_asks_to_visit"])
has_link = ask("llm_has_link", *QUESTIONS["llm_has_link"])
money_or_prizes = ask("llm_money_or_prizes", *QUESTIONS["llm_money_or_prizes"])
asks_for_likes = ask("llm_asks_for_likes", *QUESTIONS["llm_asks_for_likes"])
about_the_song = ask("llm_about_the_song", *QUESTIONS["llm_about_the_song"])
likes_the_song = ask("llm_likes_the_song", *QUESTIONS["llm_likes_the_song"])
is_spam = ask("llm_is_spam", *QUESTIONS["llm_is_spam"], mode="logprobs")
is_spam_json = ask("llm_is_spam_json", *QUESTIONS["llm_is_spam_json"], mode="json")
