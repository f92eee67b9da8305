"""From a logprobs LF's answer probabilities to a vote: calibration, then abstaining by confidence.

A small model's answers are biased: SmolLM2-135M says "no" to "is this comment spam?" for 249 of
250 YouTube comments, yet its probabilities still rank them.  A logprobs LF (``mode="logprobs"``)
reads the probability of each of its choices from the first token, then:

**Calibration** (``calibrate=``) divides out the model's bias per choice, without gold:

``"contextual"``
    Contextual calibration (Zhao et al., ICML 2021): the LF's prompt is filled with content-free
    inputs (``"N/A"``, ``""``, ``"[MASK]"``: :data:`CONTENT_FREE`) and the mean of their answer
    probabilities is the bias.  It needs three requests per LF and no data, so an LF's votes depend
    on its own prompt and model only.
``"batch"``
    Batch calibration (Zhou et al., ICLR 2024): the bias is the mean answer probability over
    examples of the task, here the LF's dev set (``dev=``, gold not needed).  The mean is taken
    over a fixed set, not over whichever examples a run happens to label, so a run that labels
    ten new examples votes on them as a run over all of them would.
``"gold"``
    With gold on the dev set: a per-LF temperature and per-choice bias fitted by likelihood on
    the dev examples (temperature scaling with a threshold: Platt scaling for a yes/no LF).

Calibrated probabilities are stored as the vote's ``confidence``.

**Abstaining.**  Without any of the options below, the LF votes for its likeliest choice
(abstaining when that choice maps to no class), as an uncalibrated LF does.  With one, it votes
for its likeliest class only when that class's calibrated probability clears a threshold, and
abstains otherwise.  The threshold is set by

- ``coverage=c``: the LF votes on the share ``c`` of its dev examples it is surest about;
- ``precision=p``: the lowest threshold at which its votes on the dev set (gold needed) are
  right at least ``p`` of the time (at least :data:`MIN_VOTES` votes); if none, it never votes;
- ``min_confidence=t``: ``t`` itself (no dev set needed).

Given more than one, the strictest wins.  This is how a near-chance voter becomes a useful
one-class LF (Smith et al., 2022): a yes/no LF mapping only "yes" to SPAM votes SPAM on the
comments it is surest about, and nothing else.

**Earning its place** (``min_lift=``, gold needed): the LF votes a class only if, on the dev set,
its votes for that class beat guessing it: they are right more often than the class's share ``s``
of the dev set, by at least ``min_lift`` of the room above it (precision above ``s`` and at least
``s + min_lift * (1 - s)``, over at least :data:`MIN_VOTES` votes).  A voter that says HAM on
every SMS at 88% accuracy where 87% of messages are ham adds nothing but a confident-looking bias;
one whose "yes" is right less often than chance (a question the model reads backwards) would
mislead.  Both keep quiet instead.

The fitted :class:`Decider` is computed once per run and LF version (:func:`fit`), from
responses that are cached like any other, so a rerun fits it without a request.

>>> d = fit(DecisionSpec(calibrate="contextual"), [0, 1], content_free=np.array([[0.8, 0.2], [0.7, 0.3]]))
>>> d.decide(np.array([0.6, 0.4]), [0, 1])   # "no" at 0.6 is below the bias (0.75): calibrated, "yes" wins
(1, 0.6666666666666666)
>>> ARGMAX.decide(np.array([0.6, 0.4]), [0, 1])
(0, 0.6)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy.optimize import minimize

from weaksup.votes import ABSTAIN

__all__ = ["ARGMAX", "CALIBRATIONS", "CONTENT_FREE", "MIN_VOTES", "Decider", "DecisionSpec", "fit"]

CALIBRATIONS = ("contextual", "batch", "gold")
CONTENT_FREE = ("N/A", "", "[MASK]")
"""Zhao et al.'s content-free inputs: the template's every field filled with each in turn."""
MIN_VOTES = 5
"""The fewest dev votes a ``precision`` threshold may rest on."""
_FLOOR = 1e-6  # probabilities are floored before logs: a choice absent from the top tokens is not impossible


@dataclass(frozen=True)
class DecisionSpec:
    """What a logprobs LF asks for: a calibration and the abstaining options (module docstring)."""

    calibrate: str | None = None
    coverage: float | None = None
    precision: float | None = None
    min_confidence: float | None = None
    content_free: tuple[str, ...] = CONTENT_FREE
    min_lift: float | None = None

    def check(self, name: str, mode: str, has_dev: bool, has_gold: bool) -> None:
        """A ``ValueError`` naming the LF for options that cannot work together."""
        if not self.active:
            return
        where = f"prompted LF {name!r}"
        if mode != "logprobs":
            raise ValueError(f"{where}: calibrate, coverage, precision and min_confidence need mode='logprobs'")
        if self.calibrate is not None and self.calibrate not in CALIBRATIONS:
            raise ValueError(f"{where}: calibrate={self.calibrate!r} is not one of {CALIBRATIONS}")
        for key in ("coverage", "precision", "min_confidence", "min_lift"):
            value = getattr(self, key)
            if value is not None and not 0 < value <= 1:
                raise ValueError(f"{where}: {key} must be in (0, 1], got {value}")
        if self.calibrate == "contextual" and not self.content_free:
            raise ValueError(f"{where}: contextual calibration needs at least one content-free input")
        needs_dev = [k for k in ("coverage", "precision") if getattr(self, k) is not None]
        needs_dev += ["calibrate='batch'"] if self.calibrate == "batch" else []
        needs_gold = [k for k in ("precision", "min_lift") if getattr(self, k) is not None]
        needs_gold += ["calibrate='gold'"] if self.calibrate == "gold" else []
        if (needs_dev or needs_gold) and not has_dev:
            raise ValueError(f"{where}: {', '.join(needs_dev + needs_gold)} need(s) dev= (a weaksup.llm.DevSet)")
        if needs_gold and not has_gold:
            raise ValueError(f"{where}: {', '.join(needs_gold)} need(s) the dev set's gold labels")

    @property
    def active(self) -> bool:
        return self.calibrate is not None or self.thresholded or self.min_lift is not None

    @property
    def thresholded(self) -> bool:
        return any(v is not None for v in (self.coverage, self.precision, self.min_confidence))

    @property
    def uses_content_free(self) -> bool:
        return self.calibrate == "contextual"

    @property
    def uses_dev(self) -> bool:
        return self.calibrate in ("batch", "gold") or any(
            v is not None for v in (self.coverage, self.precision, self.min_lift)
        )

    def version(self) -> dict[str, object]:
        """The spec as plain values, for the LF's version."""
        out = asdict(self)
        out["content_free"] = list(self.content_free) if self.uses_content_free else None
        if self.min_lift is None:
            del out["min_lift"]  # the version of an LF without it stays what it was before the option existed
        return out


