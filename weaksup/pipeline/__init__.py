"""Pipelines: a validated TOML file (:mod:`.config`) and the run that executes it (:mod:`.runner`)."""

from weaksup.pipeline.config import ConfigError, PipelineConfig, load_config
from weaksup.pipeline.runner import RunResult, load_lf_modules, run_pipeline

__all__ = ["ConfigError", "PipelineConfig", "RunResult", "load_config", "load_lf_modules", "run_pipeline"]
