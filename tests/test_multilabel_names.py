"""Multi-label LFs that vote label names (``{"joy"}``, a list column of strings): stored as the same
votes as ids, through the serial and the process engine and a pipeline run; an unknown name stops
the run naming the LF, the example, the name and the valid names."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from weaksup.apply import apply_to_store
from weaksup.apply.checks import LFApplicationError
from weaksup.engines import ProcessEngine
from weaksup.lf import labeling_function
from weaksup.pipeline import run_pipeline
from weaksup.store import VoteStore
from weaksup.vectorized import VectorizedLabelingFunction

CLASSES = ("joy", "anger", "fear")
WORDS = {"happy": "joy", "angry": "anger", "scared": "fear"}
TEXTS = ["happy!", "angry and scared", "meh", "scared", "happy, angry"]


@labeling_function(label_type="multilabel")
def by_name(x):
    found = {name for word, name in WORDS.items() if word in x.text}
    return {"present": found, "absent": ["fear"]} if "!" in x.text else found or None


@labeling_function(label_type="multilabel")
def by_id(x):
    found = {CLASSES.index(name) for word, name in WORDS.items() if word in x.text}
    return {"present": found, "absent": [2]} if "!" in x.text else found or None


def _column(as_names: bool) -> pl.Expr:
    """A list column of the labels whose word is in the text (names or ids); null where none."""
    hits = [pl.when(pl.col("text").str.contains(word)).then(pl.lit(name if as_names else CLASSES.index(name)))
            for word, name in WORDS.items()]  # fmt: skip
    found = pl.concat_list(hits).list.drop_nulls()
    return pl.when(found.list.len() > 0).then(found)


NAMES_COLUMN = VectorizedLabelingFunction("names_column", expr=_column(True), label_type="multilabel")
IDS_COLUMN = VectorizedLabelingFunction("ids_column", expr=_column(False), label_type="multilabel")


def _stored(path: Path, frame: pl.DataFrame, lfs: list, **options: object) -> list[list[object]]:
    with VoteStore(path) as store:
        run = store.runs.start("t", {})
        keys = store.examples.sync("d", frame, run).ex_keys
        apply_to_store(store, "d", lfs, frame, keys, cardinality=3, run_id=run, progress=False, classes=CLASSES, **options)
        return store.votes.read("multilabel", keys, [(lf.name, lf.version) for lf in lfs], k=3).cells()


@pytest.mark.parametrize("engine", [None, ProcessEngine(workers=2)], ids=["serial", "processes"])
def test_names_and_ids_give_the_same_stored_votes(engine: object, tmp_path: Path) -> None:
    frame = pl.DataFrame({"example_id": [f"e{i}" for i in range(len(TEXTS))], "text": TEXTS})
    cells = _stored(tmp_path / "v.duckdb", frame, [by_name, by_id, NAMES_COLUMN, IDS_COLUMN], engine=engine)
    assert [row[0] for row in cells] == [row[1] for row in cells] == [((0,), (2,)), ((1, 2), ()), None, ((2,), ()), ((0, 1), ())]
    assert [row[2] for row in cells] == [row[3] for row in cells] == [((0,), ()), ((1, 2), ()), None, ((2,), ()), ((0, 1), ())]


def test_an_unknown_name_stops_the_run_naming_the_lf_the_example_and_the_valid_names(tmp_path: Path) -> None:
    frame = pl.DataFrame({"example_id": ["a", "b", "c"], "text": ["happy", "calm", "scared"]})
    calm = VectorizedLabelingFunction("calm_column", expr=pl.when(pl.col("text") == "calm").then(pl.lit(["calm"])),
                                      label_type="multilabel")  # fmt: skip

    @labeling_function(label_type="multilabel")
    def calm_row(x):
        return {"calm"} if x.text == "calm" else None

    for lf in (calm, calm_row):
        with pytest.raises(LFApplicationError, match=rf"^LF '{lf.name}' returned the label name 'calm', which is not one of "
                                                     r"labels\.classes \['joy', 'anger', 'fear'\] on example 'b'; "
                                                     r"a multi-label LF (returns a set|yields lists) of label ids in 0\.\.2 or "):  # fmt: skip
            _stored(tmp_path / f"{lf.name}.duckdb", frame, [lf])


def test_a_pipeline_passes_its_classes_to_lfs_voting_names(tmp_path: Path) -> None:
    pl.DataFrame({"id": [f"e{i}" for i in range(len(TEXTS))], "text": TEXTS}).write_csv(tmp_path / "d.csv")
    (tmp_path / "lfs.py").write_text(
        "from weaksup.lf import labeling_function\n\n\n@labeling_function(label_type='multilabel')\n"
        "def words(x):\n    return [n for w, n in {'happy': 'joy', 'angry': 'anger', 'scared': 'fear'}.items() if w in x.text]\n"
    )
    (tmp_path / "p.toml").write_text(
        'name = "names"\nstore = "s.duckdb"\n[data]\nsource = "d.csv"\nid_column = "id"\n[lfs]\nmodules = ["lfs.py"]\n'
        f'[labels]\ntype = "multilabel"\nclasses = {list(CLASSES)}\n[label_model]\nname = "majority_vote"\n'
        '[trainer]\nname = "none"\n[export]\ndir = "exports"\n'
    )
    result = run_pipeline(tmp_path / "p.toml", progress=False, say=lambda s: None)
    train = pl.read_parquet(result.run_dir / "training_set.parquet").sort("example_id")
    assert train["labels"].to_list() == [["joy"], ["anger", "fear"], ["fear"], ["joy", "anger"]]
