"""Pipelines as jobs: a validated TOML file (:mod:`.config`), its input (:mod:`.sources`), the run
(:mod:`.runner`) under a store lock (:mod:`.lock`) with live status and history (:mod:`.status`),
versioned exports (:mod:`.exports`), maintenance (:mod:`.maintenance`) and cron schedules (:mod:`.schedule`)."""

from weaksup.pipeline.config import ConfigError, PipelineConfig, load_config
from weaksup.pipeline.lock import StoreBusy
from weaksup.pipeline.runner import RunResult, load_lf_modules, run_pipeline

__all__ = ["ConfigError", "PipelineConfig", "RunResult", "StoreBusy", "load_config", "load_lf_modules", "run_pipeline"]
