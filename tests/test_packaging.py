"""pyproject.toml: setuptools reads it without deprecation warnings (``make demo`` prints none)."""

import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_reads_without_deprecation_warnings():
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    assert [str(w.message) for w in caught] == []
    assert dist.metadata.license_expression == "Apache-2.0"
    assert not any(req.startswith("skops") for req in dist.install_requires)  # nothing loads skops files any more
