import importlib.util
import textwrap
from pathlib import Path

import pytest

from weaksup.apply import prepare_lfs
from weaksup.lf import ABSTAIN, LabelingFunction, Row, as_labeling_function, labeling_function


def _load_lf(tmp_path: Path, name: str, body: str) -> LabelingFunction:
    """Import an LF from a module file, as a user's LF module would be imported."""
    path = tmp_path / f"{name}.py"
    path.write_text("from weaksup import labeling_function, ABSTAIN\n" + textwrap.dedent(body))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lf_x


def test_decorator_builds_named_lf_with_resources_and_pre():
    def add_lower(x):
        x.lower = x.text.lower()
        return x

    @labeling_function(name="has_word", resources={"word": "spam"}, pre=[add_lower])
    def f(x, word):
        return 1 if word in x.lower else ABSTAIN

    assert f.name == "has_word" and f.kind == "row"
    assert f(Row({"text": "SPAM here"})) == 1
    assert f(Row({"text": "ham"})) == ABSTAIN


def test_version_changes_with_body_and_not_with_formatting_elsewhere(tmp_path):
    a = _load_lf(tmp_path, "m_a", "@labeling_function()\ndef lf_x(x):\n    return 1\n")
    same = _load_lf(tmp_path, "m_b", "\n\n# a comment outside the LF\n@labeling_function()\ndef lf_x(x):\n    return 1\n")
    changed = _load_lf(tmp_path, "m_c", "@labeling_function()\ndef lf_x(x):\n    return 0\n")
    assert a.version == same.version
    assert a.version != changed.version


def test_version_sees_resources_and_preprocessors_and_can_be_pinned():
    def body(x, n):
        return ABSTAIN

    def pre_a(x):
        return x

    def pre_b(x):
        x.extra = 1
        return x

    base = LabelingFunction("lf", body, resources={"n": 1})
    assert LabelingFunction("lf", body, resources={"n": 2}).version != base.version
    assert LabelingFunction("lf", body, resources={"n": 1}, pre=[pre_a]).version != (
        LabelingFunction("lf", body, resources={"n": 1}, pre=[pre_b]).version
    )
    # Sets hash the same whatever their iteration order.
    assert LabelingFunction("lf", body, resources={"n": {"b", "a"}}).version == (
        LabelingFunction("lf", body, resources={"n": {"a", "b"}}).version
    )
    assert LabelingFunction("lf", body, version="v7").version == "v7"


def test_duplicate_names_are_rejected():
    @labeling_function(name="same")
    def one(x):
        return 0

    @labeling_function(name="same")
    def two(x):
        return 1

    with pytest.raises(ValueError, match="duplicate LF name 'same'"):
        prepare_lfs([one, two])


def test_non_lf_is_rejected_with_the_fix():
    with pytest.raises(TypeError, match="@labeling_function"):
        as_labeling_function(lambda x: 0)


def test_snorkel_lfs_are_accepted_unchanged():
    snorkel_labeling = pytest.importorskip("snorkel.labeling", reason="needs the weaksup[snorkel] extra")
    from snorkel.preprocess import preprocessor

    @preprocessor()
    def lower(x):
        x.lower = x.text.lower()
        return x

    @snorkel_labeling.labeling_function(resources={"word": "check"}, pre=[lower])
    def snorkel_lf(x, word):
        return 1 if word in x.lower else -1

    lf = as_labeling_function(snorkel_lf)
    assert lf.name == "snorkel_lf" and len(lf.version) == 12
    assert lf(Row({"text": "CHECK my channel"})) == 1
    assert lf(Row({"text": "nice song"})) == -1
