"""Leave-one-set-out (LOSO) choice of the default label model's settings, and the issue's checks.

The default's settings (``AutoLabelModel``'s ``prior_strength``, ``margin``, ``tie_alpha``,
``prior_estimate`` and ``lf_margin``) are a grid; every setting is scored on every set.  For each set, the setting
is chosen on the *other* sets (most sets within 0.01 of their best peer and not more than 0.01
below majority vote, then the highest mean score), and the set's figure is that setting's: a
default chosen by looking at the sets it is judged on does not generalise.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

GRID: dict[str, tuple[Any, ...]] = {
    "prior_estimate": ("mean", "votes", "posterior", "held_out"),
    "margin": (0.01, 0.05),
    "tie_alpha": (0.05, 0.25),
    "prior_strength": (4.0, 2.0, 8.0),
    "lf_margin": (float("inf"), 0.0),
}
"""The settings the LOSO choice ranges over (the library's defaults are among them).  Their product
is taken in this order, so a run cut short has scored every prior strength and overrule limit
under the first prior estimates.  ``max_overrule`` was in it (0.05 and 1.0) and changed no label on
any set, so it is left at its default.  ``lf_margin`` (rule 3) is on (0) or off (inf): its figures with
rule 3 off are those of the grid before it (the off path runs no new code)."""
PEERS = ("MV", "DS skip", "DS observe", "Snorkel 500 ep", "HyperLM")
TOLERANCE = 0.01
"""Within this of the best peer, and not more than this below majority vote: the issue's bar."""


def settings_grid() -> list[dict[str, Any]]:
    """Every combination of :data:`GRID`, as ``AutoLabelModel`` keyword arguments."""
    return [dict(zip(GRID, values)) for values in itertools.product(*GRID.values())]


def setting_name(setting: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in setting.items())


def best_peer(peers: Mapping[str, float]) -> tuple[str, float]:
    name = max(peers, key=peers.get)
    return name, peers[name]


def passes(score: float, peers: Mapping[str, float]) -> bool:
    """Within :data:`TOLERANCE` of the best peer and not more than that below majority vote."""
    return score >= best_peer(peers)[1] - TOLERANCE and score >= peers.get("MV", -np.inf) - TOLERANCE


def choose(
    sets: Sequence[str], peers: Mapping[str, Mapping[str, float]], ours: Mapping[str, Mapping[str, Mapping[str, float]]]
) -> str:
    """The setting (by name) with the best mean of score minus Brier score over ``sets``, ties broken
    by the grid's order.  The bar is on both: each set's score against the peers, and the mean Brier
    and ECE against the best peer's.  Ranking by the number of sets passed alone (then the mean score)
    chose a learned prior that cost calibration on imbalanced sets (``RULES`` in the results)."""
    def rank(name: str) -> float:
        return float(np.mean([ours[name][s]["score"] - ours[name][s]["brier"] for s in sets]))

    return max(ours, key=rank)


def choose_by_passes(
    sets: Sequence[str], peers: Mapping[str, Mapping[str, float]], ours: Mapping[str, Mapping[str, Mapping[str, float]]]
) -> str:
    """The earlier rule, reported beside: most sets passed, then the higher mean score."""
    def rank(name: str) -> tuple[int, float]:
        return (sum(passes(ours[name][s]["score"], peers[s]) for s in sets),
                float(np.mean([ours[name][s]["score"] for s in sets])))  # fmt: skip

    return max(ours, key=rank)


def leave_one_set_out(
    sets: Sequence[str], peers: Mapping[str, Mapping[str, float]], ours: Mapping[str, Mapping[str, Mapping[str, float]]],
    rule: Callable[..., str] = choose,
) -> dict[str, str]:
    """For each set, the setting ``rule`` chooses on all the others."""
    return {s: rule([t for t in sets if t != s], peers, ours) for s in sets}
