"""Inference-time scaling: meta-RM selection, adaptive stopping, prefix sharing and the cache."""

from __future__ import annotations

import itertools

import pytest
import torch
from helpers import ScriptedJudge
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import LlamaConfig, LlamaForSequenceClassification

from spct import GRM, Item
from spct.core.items import Sample
from spct.core.vote import vote
from spct.scaling.meta_rm import MetaRM, meta_messages
from spct.scaling.strategies import decided, keep_top


def sample(scores: list[int] | None) -> Sample:
    return Sample(
        order=list(range(len(scores or [0]))), text="t", scores=scores, failure=None if scores else "no_box: x"
    )


# -- meta-RM-guided voting ------------------------------------------------------------------------


def test_keep_top_votes_only_the_best_judgments_by_meta_reward():
    samples = [sample([9, 1]), sample([1, 9]), sample([2, 8]), sample(None), sample([7, 3])]
    kept = keep_top(samples, [0.9, -1.0, -2.0, None, 0.5], k_meta=2)
    assert [s.in_vote for s in kept] == [True, False, False, False, True]
    assert [s.meta_score for s in kept] == [0.9, -1.0, -2.0, None, 0.5]
    j = vote("x", 2, kept, "meta", k=5)
    assert j.rewards == [16, 4] and j.best == 0 and (j.n_valid, j.n_failed, j.samples_used) == (2, 1, 5)
    # plain voting over the same samples would have tied the vote's leader
    assert vote("x", 2, samples).rewards == [19, 21]


def test_keep_top_with_more_slots_than_valid_samples_and_equal_meta_rewards():
    samples = [sample(None), sample([3, 4]), sample([5, 1])]
    assert [s.in_vote for s in keep_top(samples, [None, 0.0, 0.0], k_meta=8)] == [False, True, True]
    assert [s.in_vote for s in keep_top(samples, [None, 0.0, 0.0], k_meta=1)] == [False, True, False]  # earlier draw
    assert vote("x", 2, keep_top([sample(None)], [None], 4)).rewards is None
    with pytest.raises(ValueError, match="k_meta"):
        keep_top(samples, [None, 0.0, 0.0], k_meta=0)


# -- adaptive stopping ----------------------------------------------------------------------------


def outcome(valid: list[list[int]]) -> object:
    """What the vote decides: the unique leader (None on a tie), or the rating the mean rounds to."""
    if not valid:
        return None
    if len(valid[0]) == 1:
        mean = sum(v[0] for v in valid) / len(valid)
        return None if abs(mean - round(mean)) == 0.5 else round(mean)
    totals = [sum(c) for c in zip(*valid, strict=True)]
    return totals.index(max(totals)) if totals.count(max(totals)) == 1 else None


def continuations(n: int, lo: int, hi: int, m: int):
    """Every way m more samples can go, reduced to extreme scores (sums are linear, so extremes
    reach every outcome any scores reach) and failures."""
    per_sample = [None, *itertools.product((lo, hi), repeat=n)]
    return itertools.product(per_sample, repeat=m)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 3),
    data=st.data(),
    remaining=st.integers(0, 3),
    binary=st.booleans(),
)
def test_certain_stop_never_stops_while_the_outcome_is_open_and_always_stops_once_closed(n, data, remaining, binary):
    lo, hi = (0, 1) if (binary and n == 1) else (1, 10)
    drawn = data.draw(st.lists(st.one_of(st.none(), st.lists(st.integers(lo, hi), min_size=n, max_size=n)), max_size=6))
    samples = [sample(s) for s in drawn]
    valid = [s for s in drawn if s is not None]
    now = outcome(valid)
    can_change = any(
        outcome(valid + [list(c) for c in cont if c is not None]) != now for cont in continuations(n, lo, hi, remaining)
    )
    assert decided(samples, remaining, (lo, hi), confidence=1.0) == (
        (now is not None and not can_change) or remaining == 0
    )


def test_confident_stop_needs_evidence():
    clear = [sample([10, 2])] * 4
    assert decided(clear, remaining=28, score_range=(1, 10), confidence=0.95)  # four agreeing samples
    assert not decided(clear[:1], remaining=31, score_range=(1, 10), confidence=0.95)  # one is not enough
    assert not decided(clear, remaining=28, score_range=(1, 10), confidence=1.0)  # 32 is not reachable yet
    split = [sample([10, 2]), sample([2, 10]), sample([10, 2]), sample([3, 9])]
    assert not decided(split, remaining=28, score_range=(1, 10), confidence=0.95)
    tied = [sample([5, 5])] * 8
    assert not decided(tied, remaining=24, score_range=(1, 10), confidence=0.5)
    assert not decided([sample(None)] * 8, remaining=24, score_range=(1, 10), confidence=0.5)


