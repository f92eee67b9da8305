"""Pipelines as jobs: a TOML file whose keys are data (:mod:`.schema`), read and validated
(:mod:`.config`) into typed settings (:mod:`.settings`); its input (:mod:`.sources`, and crowd
answers as votes: :mod:`.answers`); the run
(:mod:`.runner` up to the votes, then :mod:`.finish`), the same for every label type, asking
the run's task (:mod:`.tasks`: categorical, ranking, regression) for what differs; under a
store lock (:mod:`.lock`) with live status and history (:mod:`.status`), versioned outputs
(:mod:`.outputs`), maintenance (:mod:`.maintenance`) and cron schedules (:mod:`.schedule`).

Names are imported on first use, so ``weaksup status`` does not pay for the label models' imports.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ConfigError": "config",
    "PipelineConfig": "config",
    "config_from_dict": "config",
    "load_config": "config",
    "StoreBusy": "lock",
    "RunResult": "runner",
    "dry_run_pipeline": "runner",
    "load_lf_modules": "sources",
    "run_pipeline": "runner",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'weaksup.pipeline' has no attribute {name!r}")
    return getattr(importlib.import_module(f"weaksup.pipeline.{_EXPORTS[name]}"), name)
