"""The report's layout in headless Chromium at 1400 px: the LF table fits without sideways scroll
(its error and LLM columns visible), the coverage-accuracy scatter's names overlap no other name
or point, and the agreement heatmap's cells are labelled with their rates.

The widest tables come from a prompted-LF run whose LFs also raise (every column filled, a long
error message), a multi-class run, and ranking and regression runs (their own summary columns)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.project import ROOT
from support.llm_server import FakeServer

from weaksup.pipeline import load_config, run_pipeline

browser = pytest.importorskip("support.browser")
pytestmark = pytest.mark.skipif(not browser.CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")

WIDTH = 1400

RAISING = '''
from weaksup import ABSTAIN, labeling_function


@labeling_function()
def fussy_parser(x):
    if "!" in x.text:
        raise ValueError("this comment has an exclamation mark, which the parser of this rule was never taught to "
                         "handle; it raises instead of abstaining, with a message long enough to need wrapping " + x.text)
    return ABSTAIN
'''


@contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _slice(folder: Path, sizes: dict[str, int]) -> Path:
    folder.mkdir()
    for split, size in sizes.items():
        data = json.loads((ROOT / "data" / "youtube" / f"{split}.json").read_text())
        (folder / f"{split}.json").write_text(json.dumps(dict(list(data.items())[:size])))
    (folder / "label.json").write_text((ROOT / "data" / "youtube" / "label.json").read_text())
    return folder


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    folder = tmp_path_factory.mktemp("llm")
    data = _slice(folder / "youtube", {"train": 200, "test": 60})
    (folder / "raising.py").write_text(RAISING)
    modules = [str(ROOT / "labeling_functions" / "youtube_spam.py"), str(ROOT / "labeling_functions" / "youtube_spam_prompts.py"),
               str(folder / "raising.py")]  # fmt: skip
    overrides = [f"data.source={data}", f"export.dir={folder / 'exports'}", f"lfs.modules={json.dumps(modules)}",
                 "trainer.name='none'", "llm.concurrency=16"]  # fmt: skip
    with FakeServer() as server, _env(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="sk-layout-test"):
        result = run_pipeline(load_config(ROOT / "pipelines" / "youtube_spam_llm.toml", overrides),
                              store_path=folder / "store.duckdb", progress=False, say=lambda s: None)  # fmt: skip
    out["llm"] = result.run_dir / "report.html"
    for name in ("youtube_spam", "trec_sample", "movies_ranking", "movies_regression"):
        folder = tmp_path_factory.mktemp(name)
        cfg = load_config(ROOT / "pipelines" / f"{name}.toml", [f"export.dir={folder / 'exports'}"])
        result = run_pipeline(cfg, store_path=folder / "store.duckdb", progress=False, say=lambda s: None)
        out[name] = result.run_dir / "report.html"
    return out


@pytest.fixture(scope="module")
def chromium() -> Iterator[browser.Browser]:
    with browser.Browser(width=WIDTH, height=900) as b:
        yield b


TABLE = """(() => {
  const wrap = document.querySelector('table[data-table=lfs]').closest('.table-wrap');
  const box = wrap.getBoundingClientRect();
  return {scroll: wrap.scrollWidth, client: wrap.clientWidth, window: window.innerWidth, page: document.documentElement.scrollWidth,
          headers: Array.from(wrap.querySelectorAll('th')).map(th => [th.textContent, th.getBoundingClientRect().right - box.right])};
})()"""


@pytest.mark.parametrize("name", ["llm", "youtube_spam", "trec_sample", "movies_ranking", "movies_regression"])
def test_the_lf_table_fits_at_1400_px_without_sideways_scroll(name: str, reports: dict[str, Path], chromium) -> None:
    assert chromium.load(reports[name]).console_errors == []
    facts = chromium.evaluate(TABLE)
    assert facts["window"] == WIDTH
    assert facts["scroll"] <= facts["client"], facts  # nothing to scroll to sideways
    assert facts["page"] <= WIDTH
    headers = dict(facts["headers"])
    for column in ("errors", "first error") + (("requests", "cache hits", "failures", "tokens") if name == "llm" else ()):
        assert headers[column] <= 0.5, (column, facts)  # in view: its right edge inside the table's box
    if name == "llm":  # the run really filled them
        cells = chromium.evaluate("Array.from(document.querySelectorAll('table[data-table=lfs] tbody tr')).map(r => "
                                  "Array.from(r.cells).map(c => c.textContent))")  # fmt: skip
        head = [h for h, _ in facts["headers"]]
        rows = {r[0]: dict(zip(head, r)) for r in cells}
        assert rows["fussy_parser"]["first error"].startswith("ValueError: this comment has an exclamation mark")
        assert rows["llm_asks_to_subscribe"]["requests"] not in ("—", "0")


SCATTER = """(() => {
  const svg = document.querySelector('svg[data-chart=coverage-accuracy]');
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  return {labels: Array.from(svg.querySelectorAll('text.point-label')).map(t => [t.textContent, ...box(t)]),
          points: Array.from(svg.querySelectorAll('circle.mark')).map(c => [c.querySelector('title').textContent, ...box(c)]),
          chart: box(svg)};
})()"""


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("name", ["llm", "youtube_spam", "trec_sample"])
def test_the_scatters_names_overlap_no_other_name_or_point(name: str, reports: dict[str, Path], chromium) -> None:
    chromium.load(reports[name])
    facts = chromium.evaluate(SCATTER)
    labels, points = facts["labels"], facts["points"]
    assert len(points) >= 9 and len(labels) >= max(3, len(points) // 4), facts  # names where there is room, else tooltips
    for i, (text, *a) in enumerate(labels):
        assert facts["chart"][0] <= a[0] and a[2] <= facts["chart"][2], text
        for other, *b in labels[i + 1 :]:
            assert not _overlap(a, b), (text, other)
        for tip, *b in points:
            assert not _overlap(a, b), (text, tip)
        assert any(tip.startswith(f"{text}: ") for tip, *_ in points)  # a name is one of the points'


HEATMAP = """(() => {
  const svg = document.querySelector('svg[data-chart=agreement]');
  return {cells: Array.from(svg.querySelectorAll('rect.mark')).map(r => [r.querySelector('title').textContent,
                  r.getBoundingClientRect().width]),
          labels: Array.from(svg.querySelectorAll('text.cell-label')).map(t => t.textContent),
          caption: svg.closest('figure').querySelector('figcaption p').textContent};
})()"""


@pytest.mark.parametrize("name", ["youtube_spam", "trec_sample", "movies_ranking", "movies_regression"])
def test_the_heatmaps_cells_are_labelled_with_their_rates(name: str, reports: dict[str, Path], chromium) -> None:
    chromium.load(reports[name])
    facts = chromium.evaluate(HEATMAP)
    rated = [tip for tip, _ in facts["cells"] if ", " in tip]  # "a × b: 12 examples both voted on, agree 0.917"
    assert rated and len(facts["labels"]) == len(rated)
    regression = name == "movies_regression"
    for tip, label in zip(rated, facts["labels"]):
        value = float(tip.rsplit(" ", 1)[1])  # the tooltip's rate, to 3 decimals
        shown = float(label) if regression else float(label) / 100
        assert abs(shown - value) <= (0.051 if regression else 0.0051), (tip, label)
    assert ("Each cell shows the correlation" if regression else "Each cell shows the rate in %") in facts["caption"]
