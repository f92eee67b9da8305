"""How a model's answer is read as one of a prompted LF's choices: surface forms and their probabilities.

Each choice ("yes", "no") stands for itself, and ``verbalizers`` can give it more surface forms
(``{"yes": ["spam", "advertisement", "promotion"]}``).  A free-text answer is the choice of the
longest surface form it is or starts with as whole words; a first token's ``top_logprobs`` give
each choice the summed probability of the tokens that spell one of its surface forms (or the
start of surface forms of that choice alone), normalised over the choices: a prompt ensemble of
surface forms, summed in probability space.

>>> v = Verbalizer("lf", ("no", "yes"), {"yes": ["spam", "advertisement"]})
>>> v.match_text(normalize_answer("Spam, clearly.")), v.match_text("maybe")
('yes', None)
>>> probs, outcome = v.probs([["No", -1.2], ["Spam", -1.6], ["Yes", -1.6], ["The", -0.5]])
>>> [round(float(p), 3) for p in probs], outcome
([0.427, 0.573], 'ok')
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["Verbalizer", "normalize_answer"]

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalize_answer(text: str) -> str:
    """Lower case, punctuation to spaces, whitespace collapsed: ``" Yes!"`` becomes ``"yes"``."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


class Verbalizer:
    """The surface forms of an LF's ``choices`` (each normalised), and how answers map to them."""

    def __init__(self, name: str, choices: Sequence[str], verbalizers: Mapping[str, Sequence[str]] | None) -> None:
        self.choices = tuple(choices)
        self.surfaces = {c: c for c in self.choices}
        """Each surface form -> the choice it stands for."""
        for choice, forms in (verbalizers or {}).items():
            key = normalize_answer(str(choice))
            if key not in self.choices:
                raise ValueError(f"prompted LF {name!r}: verbalizers name {choice!r}, not one of choices {list(choices)}")
            if isinstance(forms, str):
                raise ValueError(f"prompted LF {name!r}: verbalizers[{choice!r}] must be a list of surface forms")
            for form in forms:
                surface = normalize_answer(str(form))
                if not surface or self.surfaces.get(surface, key) != key:
                    raise ValueError(
                        f"prompted LF {name!r}: surface form {form!r} is empty or already stands for "
                        f"{self.surfaces.get(surface)!r}"
                    )
                self.surfaces[surface] = key

    def match_text(self, answer: str) -> str | None:
        """The choice a normalised free-text answer gives, or None (off-label)."""
        hits = [s for s in self.surfaces if answer == s or answer.startswith(s + " ")]
        return self.surfaces[max(hits, key=len)] if hits else None

    def token_choice(self, token: str) -> str | None:
        """The choice a first token spells: a surface form, else the start of surface forms of one choice."""
        piece = normalize_answer(token)
        if not piece:
            return None
        if piece in self.surfaces:
            return self.surfaces[piece]
        starts = {c for s, c in self.surfaces.items() if s.startswith(piece)}
        return starts.pop() if len(starts) == 1 else None

    def probs(self, top: Any) -> tuple[np.ndarray | None, str]:
        """Each choice's probability from a first token's ``top_logprobs`` (``[[token, logprob], ...]``),
        and the outcome: ``ok``, ``off_label`` (no top token spells a choice) or ``malformed``."""
        if not isinstance(top, list) or not top:
            return None, "malformed"
        mass = np.zeros(len(self.choices))
        index = {c: j for j, c in enumerate(self.choices)}
        for item in top:
            try:
                token, logprob = item
                choice = self.token_choice(str(token))
                p = math.exp(float(logprob))
            except (TypeError, ValueError, OverflowError):
                return None, "malformed"
            if choice is not None:
                mass[index[choice]] += p
        total = mass.sum()
        return (mass / total, "ok") if total else (None, "off_label")
