"""Prompted LFs without a server: answers, structured output, logprob scoring, versions, set-up errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from weaksup.llm import (
    LLMSettings,
    LLMSetupError,
    PromptLabelingFunction,
    normalize_answer,
    prompt_labeling_function,
)
from weaksup.llm.client import retry_after_seconds

HAM, SPAM = 0, 1
TEMPLATE = "Comment: {text}\nIs this comment spam? Answer yes or no."


def make(**kw):
    args = {"name": "is_spam", "template": TEMPLATE, "labels": {"yes": SPAM, "no": HAM}, "model": "m"}
    args.update(kw)
    return PromptLabelingFunction(**args)


@pytest.mark.parametrize(
    "raw, expected",
    [
        (" Yes.", "yes"),
        ("NO!!", "no"),
        ("Yes, it is spam", "yes it is spam"),
        ("\tno\n", "no"),
        ("Ｙｅｓ", "yes"),
        ("", ""),
    ],
)
def test_normalize_answer(raw, expected):
    assert normalize_answer(raw) == expected


def test_text_answers_map_through_labels_and_the_rest_is_off_label():
    lf = make()
    assert [lf.parse({"content": c}).label for c in ["Yes", " yes.", "No, it is not", "YES!"]] == [1, 1, 0, 1]
    for content in ["Maybe", "yesterday I saw it", "The answer is yes"]:
        assert lf.parse({"content": content}).outcome == "off_label"
        assert lf.parse({"content": content}).label == -1
    assert lf.parse({"content": None}).outcome == "malformed"
    assert lf.parse({}).outcome == "malformed"


def test_yes_only_labels_still_accept_no_as_an_answer_that_abstains():
    lf = make(labels={"yes": SPAM})
    assert lf.choices == ("no", "yes")
    assert lf.parse({"content": "No."}) == lf.parse({"content": "no"})
    assert lf.parse({"content": "No."}).outcome == "ok"
    assert lf.parse({"content": "No."}).label == -1


def test_longest_matching_choice_wins():
    lf = make(labels={"spam": SPAM, "not spam": HAM}, template="{text}: spam or not spam?")
    assert lf.parse({"content": "Not spam."}).label == HAM
    assert lf.parse({"content": "spam"}).label == SPAM


def test_json_mode_sends_an_enum_schema_and_reads_the_answer():
    lf = make(mode="json", labels={"spam": SPAM, "ham": HAM}, template="{text}: spam or ham?")
    schema = lf.params["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["answer"]["enum"] == ["ham", "spam"]
    assert schema["required"] == ["answer"]
    assert lf.parse({"content": '{"answer": "spam"}'}).label == SPAM
    assert lf.parse({"content": '{"answer": " Ham "}'}).label == HAM
    assert lf.parse({"content": '{"answer": "eggs"}'}).outcome == "off_label"
    for bad in ['{"answer": ', "spam", '{"reply": "spam"}', '{"answer": 1}', "[1]"]:
        assert lf.parse({"content": bad}).outcome == "malformed", bad


def test_logprob_scoring_gives_a_vote_with_its_normalised_probability():
    lf = make(mode="logprobs")
    assert lf.params["logprobs"] is True and lf.params["max_tokens"] == 1
    top = [["Yes", math.log(0.5)], [" yes", math.log(0.1)], ["No", math.log(0.2)], ["The", math.log(0.2)]]
    answer = lf.parse({"top_logprobs": top})
    assert answer.label == SPAM
    assert answer.confidence == pytest.approx(0.6 / 0.8)
    # a token that starts exactly one choice counts for it ("N" -> "no")
    answer = lf.parse({"top_logprobs": [["N", math.log(0.3)], ["Y", math.log(0.1)]]})
    assert answer.label == HAM and answer.confidence == pytest.approx(0.75)
    assert lf.parse({"top_logprobs": [["The", -0.1], ["I", -1.0]]}).outcome == "off_label"
    assert lf.parse({"top_logprobs": None}).outcome == "malformed"
    assert lf.parse({"top_logprobs": [["Yes", "x"]]}).outcome == "malformed"


def test_logprob_vote_for_an_unmapped_choice_abstains_without_confidence():
    lf = make(mode="logprobs", labels={"yes": SPAM})
    answer = lf.parse({"top_logprobs": [["No", -0.1], ["Yes", -3.0]]})
    assert (answer.label, answer.confidence, answer.outcome) == (-1, None, "ok")


def test_messages_fill_the_template_and_add_the_system_prompt():
    lf = make(system="You label YouTube comments.")
    assert lf.messages({"text": "hi", "other": 1}) == [
        {"role": "system", "content": "You label YouTube comments."},
        {"role": "user", "content": "Comment: hi\nIs this comment spam? Answer yes or no."},
    ]
    assert make(template="{{literal}} {text}").messages({"text": "x"})[0]["content"] == "{literal} x"


def test_version_changes_with_what_changes_the_answer_and_nothing_else():
    base = make()
    assert make().version == base.version
    assert make(name="renamed").version == base.version  # the name is the LF's identity, not its version
    changed = [
        make(template=TEMPLATE + " "),
        make(labels={"yes": SPAM}),
        make(labels={"yes": HAM, "no": SPAM}),
        make(model="other"),
        make(temperature=0.5),
        make(max_tokens=3),
        make(system="be terse"),
        make(mode="logprobs"),
        make(params={"seed": 1}),
        make(choices=["yes", "no", "maybe"]),
    ]
    versions = {lf.version for lf in changed}
    assert base.version not in versions and len(versions) == len(changed)


def test_version_is_stable_across_processes():
    code = (
        "from weaksup.llm import PromptLabelingFunction as P; "
        f"print(P('is_spam', {TEMPLATE!r}, {{'yes': 1, 'no': 0}}, 'm', params={{'seed': 3, 'top_p': 1.0}}).version)"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == make(params={"top_p": 1.0, "seed": 3}).version


def test_decorator_uses_the_function_name_and_its_fields():
    @prompt_labeling_function(template="Comment: {short}\nSpam? yes or no.", labels={"yes": SPAM}, model="m")
    def short_spam(x):
        return {"short": x.text[:5]}

    class Row:
        text = "subscribe to my channel"

    assert short_spam.name == "short_spam" and short_spam.kind == "prompt"
    assert short_spam.messages(short_spam.fields(Row()))[0]["content"].startswith("Comment: subsc\n")

    @prompt_labeling_function(template="Comment: {short}\nSpam? yes or no.", labels={"yes": SPAM}, model="m")
    def short_spam_2(x):
        return {"short": x.text[:6]}

    assert short_spam_2.version != short_spam.version  # the field function's source is hashed


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"template": "Comment: {0}"}, "template field {0} must be a plain column name"),
        ({"template": "Comment: {x.text}"}, "template field {x.text} must be a plain column name"),
        ({"template": "Comment: {text"}, "template is not a valid format string"),
        ({"labels": {}}, "labels must be a non-empty mapping"),
        ({"labels": {"yes": "SPAM"}}, "answer 'yes' maps to 'SPAM'"),
        ({"labels": {"yes": -2}}, "map answers to a class id (0..k-1) or ABSTAIN (-1)"),
        ({"labels": {"Yes": 1, "yes!": 0}}, "both normalise to 'yes'"),
        ({"labels": {"?": 1}}, "answer '?' is empty once normalised"),
        ({"choices": ["spam", "ham"]}, "labels answer(s) ['no', 'yes'] are not among choices"),
        ({"choices": ["yes", "Yes", "no"]}, "are empty or repeat once normalised"),
        ({"mode": "grammar"}, "mode 'grammar' is not one of"),
        ({"model": ""}, "model must be a model name string"),
        ({"params": {"temperature": 1.0}}, "params ['temperature'] are set by the LF's own arguments"),
        ({"name": ""}, "LF name must be a non-empty string"),
    ],
)
def test_set_up_errors_name_the_lf_and_the_fix(kw, message):
    with pytest.raises(ValueError) as err:
        make(**kw)
    assert message in str(err.value)
    if kw.get("name", "is_spam"):
        assert "'is_spam'" in str(err.value)


def test_settings_validate_and_never_hold_the_key(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert LLMSettings.resolve().base_url == "http://127.0.0.1:9/v1"
    assert LLMSettings.resolve(base_url="http://127.0.0.1:1/v1").base_url == "http://127.0.0.1:1/v1"
    with pytest.raises(LLMSetupError, match=r"unknown LLM setting\(s\) \['api_key'\].*api_key_env"):
        LLMSettings.resolve(api_key="sk-123")
    with pytest.raises(LLMSetupError, match="concurrency must be at least 1, got 0"):
        LLMSettings(concurrency=0)
    with pytest.raises(LLMSetupError, match="timeout must be a positive number of seconds"):
        LLMSettings(timeout=0)
    with pytest.raises(LLMSetupError, match="budget max_requests must be >= 0"):
        LLMSettings(max_requests=-1)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    assert "sk-secret-value" not in json.dumps(LLMSettings.resolve().as_dict()) + repr(LLMSettings.resolve())


def test_retry_after_header_forms():
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # a past date: now
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None
