"""Shuffling, unshuffling, voting and the correctness rule (docs/method.md §2-3)."""

from hypothesis import given
from hypothesis import strategies as st

from spct.core import Item, is_correct, make_sample, sample_orders, unshuffle, vote


def sample(shown_scores, order):
    return make_sample("Scores: \\boxed{{{}}}".format(", ".join(map(str, shown_scores))), order)


def test_paper_table_17_example():
    # (8, 8) in order; (9, 5) and (10, 7) shown reversed: R1 = 8+5+7 = 20, R2 = 8+9+10 = 27
    j = vote("x", 2, [sample([8, 8], [0, 1]), sample([9, 5], [1, 0]), sample([10, 7], [1, 0])])
    assert j.rewards == [20, 27] and j.best == 1 and j.ties == [] and j.n_valid == 3


def test_failed_samples_are_skipped_and_counted():
    j = vote("x", 2, [sample([3, 9], [0, 1]), make_sample("no scores", [0, 1]), make_sample("\\boxed{1}", [1, 0])])
    assert j.rewards == [3, 9] and j.best == 1
    assert (j.n_valid, j.n_failed) == (1, 2)
    assert j.failures == {"no_box": 1, "wrong_count": 1}


def test_all_failed_gives_no_rewards():
    j = vote("x", 3, [make_sample("nothing", [0, 1, 2])])
    assert j.rewards is None and j.best is None and j.n_failed == 1


def test_tie_at_the_top_has_no_best():
    j = vote(
        "x", 3, [sample([7, 7, 2], [0, 1, 2]), sample([9, 5, 5], [2, 0, 1])]
    )  # shown reversed-ish: originals (5, 5, 9)
    assert j.rewards == [12, 12, 11] and j.best is None and j.ties == [0, 1]


@given(st.integers(1, 6), st.integers(1, 16), st.integers(0, 10**6), st.text(max_size=10))
def test_orders_are_permutations_and_reproducible(n, k, seed, item_id):
    orders = sample_orders(n, k, seed, item_id)
    assert len(orders) == k and all(sorted(o) == list(range(n)) for o in orders)
    assert orders == sample_orders(n, k, seed, item_id)
    assert sample_orders(n, k, seed, item_id, shuffle=False) == [list(range(n))] * k
    assert orders[:1] == sample_orders(n, 1, seed, item_id)  # one sample's order does not depend on k
    for block in range(0, k - n + 1, n):  # each full block of n shows every response once in every position
        assert all(sorted(o[p] for o in orders[block : block + n]) == list(range(n)) for p in range(n))


def test_orders_vary_across_samples_and_seeds():
    assert len({tuple(o) for o in sample_orders(4, 16, 0, "a")}) > 4
    assert sample_orders(4, 8, 0, "a") != sample_orders(4, 8, 1, "a")


@given(
    st.lists(st.integers(1, 10), min_size=1, max_size=6).flatmap(
        lambda s: st.tuples(st.just(s), st.permutations(range(len(s))))
    )
)
def test_unshuffle_inverts_the_shown_order(case):
    original, order = case
    shown = [original[i] for i in order]
    assert unshuffle(shown, list(order)) == original


def test_correctness_is_strict():
    pair = Item(id="p", query="q", responses=["a", "b", "c"], best=1)
    assert is_correct([3, 9, 8], pair)
    assert not is_correct([9, 9, 8], pair)  # a tie at the top is wrong
    assert not is_correct([9, 3, 8], pair)
    assert not is_correct(None, pair)
    single = Item(id="s", query="q", responses=["a"], rating=1)
    assert is_correct([1], single) and not is_correct([0], single)


def test_voted_correctness():
    from spct.core import judgment_correct

    pair = Item(id="p", query="q", responses=["a", "b"], best=1)
    assert judgment_correct(vote("p", 2, [sample([3, 9], [0, 1]), sample([8, 8], [1, 0])]), pair)
    assert not judgment_correct(vote("p", 2, [sample([9, 3], [0, 1]), sample([3, 9], [0, 1])]), pair)  # tie
    assert not judgment_correct(vote("p", 2, [make_sample("?", [0, 1])]), pair)
    single = Item(id="s", query="q", responses=["a"], rating=1)
    binary = [make_sample(f"\\boxed{{{s}}}", [0], score_range=(0, 1)) for s in (1, 1, 0)]
    assert judgment_correct(vote("s", 1, binary), single)
    assert not judgment_correct(vote("s", 1, binary[1:]), single)  # 1 vs 0: undecided