def test_adaptive_voting_spends_fewer_samples_where_the_vote_is_clear():
    items = [Item(id=f"c{i}", query="q", responses=["right", "no", "nope"]) for i in range(6)]
    judge = ScriptedJudge(error=0.3, seed=1)
    grm = GRM(backend=judge, seed=2)
    adaptive = grm.score_batch(items, 32, "adaptive", round_size=4)
    assert all(j.strategy == "adaptive" and j.k == 32 and j.best == 0 for j in adaptive)
    used = [j.samples_used for j in adaptive]
    assert all(4 <= u <= 32 and u % 4 == 0 for u in used) and sum(used) < 32 * len(items) / 2
    assert [len(j.samples) for j in adaptive] == used
    # each round asks only for the items still open
    assert [c[0] for c in judge.calls] == sorted([c[0] for c in judge.calls], reverse=True)
    certain = GRM(backend=ScriptedJudge(), seed=2).score_batch(items[:1], 8, "adaptive", round_size=2, confidence=1.0)
    assert (
        certain[0].samples_used == 6
    )  # a lead of 8 per draw: 6 x 8 = 48 > 2 x 9 is the first lead the 2 draws left cannot undo


# -- drawing: prefix sharing and the cache --------------------------------------------------------


def test_prefix_sharing_draws_several_samples_per_order_from_one_prompt():
    judge = ScriptedJudge()
    item = Item(id="p", query="q", responses=["right", "b", "c", "d"])
    j = GRM(backend=judge, per_order=4).score_batch([item], 8)[0]
    assert judge.calls[0][0] == 2 and judge.calls[0][1].n == 4  # 2 prompts x 4 samples, one call
    orders = [tuple(s.order) for s in j.samples]
    assert orders[:4] == [orders[0]] * 4 and orders[4:] == [orders[4]] * 4
    assert j.rewards == [80, 16, 16, 16]
    # draws are indexed alike whatever k is (k >= 2 x per_order): the first 8 of k = 16 are the draws of k = 8
    more = GRM(backend=ScriptedJudge(), per_order=4).score_batch([item], 16)[0]
    assert [s.order for s in more.samples[:8]] == [s.order for s in j.samples]


def test_every_vote_sees_at_least_two_response_orders():
    """k = 4 at 4 per order, and each round of adaptive voting, draw two orders of two: a position
    habit cannot decide a vote alone."""
    item = Item(id="p", query="q", responses=["right", "b"])
    judge = ScriptedJudge()
    j = GRM(backend=judge, per_order=4).score_batch([item], 4)[0]
    assert [(c[0], c[1].n) for c in judge.calls] == [(2, 2)] and len({tuple(s.order) for s in j.samples}) == 2
    judge = ScriptedJudge()
    j = GRM(backend=judge, per_order=4).score_batch([item], 8, "adaptive", confidence=1.0)[0]
    assert [(c[0], c[1].n) for c in judge.calls] == [(2, 2), (2, 2)]  # rounds of 4 (SCORING.round_size)
    assert [tuple(s.order) for s in j.samples[:4]] != [tuple(j.samples[0].order)] * 4


def test_cache_serves_reruns_and_larger_k_and_misses_when_any_key_part_changes(tmp_path):
    items = [Item(id=f"i{i}", query=f"q{i}", responses=["right", "wrong"]) for i in range(3)]
    path = tmp_path / "cache.sqlite"

    def run(samples: int = 4, **kw) -> tuple[ScriptedJudge, list]:
        judge = ScriptedJudge()
        judge.model_id = kw.pop("model_id", "scripted")
        grm = GRM(backend=judge, cache=path, **{"per_order": 2} | kw)  # k = 4 and 8 share orders alike
        return judge, grm.score_batch(items, samples)

    judge, first = run()
    assert sum(c[0] * c[1].n for c in judge.calls) == 12
    judge, again = run()
    assert judge.calls == [] and [j.rewards for j in again] == [j.rewards for j in first]
    judge, more = run(samples=8)
    assert sum(c[0] * c[1].n for c in judge.calls) == 12  # only draws 4..7 of each item
    assert [s.text for s in more[0].samples[:4]] == [s.text for s in first[0].samples]
    for change in (
        {"seed": 1},
        {"template": "compact"},
        {"temperature": 0.7},
        {"top_p": 0.9},
        {"max_new_tokens": 64},
        {"principles": ["Be kind."]},
        {"model_id": "other"},
        {"per_order": 1},
    ):
        judge, _ = run(**change)
        assert sum(c[0] * c[1].n for c in judge.calls) == 12, change
    edited = [items[0].model_copy(update={"responses": ["right", "wrong!"]}), *items[1:]]
    judge = ScriptedJudge()
    GRM(backend=judge, cache=path).score_batch(edited, 4)
    assert sum(c[0] * c[1].n for c in judge.calls) == 4  # only the edited item


