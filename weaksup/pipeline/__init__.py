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

from weaksup.lazy import lazy_exports

_EXPORTS = {
    "ConfigError": "weaksup.pipeline.config",
    "PipelineConfig": "weaksup.pipeline.config",
    "config_from_dict": "weaksup.pipeline.config",
    "load_config": "weaksup.pipeline.config",
    "StoreBusy": "weaksup.pipeline.lock",
    "RunResult": "weaksup.pipeline.runner",
    "dry_run_pipeline": "weaksup.pipeline.runner",
    "load_lf_modules": "weaksup.pipeline.sources",
    "run_pipeline": "weaksup.pipeline.runner",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
