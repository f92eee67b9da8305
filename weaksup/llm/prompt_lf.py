"""Prompted labeling functions: ask a language model a question per example, map its answer to a vote.

A prompted LF has a ``template`` (a :meth:`str.format` string over the example's
columns), a ``model`` and a ``labels`` map from answers to class ids.  Answers
not in ``labels`` abstain.  Three ways to read the model's answer (``mode``):

``"text"``
    Free text.  The answer is normalised (Unicode NFKC, lower case, punctuation
    to spaces, whitespace collapsed) and matched against the ``choices``: an
    answer matches a choice when it is the choice or starts with it as whole
    words ("Yes, it is." matches "yes").  Anything else is *off-label*: it abstains
    and is counted.
``"json"``
    Structured output: the request carries a JSON schema whose ``answer`` is an
    enum of the ``choices`` (for servers that support ``response_format``).
    Content that is not such JSON is *malformed*: it abstains and is counted.
``"logprobs"``
    One token is generated with ``top_logprobs``; the probability of each choice
    is the summed probability of the top tokens that spell its start, normalised
    over the choices.  The vote is the likeliest choice and its probability is
    stored as the vote's confidence.

``choices`` are the answers the model may give; by default the keys of
``labels``, plus both "yes" and "no" when those keys are yes/no answers (so a
"no" is an answer, not off-label, and simply abstains).  ``verbalizers`` give a
choice more surface forms (``{"yes": ["spam", "advertisement"]}``): an answer in
any of them is that choice, and in ``"logprobs"`` mode their probabilities are summed.

A logprobs LF can be calibrated and abstain when unsure (``calibrate``, ``coverage``,
``precision``, ``min_confidence``: :mod:`.calibration`), and any LF can show the model
labeled examples first (``shots``: :mod:`.fewshot`), drawn from a dev set (``dev``).

The LF's ``version`` hashes its template, system prompt, field function, label
map, choices, mode, model and decoding parameters, and (when used) its verbalizers,
shots, calibration and abstaining options and dev set: changing any of them makes
the store re-label; nothing else does.  Responses are cached by model, full
prompt and decoding parameters, so a new label map re-labels from the cache
without a single request.

Literal braces in a template must be doubled (``{{`` and ``}}``), as in :meth:`str.format`.

>>> SPAM = 1
>>> lf = PromptLabelingFunction(
...     "asks_to_subscribe",
...     template="Comment: {text}\\nDoes it ask you to subscribe? Answer yes or no.",
...     labels={"yes": SPAM}, model="SmolLM2-135M-Instruct")
>>> lf.messages({"text": "sub to me"})[-1]["content"].splitlines()[0]
'Comment: sub to me'
>>> lf.parse({"content": " Yes, it does."})
Answer(label=1, confidence=None, outcome='ok')
>>> lf.parse({"content": "No."}).label, lf.parse({"content": "Maybe"}).outcome  # "no" abstains; "maybe" is off-label
(-1, 'off_label')
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from weaksup.lf import Row, canonical, function_source, read_globals, source_hash
from weaksup.llm.calibration import ARGMAX, CONTENT_FREE, Decider, DecisionSpec
from weaksup.llm.fewshot import DevSet, Shot, draw_shots
from weaksup.llm.verbalizer import Verbalizer, normalize_answer
from weaksup.store.llm_cache import cache_key
from weaksup.votes import ABSTAIN

__all__ = ["Answer", "PromptLabelingFunction", "normalize_answer", "prompt_labeling_function"]

MODES = ("text", "json", "logprobs")
_DEFAULT_MAX_TOKENS = {"text": 8, "json": 24, "logprobs": 1}
_YES_NO = frozenset({"yes", "no"})

FieldFunction = Callable[[Any], Mapping[str, Any]]


@dataclass(frozen=True)
class Answer:
    """What one response means: a class id or ABSTAIN, an optional confidence, and
    ``outcome``: ``ok``, ``off_label`` (an answer outside the choices) or ``malformed``."""

    label: int
    confidence: float | None
    outcome: str
    probs: np.ndarray | None = field(default=None, repr=False, compare=False)
    """A logprobs answer's probability per choice (normalised over the choices), before calibration."""