def test_a_retrained_local_checkpoint_misses_the_cache(tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "model.safetensors").write_bytes(b"v1")
    item = Item(id="i", query="q", responses=["right", "wrong"])

    def calls() -> int:
        judge = ScriptedJudge()
        judge.model_id = str(ckpt)
        GRM(backend=judge, cache=tmp_path / "c.sqlite", template="pointwise").score_batch([item], 2)
        return len(judge.calls)

    assert (calls(), calls()) == (1, 0)
    (ckpt / "model.safetensors").write_bytes(b"v2 retrained")
    assert calls() == 1


# -- the meta RM ------------------------------------------------------------------------------------


def test_meta_rm_on_a_real_sequence_classifier_steers_the_vote(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_labels=1,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForSequenceClassification(config).save_pretrained(tmp_path / "meta")
    tokenizer.save_pretrained(tmp_path / "meta")
    meta = MetaRM(str(tmp_path / "meta"), batch_size=2)

    item = Item(id="m", query="Which is right?", responses=["right", "wrong", "nope"])
    messages = meta_messages(item, Sample(order=[2, 0, 1], text="Scores: \\boxed{1, 2, 3}", scores=[2, 3, 1]))
    assert messages[0]["content"].startswith("Please score the responses.")
    assert messages[0]["content"].index("\nnope\n") < messages[0]["content"].index("\nright\n")  # its order
    assert messages[1] == {"role": "assistant", "content": "Scores: \\boxed{1, 2, 3}"}

    grm = GRM(backend=ScriptedJudge(error=0.5, seed=3), meta_rm=meta, seed=1)
    j = grm.score_batch([item], 8, "meta", k_meta=3)[0]
    valid = [s for s in j.samples if s.ok]
    assert sum(s.in_vote for s in j.samples) == 3 and all(s.meta_score is not None for s in valid)
    kept = sorted((s.meta_score for s in valid if s.in_vote), reverse=True)
    assert kept == sorted((s.meta_score for s in valid), reverse=True)[:3]
    # batching does not change a judgment's meta reward
    alone = meta.score([(item, valid[0])])[0]
    assert alone == pytest.approx(valid[0].meta_score, abs=1e-5)
    with pytest.raises(ValueError, match="meta RM"):
        GRM(backend=ScriptedJudge()).score_batch([item], 4, "meta")


def test_bad_strategy_options_fail_before_any_sampling():
    judge = ScriptedJudge()
    grm = GRM(backend=judge)
    item = Item(id="x", query="q", responses=["right", "b"])
    for kwargs, message in (
        ({"strategy": "best"}, "unknown strategy"),
        ({"strategy": "greedy", "k": 4}, "greedy"),
        ({"k": 0}, "k must be"),
    ):
        with pytest.raises(ValueError, match=message):
            grm.score_batch([item], **{"k": 2, **kwargs})
    assert judge.calls == []


def test_curves_from_one_pass_replay_adaptive_and_meta_voting():
    import random as rnd

    from spct.core.items import Judgment
    from spct.scaling.curves import adaptive_at, meta_at, vote_at

    item = Item(id="c", query="q", responses=["a", "b"], best=0)
    good, bad = sample([9, 2]), sample([2, 9])
    samples = [good.model_copy(update={"meta_score": 1.0})] * 6 + [bad.model_copy(update={"meta_score": -1.0})] * 6
    j = Judgment(id="c", n_responses=2, samples=samples, rewards=None, best=None, n_valid=12, n_failed=0)
    assert vote_at(j, item, 12, rnd.Random(0)) == 0.0  # a tie over all twelve
    assert meta_at(j, item, 12, rnd.Random(0)) == 1.0  # the meta RM keeps the six good ones
    assert 0.0 < vote_at(j, item, 3, rnd.Random(0)) < 1.0
    # the replay reads draws in order: good draws first, then bad ones that end in a tie
    assert adaptive_at(j, item, 12, (1, 10), round_size=4, confidence=1.0) == (False, 12)
    mostly = j.model_copy(update={"samples": [good] * 10 + [bad] * 2})
    # after 8 good draws the lead is 8 x 7 = 56 > 4 x 9 still to come: stop, 8 used of 12
    assert adaptive_at(mostly, item, 12, (1, 10), round_size=4, confidence=1.0) == (True, 8)