@dataclass(frozen=True)
class Decider:
    """A fitted decision: calibrated ``q = softmax((log p + bias) / temperature)`` over the choices,
    then the likeliest choice (``threshold`` None), or the likeliest class if its probability
    reaches ``threshold`` (else abstain)."""

    bias: tuple[float, ...] | None = None
    temperature: float = 1.0
    threshold: float | None = None
    silenced: frozenset[int] = frozenset()
    """Classes the LF never votes (they did not earn their place on the dev set: ``min_lift``)."""

    def calibrated(self, probs: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of the choices, for rows of choice probabilities (or one row)."""
        if self.bias is None and self.temperature == 1.0:
            return probs
        z = (np.log(np.maximum(probs, _FLOOR)) + np.asarray(self.bias or 0.0)) / self.temperature
        z = z - z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    def decide(self, probs: np.ndarray, choice_labels: Sequence[int]) -> tuple[int, float | None]:
        """(vote, confidence) for one answer's choice probabilities; ABSTAIN has no confidence."""
        q = self.calibrated(probs)
        if self.threshold is None:
            best = int(np.argmax(q))
            label, score = choice_labels[best], float(q[best])
        else:
            label, score = _best_class(q, choice_labels)
            label = label if score >= self.threshold else ABSTAIN
        return (label, score) if label != ABSTAIN and label not in self.silenced else (ABSTAIN, None)


ARGMAX = Decider()
"""The uncalibrated decision: the likeliest choice."""


def _best_class(q: np.ndarray, choice_labels: Sequence[int]) -> tuple[int, float]:
    classes = sorted({c for c in choice_labels if c != ABSTAIN})
    if not classes:
        return ABSTAIN, 0.0
    mass = [float(sum(q[j] for j, c in enumerate(choice_labels) if c == k)) for k in classes]
    best = int(np.argmax(mass))
    return classes[best], mass[best]


def fit(
    spec: DecisionSpec,
    choice_labels: Sequence[int],
    *,
    content_free: np.ndarray | None = None,
    dev: np.ndarray | None = None,
    dev_gold: np.ndarray | None = None,
    dev_target: np.ndarray | None = None,
) -> Decider:
    """Fit ``spec`` from answer probabilities (rows: examples, columns: choices): of the content-free
    prompts, of the dev examples, with their gold class ids and the index of the choice each gold
    class's answer is (``-1``: none; for ``calibrate="gold"``)."""
    bias: np.ndarray | None = None
    temperature = 1.0
    if spec.calibrate == "contextual":
        bias = -np.log(np.maximum(_require(content_free, "content-free").mean(axis=0), _FLOOR))
    elif spec.calibrate == "batch":
        bias = -np.log(np.maximum(_require(dev, "dev").mean(axis=0), _FLOOR))
    elif spec.calibrate == "gold":
        bias, temperature = _fit_temperature(_require(dev, "dev"), _require(dev_target, "dev gold"))
    decider = Decider(None if bias is None else tuple(float(b) for b in bias - bias.mean()), temperature)
    if spec.thresholded:
        decider = _thresholded(spec, decider, choice_labels, dev, dev_gold)
    if spec.min_lift is not None:
        decider = _lifted(decider, spec.min_lift, choice_labels, _require(dev, "dev"), _require(dev_gold, "dev gold"))
    return decider


def _lifted(decider: Decider, min_lift: float, choice_labels: Sequence[int], dev: np.ndarray, gold: np.ndarray) -> Decider:
    """``decider`` silenced on each class whose dev votes do not beat its share by ``min_lift`` of the room above it."""
    votes = np.array([decider.decide(p, choice_labels)[0] for p in dev])
    silenced = set()
    for c in {c for c in choice_labels if c != ABSTAIN}:
        mine = votes == c
        share = np.mean(gold == c)
        right = np.mean(gold[mine] == c) if mine.any() else 0.0
        if mine.sum() < MIN_VOTES or right <= share or right < share + min_lift * (1 - share):
            silenced.add(c)
    return replace(decider, silenced=frozenset(silenced))


def _thresholded(
    spec: DecisionSpec, decider: Decider, choice_labels: Sequence[int], dev: np.ndarray | None, dev_gold: np.ndarray | None
) -> Decider:
    thresholds = [] if spec.min_confidence is None else [spec.min_confidence]
    if spec.coverage is not None or spec.precision is not None:
        q = decider.calibrated(_require(dev, "dev"))
        best = [_best_class(row, choice_labels) for row in q]
        scores = np.array([s if c != ABSTAIN else -np.inf for c, s in best])
        if spec.coverage is not None:
            thresholds.append(_coverage_threshold(scores, spec.coverage))
        if spec.precision is not None:
            right = np.array([c for c, _ in best]) == _require(dev_gold, "dev gold")
            thresholds.append(_precision_threshold(scores, right, spec.precision))
    return replace(decider, threshold=max(thresholds))


def _require(value: np.ndarray | None, what: str) -> np.ndarray:
    if value is None or len(value) == 0:
        raise ValueError(f"fitting this LF's decision needs {what} answers, and there are none")
    return value


def _coverage_threshold(scores: np.ndarray, coverage: float) -> float:
    """The score at which the share ``coverage`` of the examples (those with the highest scores) vote."""
    ranked = np.sort(scores)[::-1]
    n = max(1, math.ceil(coverage * len(ranked)))
    return float(ranked[n - 1]) if np.isfinite(ranked[n - 1]) else math.inf


def _precision_threshold(scores: np.ndarray, right: np.ndarray, target: float) -> float:
    """The lowest score whose votes at or above it are right at least ``target`` of the time (with
    at least :data:`MIN_VOTES` of them); infinity (never vote) when no score gets there."""
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(right[order])
    count = np.arange(1, len(order) + 1)
    ok = (hits / count >= target) & (count >= MIN_VOTES) & np.isfinite(scores[order])
    return float(scores[order][np.flatnonzero(ok)[-1]]) if ok.any() else math.inf


def _fit_temperature(probs: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-choice bias and a temperature maximising the likelihood of the gold answers (rows whose
    gold class has no answer are left out), lightly regularised so that separable data stays finite."""
    keep = target >= 0
    logp, t = np.log(np.maximum(probs[keep], _FLOOR)), target[keep]
    if len(t) == 0:
        raise ValueError("fitting a temperature needs dev examples whose gold class an answer stands for")
    m = logp.shape[1]

    def loss(theta: np.ndarray) -> float:
        temperature, bias = math.exp(theta[0]), np.concatenate([[0.0], theta[1:]])
        z = (logp + bias) / temperature
        z = z - z.max(axis=1, keepdims=True)
        nll = -(z[np.arange(len(t)), t] - np.log(np.exp(z).sum(axis=1))).mean()
        return float(nll + 1e-3 * (theta @ theta))

    best = minimize(loss, np.zeros(m), method="L-BFGS-B", bounds=[(-4.0, 4.0)] + [(-20.0, 20.0)] * (m - 1))
    return np.concatenate([[0.0], best.x[1:]]), math.exp(best.x[0])