def _template_fields(name: str, template: str) -> tuple[str, ...]:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(
            f"prompted LF {name!r}: template is not a valid format string ({exc}); "
            "write literal braces as {{ and }}"
        ) from None
    fields = []
    for _, column, _, _ in parsed:
        if column is None:
            continue
        if not column.isidentifier():
            raise ValueError(
                f"prompted LF {name!r}: template field {{{column}}} must be a plain column name "
                "(no positional, attribute or index fields); prepare values with a field function"
            )
        fields.append(column)
    return tuple(dict.fromkeys(fields))


class PromptLabelingFunction:
    """An LF that prompts a chat model through any OpenAI-compatible server.

    ``fields`` optionally maps the example (a :class:`weaksup.lf.Row`) to the
    template's values, e.g. to truncate long text; without it the template reads
    the example's columns.  ``params`` are extra decoding parameters sent as they
    are (e.g. ``{"seed": 0, "top_p": 1.0}``).

    ``verbalizers`` maps a choice to more surface forms of it.  ``shots`` are labeled examples
    shown before each example (:class:`~weaksup.llm.fewshot.Shot`\\ s, or ``k``: ``k`` per class
    drawn from ``dev``'s gold with ``shot_seed``); the LF abstains on an example it shows.
    ``calibrate``, ``coverage``, ``precision`` and ``min_confidence`` (logprobs mode) correct the
    model's bias and make the LF abstain when unsure (:mod:`weaksup.llm.calibration`);
    ``content_free`` are contextual calibration's inputs; ``min_lift`` silences a class whose dev votes do
    not beat its share of the dev set by that part of the room above it.  ``dev`` is a
    :class:`~weaksup.llm.fewshot.DevSet` of examples like those labeled, with gold where needed.
    """

    kind = "prompt"

    def __init__(
        self,
        name: str,
        template: str,
        labels: Mapping[str, int],
        model: str,
        *,
        mode: str = "text",
        choices: Sequence[str] | None = None,
        system: str | None = None,
        fields: FieldFunction | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        top_logprobs: int = 10,
        params: Mapping[str, Any] | None = None,
        label_type: str = "categorical",
        verbalizers: Mapping[str, Sequence[str]] | None = None,
        shots: Sequence[Shot] | int = (),
        dev: DevSet | None = None,
        calibrate: str | None = None,
        coverage: float | None = None,
        precision: float | None = None,
        min_confidence: float | None = None,
        content_free: Sequence[str] = CONTENT_FREE,
        shot_seed: int = 0,
        min_lift: float | None = None,
    ) -> None:
        if not name or not isinstance(name, str):
            raise ValueError(f"LF name must be a non-empty string, got {name!r}")
        if mode not in MODES:
            raise ValueError(f"prompted LF {name!r}: mode {mode!r} is not one of {MODES}")
        if not model or not isinstance(model, str):
            raise ValueError(f"prompted LF {name!r}: model must be a model name string, got {model!r}")
        self.name = name
        self.template = template
        self.fields_used = _template_fields(name, template)
        self.model = model
        self.mode = mode
        self.system = system
        self.fields = fields
        self.label_type = label_type
        self.labels = self._check_labels(labels)
        self.choices = self._check_choices(choices)
        self.choice_labels = [self.labels.get(c, ABSTAIN) for c in self.choices]
        self.verbalizer = Verbalizer(name, self.choices, verbalizers)
        self.params = self._decoding(temperature, max_tokens, top_logprobs, params)
        self.decision = DecisionSpec(calibrate, coverage, precision, min_confidence, tuple(content_free), min_lift)
        self.decision.check(name, mode, dev is not None, dev is not None and dev.gold is not None)
        self.shots = self._check_shots(shots, dev, shot_seed)
        self._shot_turns = [turn for shot in self.shots for turn in self._shot_messages(shot)]
        self._shown = {turn["content"] for turn in self._shot_turns[::2]}
        self.dev = None if dev is None else dev.without(s.example_id for s in self.shots if s.example_id)
        self.version = source_hash(
            template,
            system or "",
            function_source(fields) if fields else "",
            canonical(self.labels),
            canonical(list(self.choices)),
            mode,
            model,
            json.dumps(self.params, sort_keys=True),
            *([read] if fields and (read := read_globals(fields)) else []),  # module constants the field function reads
            *self._extra_version(verbalizers),
        )

    def _extra_version(self, verbalizers: Mapping[str, Sequence[str]] | None) -> list[str]:
        """Version parts of the options an LF uses beyond the basic ones (none: the version of an
        LF written before they existed stays the same)."""
        parts = [f"verbalizers={canonical(self.verbalizer.surfaces)}"] if verbalizers else []
        parts += [f"shots={json.dumps(self._shot_turns, sort_keys=True)}"] if self.shots else []
        if self.decision.active:
            parts.append(f"decision={canonical(self.decision.version())}")
            if self.decision.uses_dev and self.dev is not None:
                parts.append(f"dev={self.dev.fingerprint()}")
        return parts

    def _check_labels(self, labels: Mapping[str, int]) -> dict[str, int]:
        if not isinstance(labels, Mapping) or not labels:
            raise ValueError(f"prompted LF {self.name!r}: labels must be a non-empty mapping of answer -> class id")
        out: dict[str, int] = {}
        for answer, label in labels.items():
            key = normalize_answer(str(answer))
            if not key:
                raise ValueError(f"prompted LF {self.name!r}: answer {answer!r} is empty once normalised")
            if not isinstance(label, int) or isinstance(label, bool) or label < ABSTAIN:
                raise ValueError(
                    f"prompted LF {self.name!r}: answer {answer!r} maps to {label!r}; "
                    "map answers to a class id (0..k-1) or ABSTAIN (-1)"
                )
            if key in out:
                raise ValueError(f"prompted LF {self.name!r}: answers {answer!r} and another both normalise to {key!r}")
            out[key] = label
        return out

    def _check_choices(self, choices: Sequence[str] | None) -> tuple[str, ...]:
        if choices is None:
            keys = set(self.labels)
            chosen = sorted(keys | _YES_NO) if keys <= _YES_NO else sorted(keys)
        else:
            chosen = [normalize_answer(str(c)) for c in choices]
            if len(set(chosen)) != len(chosen) or not all(chosen):
                raise ValueError(
                    f"prompted LF {self.name!r}: choices {list(choices)} are empty or repeat once normalised"
                )
            missing = set(self.labels) - set(chosen)
            if missing:
                raise ValueError(
                    f"prompted LF {self.name!r}: labels answer(s) {sorted(missing)} are not among choices {chosen}"
                )
        return tuple(chosen)

    def answer_for(self, label: int) -> str:
        """The choice that stands for class ``label``: the one mapped to it, else the one choice mapped
        to no class (a yes/no LF's "no"); a ``ValueError`` if neither is unique."""
        mapped = [c for c, lab in zip(self.choices, self.choice_labels) if lab == label]
        unmapped = [c for c, lab in zip(self.choices, self.choice_labels) if lab == ABSTAIN]
        found = mapped if mapped else unmapped
        if len(found) != 1:
            raise ValueError(
                f"prompted LF {self.name!r}: no one answer stands for class {label} "
                f"(choices {list(self.choices)}, labels {self.labels}); give shots explicitly"
            )
        return found[0]

    def _check_shots(self, shots: Sequence[Shot] | int, dev: DevSet | None, seed: int) -> tuple[Shot, ...]:
        if isinstance(shots, int):
            if shots == 0:
                return ()
            if dev is None or dev.gold is None:
                raise ValueError(f"prompted LF {self.name!r}: shots={shots} are drawn from dev= with gold labels")
            classes = sorted({int(c) for c in dev.gold})
            return tuple(draw_shots(dev, shots, {c: self.answer_for(c) for c in classes}, seed=seed))
        for shot in shots:
            if normalize_answer(shot.answer) not in self.choices:
                raise ValueError(f"prompted LF {self.name!r}: shot answer {shot.answer!r} is not one of {list(self.choices)}")
        return tuple(shots)

    def _shot_messages(self, shot: Shot) -> list[dict[str, str]]:
        try:
            prompt = self._render(self.prompt_values(shot.values))
        except Exception as exc:
            raise ValueError(
                f"prompted LF {self.name!r}: cannot render shot {shot.example_id or dict(shot.values)!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        return [{"role": "user", "content": prompt}, {"role": "assistant", "content": shot.answer}]

    def _decoding(
        self, temperature: float, max_tokens: int | None, top_logprobs: int, params: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        decoding: dict[str, Any] = {
            "temperature": float(temperature),
            "max_tokens": int(max_tokens or _DEFAULT_MAX_TOKENS[self.mode]),
        }
        if self.mode == "json":
            decoding["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "answer",
                    "strict": True,
                    "schema": {
                        "type": "object",
                        "properties": {"answer": {"type": "string", "enum": list(self.choices)}},
                        "required": ["answer"],
                        "additionalProperties": False,
                    },
                },
            }
        elif self.mode == "logprobs":
            decoding["logprobs"] = True
            decoding["top_logprobs"] = int(top_logprobs)
        clash = set(params or {}) & (set(decoding) | {"model", "messages"})
        if clash:
            raise ValueError(f"prompted LF {self.name!r}: params {sorted(clash)} are set by the LF's own arguments")
        decoding.update(params or {})
        return decoding

    # -- requests --------------------------------------------------------------------

    def prompt_values(self, row: Mapping[str, Any]) -> Mapping[str, Any]:
        """The template's values for one example's columns (through the field function, if any)."""
        return self.fields(Row(dict(row))) if self.fields else row

    def _render(self, values: Mapping[str, Any]) -> str:
        return self.template.format_map({f: values[f] for f in self.fields_used})

    def messages(self, values: Mapping[str, Any]) -> list[dict[str, str]]:
        """The chat messages for one example's template values (``KeyError`` if one is missing):
        the system prompt, the shots, then the example."""
        prompt = self._render(values)
        head = [{"role": "system", "content": self.system}] if self.system else []
        return [*head, *self._shot_turns, {"role": "user", "content": prompt}]

    def shows(self, messages: list[dict[str, str]]) -> bool:
        """Whether these messages ask about one of the LF's shots (whose answer the prompt shows)."""
        return messages[-1]["content"] in self._shown

    def content_free_messages(self) -> list[list[dict[str, str]]]:
        """Contextual calibration's prompts: every template field filled with each content-free input."""
        return [self.messages({f: text for f in self.fields_used}) for text in self.decision.content_free]

    def cache_key(self, messages: list[dict[str, str]]) -> str:
        return cache_key(self.model, messages, self.params)

    # -- answers ---------------------------------------------------------------------

    def parse(self, response: Mapping[str, Any], decider: Decider = ARGMAX) -> Answer:
        """Map a stored response (``content``, ``top_logprobs``) to a vote; a logprobs answer
        through ``decider`` (its fitted calibration and threshold: :mod:`.calibration`)."""
        if self.mode == "logprobs":
            return self._parse_logprobs(response.get("top_logprobs"), decider)
        content = response.get("content")
        if not isinstance(content, str):
            return Answer(ABSTAIN, None, "malformed")
        if self.mode == "json":
            try:
                answer = json.loads(content)["answer"]
            except (ValueError, TypeError, KeyError):
                return Answer(ABSTAIN, None, "malformed")
            if not isinstance(answer, str):
                return Answer(ABSTAIN, None, "malformed")
            choice = normalize_answer(answer)
            choice = choice if choice in self.choices else None
        else:
            choice = self.verbalizer.match_text(normalize_answer(content))
        if choice is None:
            return Answer(ABSTAIN, None, "off_label")
        return Answer(self.labels.get(choice, ABSTAIN), None, "ok")

    def _parse_logprobs(self, top: Any, decider: Decider) -> Answer:
        probs, outcome = self.verbalizer.probs(top)
        if probs is None:
            return Answer(ABSTAIN, None, outcome)
        label, confidence = decider.decide(probs, self.choice_labels)
        return Answer(label, confidence, outcome, probs)

    def __repr__(self) -> str:
        return (
            f"PromptLabelingFunction({self.name!r}, model={self.model!r}, mode={self.mode!r}, version={self.version!r})"
        )


def prompt_labeling_function(
    name: str | None = None,
    *,
    template: str,
    labels: Mapping[str, int],
    model: str,
    **options: Any,
) -> Callable[[FieldFunction], PromptLabelingFunction]:
    """Decorate a field function ``f(x) -> {field: value}`` into a :class:`PromptLabelingFunction`.

    The LF takes ``f``'s name unless ``name`` is given; ``options`` are the
    class's keyword arguments (``mode``, ``choices``, ``system``, ``temperature``...).
    """

    def wrap(f: FieldFunction) -> PromptLabelingFunction:
        return PromptLabelingFunction(name or f.__name__, template, labels, model, fields=f, **options)

    return wrap
