"""Prompted LFs that earn their place, against the fake chat server: calibration (contextual, batch,
gold), abstaining by confidence (coverage, precision, a fixed threshold), few-shot examples from a
dev set, verbalizers and paraphrases; calibrated probabilities stored as the vote's confidence;
the fitting answers cached; prefix-cache hits and tokens per vote reported.

The fake server's ``[[yes:P]]`` answers "yes" with probability P, and a prompt without it (a
content-free one) "no" at 0.917: a model biased towards "no" whose probabilities still rank."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from weaksup.apply import ApplyContext, apply_chunk, apply_to_store
from weaksup.llm import DevSet, LLMSettings, PromptLabelingFunction, Shot, configure, paraphrases
from weaksup.llm.calibration import DecisionSpec, fit
from weaksup.store import VoteStore

HAM, SPAM = 0, 1
TEMPLATE = "Is this comment spam? Answer yes or no.\nComment: {text}"
CF_YES = math.exp(-2.5) / (math.exp(-0.1) + math.exp(-2.5))  # p(yes) of a content-free prompt: 0.083


@pytest.fixture
def fresh(server):
    server.reset()
    return server


def frame_of(ps: list[float], prefix: str = "ex") -> pl.DataFrame:
    return pl.DataFrame({"example_id": [f"{prefix}{i}" for i in range(len(ps))], "text": [f"c{i} [[yes:{p}]]" for i, p in enumerate(ps)]})


def dev_of(ps: list[float], gold: list[int]) -> DevSet:
    return DevSet(frame_of(ps, "dev").with_columns(pl.Series("label", gold)), gold="label")


def lf(name="is_spam", labels=None, **kw) -> PromptLabelingFunction:
    return PromptLabelingFunction(name, kw.pop("template", TEMPLATE), labels or {"yes": SPAM, "no": HAM}, "fake",
                                  mode=kw.pop("mode", "logprobs"), **kw)  # fmt: skip


def apply(server, lfs, frame, store=None, run_id=None, **settings):
    state: dict = {}
    session = configure(state, LLMSettings(base_url=server.base_url, **settings))
    return apply_chunk(lfs, frame, ApplyContext(2, store=store, run_id=run_id, progress=False, state=state)), session


def test_contextual_calibration_divides_out_the_bias_and_its_answers_are_cached(fresh, tmp_path):
    frame = frame_of([0.05, 0.15, 0.3, 0.45])
    raw, calibrated = lf(), lf(calibrate="contextual")
    assert raw.version != calibrated.version
    with VoteStore(tmp_path / "s.duckdb") as store:
        (out_raw, out_cal), session = apply(fresh, [raw, calibrated], frame, store=store, run_id=1)
        assert out_raw.labels.tolist() == [HAM, HAM, HAM, HAM]  # the bias: always "no"
        assert out_cal.labels.tolist() == [HAM, SPAM, SPAM, SPAM]  # above the content-free 0.083: "yes"
        p = 0.3 / CF_YES / (0.3 / CF_YES + 0.7 / (1 - CF_YES))  # the calibrated probability of "yes"
        assert out_cal.confidence[2] == pytest.approx(p)
        prompts = fresh.stats()["by_prompt"]
        assert {calibrated.content_free_messages()[i][-1]["content"] for i in range(3)} <= set(prompts)
        assert "Comment: N/A" in "".join(prompts) and "Comment: [MASK]" in "".join(prompts)
        fresh.reset()
        (again_raw, again_cal), _ = apply(fresh, [raw, calibrated], frame, store=store, run_id=2)
        assert fresh.stats()["total"] == 0  # examples and calibration answers from the cache
        assert again_cal.labels.tolist() == out_cal.labels.tolist()


def test_batch_calibration_uses_the_dev_mean_so_a_small_run_votes_as_a_large_one(fresh):
    dev = DevSet(frame_of([0.1, 0.2, 0.3, 0.4], "dev"))  # mean p(yes) 0.25, no gold needed
    batch = lf(calibrate="batch", dev=dev)
    out, _ = apply(fresh, [batch], frame_of([0.2, 0.3]))
    assert out[0].labels.tolist() == [HAM, SPAM]
    one, _ = apply(fresh, [batch], frame_of([0.3]))  # a run of one example: the same vote
    assert one[0].labels.tolist() == [SPAM]
    with pytest.raises(ValueError, match=r"calibrate='batch' need\(s\) dev="):
        lf(calibrate="batch")


def test_gold_calibration_fits_a_temperature_and_threshold(fresh):
    ps = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4]
    dev = dev_of(ps, [0, 0, 0, 0, 1, 1, 1, 1])  # spam from p(yes) 0.25 up
    gold = lf(calibrate="gold", dev=dev)
    out, _ = apply(fresh, [gold], frame_of([0.1, 0.22, 0.28, 0.6]))
    assert out[0].labels.tolist() == [HAM, HAM, SPAM, SPAM]
    assert out[0].confidence[3] > out[0].confidence[2]  # further from the boundary, surer


def test_coverage_makes_a_near_chance_voter_a_one_class_lf(fresh, tmp_path):
    dev = DevSet(frame_of([0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4], "dev"))
    one_class = lf("asks_to_subscribe", labels={"yes": SPAM}, calibrate="contextual", coverage=0.25, dev=dev)
    out, session = apply(fresh, [one_class], frame_of([0.1, 0.3, 0.36, 0.5]))
    assert out[0].labels.tolist() == [-1, -1, SPAM, SPAM]  # the top quarter of the dev scores: p(yes) >= 0.35
    assert np.isnan(out[0].confidence[:2]).all() and (out[0].confidence[2:] > 0.5).all()
    assert session.summary()["requests"] == 3 + 8 + 4  # content-free, dev, examples


def test_precision_threshold_and_a_fixed_one(fresh):
    ps = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5]
    dev = dev_of(ps, [0, 0, 1, 0, 1, 0, 1, 1, 1, 1])
    precise = lf(labels={"yes": SPAM}, calibrate="contextual", precision=0.8, dev=dev)
    fixed = lf("fixed", labels={"yes": SPAM}, min_confidence=0.4)
    never = lf("never", labels={"yes": SPAM}, precision=1.0, dev=dev_of(ps, [1, 0] * 5))
    out, _ = apply(fresh, [precise, fixed, never], frame_of([0.2, 0.3, 0.36, 0.42]))
    # the 6 surest dev votes (p >= 0.25) are right 5 times in 6 >= 0.8; 7 (p >= 0.2) only 5 in 7
    assert out[0].labels.tolist() == [-1, SPAM, SPAM, SPAM]
    assert out[1].labels.tolist() == [-1, -1, -1, SPAM]  # uncalibrated p(yes) >= 0.4
    assert out[2].labels.tolist() == [-1, -1, -1, -1]  # precision 1.0 is out of reach: it never votes
    with pytest.raises(ValueError, match="precision need.* the dev set's gold"):
        lf(precision=0.9, dev=DevSet(frame_of([0.1])))
    with pytest.raises(ValueError, match="need mode='logprobs'"):
        lf(mode="text", calibrate="contextual")


def test_few_shot_prompts_share_a_prefix_and_the_lf_abstains_on_its_shots(fresh):
    dev = dev_of([0.1, 0.2, 0.7, 0.8], [0, 0, 1, 1])
    shot = lf(shots=1, dev=dev, system="You check comments.")
    zero = lf(system="You check comments.")
    assert shot.version != zero.version and len(shot.shots) == 2
    assert lf(shots=[Shot({"text": "a"}, "yes")]).version != lf(shots=[Shot({"text": "b"}, "yes")]).version
    messages = shot.messages({"text": "hello"})
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert [m["content"] for m in messages[2::2][:2]] == ["no", "yes"]  # one of each class, HAM first
    shown = shot.shots[0].values["text"]
    frame = pl.DataFrame({"example_id": ["a", "b", "c", "d"], "text": ["nice song", shown, "check out", "ok"]})
    out, session = apply(fresh, [shot], frame)
    assert out[0].labels[1] == -1 and fresh.stats()["total"] == 3  # the shot is neither asked nor voted on
    summary = session.summary()
    assert summary["server_cache_hit_rate"] > 0.5  # the shots are a shared prefix the server reuses
    assert summary["prompt_tokens_per_vote"] > 0
    with pytest.raises(ValueError, match="shot answer 'maybe' is not one of"):
        lf(shots=[Shot({"text": "x"}, "maybe")])


def test_calibrated_few_shot_excludes_its_shots_from_the_dev_fit(fresh):
    dev = dev_of([0.1, 0.2, 0.3, 0.7, 0.8, 0.9], [0, 0, 0, 1, 1, 1])
    both = lf(shots=1, dev=dev, calibrate="batch")
    assert len(both.dev) == 4 and not {s.example_id for s in both.shots} & set(both.dev.ids)


def test_verbalizers_sum_surface_forms_and_paraphrases_are_separate_lfs(fresh):
    text = lf(mode="text", verbalizers={"yes": ["advertisement", "promotion"]})
    out, _ = apply(fresh, [text], frame_of([0.1]).with_columns(pl.Series("text", ["[[answer:Advertisement!]]"])))
    assert out[0].labels.tolist() == [SPAM]
    probs, outcome = lf(verbalizers={"yes": ["spam"]}).verbalizer.probs([["No", -1.0], ["Spam", -1.5], ["Yes", -1.5]])
    assert outcome == "ok" and probs[1] == pytest.approx(2 * math.exp(-1.5) / (math.exp(-1.0) + 2 * math.exp(-1.5)))
    with pytest.raises(ValueError, match="surface form 'yes' is empty or already stands for 'yes'"):
        lf(verbalizers={"no": ["yes"]})
    pair = paraphrases("is_spam", [TEMPLATE, "Comment: {text}\nIs it an ad? yes or no"], {"yes": SPAM}, "fake",
                       mode="logprobs", calibrate="contextual")  # fmt: skip
    out, _ = apply(fresh, pair, frame_of([0.05, 0.3]))
    assert [o.labels.tolist() for o in out] == [[-1, SPAM], [-1, SPAM]]


def test_a_calibration_that_cannot_be_fitted_stops_the_lf_for_the_run(fresh, tmp_path):
    broken = lf(calibrate="contextual", content_free=("[[fault:400:always]]",))
    frame = frame_of([0.2, 0.3])
    with VoteStore(tmp_path / "s.duckdb") as store:
        run = store.runs.start("t", {})
        keys = store.examples.sync("d", frame, run).ex_keys
        state: dict = {}
        configure(state, LLMSettings(base_url=fresh.base_url))
        stats = apply_to_store(store, "d", [broken], frame, keys, cardinality=2, run_id=run, progress=False,
                               state=state)  # fmt: skip
        assert stats.applied["is_spam"] == 0 and stats.errors["is_spam"] == 1
        assert "could not be calibrated" in store.votes.errors()["message"][0]
        assert fresh.stats()["total"] == 1  # the content-free prompt; no example was asked


def test_fit_recovers_a_shifted_boundary_from_gold():
    rng = np.random.default_rng(0)
    p_yes = rng.uniform(0.01, 0.6, 400)
    gold = (p_yes + rng.normal(0, 0.03, 400) > 0.3).astype(int)  # the true boundary is at 0.3, not 0.5
    probs = np.stack([1 - p_yes, p_yes], axis=1)
    decider = fit(DecisionSpec(calibrate="gold"), [HAM, SPAM], dev=probs, dev_target=gold, dev_gold=gold)
    votes = np.array([decider.decide(p, [HAM, SPAM])[0] for p in probs])
    assert np.mean(votes == gold) > 0.9 and decider.temperature != 1.0


def test_dry_run_counts_calibration_prompts_and_skips_shots(fresh, tmp_path):
    from weaksup.llm import dry_run

    dev = dev_of([0.1, 0.2, 0.7, 0.8], [0, 0, 1, 1])
    calibrated = lf(shots=1, dev=dev, calibrate="contextual", coverage=0.5)
    shown = calibrated.shots[0].values["text"]
    frame = pl.DataFrame({"example_id": ["a", "b", "c"], "text": ["x [[yes:0.3]]", shown, "y [[yes:0.6]]"]})
    before = dry_run([calibrated], frame).totals()
    assert before["to_send"] == 2 + 3 + 2  # the examples less the shot, 3 content-free prompts, dev less its shots
    with VoteStore(tmp_path / "s.duckdb") as store:
        apply(fresh, [calibrated], frame, store=store, run_id=1)
        assert fresh.stats()["total"] == before["to_send"]
        assert dry_run([calibrated], frame, store).totals()["to_send"] == 0


def test_min_lift_silences_a_class_whose_dev_votes_do_not_beat_its_share(fresh):
    ps = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95]
    gold = [0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 1]  # "yes" (p > 0.5) is right 5/5; "no" 7/8, HAM's share 7/13
    dev = dev_of(ps, gold)
    both = lf(min_lift=0.5, dev=dev)  # two-sided: "yes" 1.0 >= 5/13 + half the room; "no" 7/8 >= 7/13 + half
    backwards = lf("backwards", labels={"yes": HAM, "no": SPAM}, min_lift=0.1, dev=dev)  # the question read backwards
    out, _ = apply(fresh, [both, backwards], frame_of([0.1, 0.8]))
    assert out[0].labels.tolist() == [HAM, SPAM]
    assert out[1].labels.tolist() == [-1, -1]  # neither class beats its share: it keeps quiet
    gold_skewed = [0] * 13  # every dev example HAM: "no" is right 8/8, no better than HAM's share
    quiet = lf("quiet", min_lift=0.05, dev=dev_of(ps, gold_skewed))
    out, _ = apply(fresh, [quiet], frame_of([0.1, 0.8]))
    assert out[0].labels.tolist() == [-1, -1]
    with pytest.raises(ValueError, match="min_lift need.* the dev set's gold"):
        lf(min_lift=0.1, dev=DevSet(frame_of([0.1])))
