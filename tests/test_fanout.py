"""Shared fan-out: grouping sources with identical synapse rows keeps every input sum exact."""

import numpy as np
import pytest

from emu.engines.fanout import share_fanout


def _sorted_synapses(rng, n_pre: int, n_post: int, rows: int):
    """Random synapses where sources draw their row from ``rows`` distinct ones."""
    mask = rng.random((rows, n_post)) < 0.4
    weight = rng.integers(-300, 300, (rows, n_post))
    row_of = rng.integers(0, rows, n_pre)
    pre, post = np.nonzero(mask[row_of])
    return pre, post, weight[row_of][pre, post]


@pytest.mark.parametrize("seed", range(20))
def test_shared_delivery_equals_direct_delivery(seed):
    rng = np.random.default_rng(seed)
    n_pre, n_post = int(rng.integers(2, 60)), int(rng.integers(1, 30))
    pre, post, weight = _sorted_synapses(rng, n_pre, n_post, int(rng.integers(1, n_pre + 1)))
    fan = share_fanout(pre, post, weight)
    for _ in range(5):
        spikes = (rng.random(n_pre) < 0.5).astype(np.int64)
        expected = _deliver(post, weight * spikes[pre], n_post)
        d = fan.direct
        cell_sums = _deliver(fan.cells, spikes[fan.members], fan.n_cells)
        got = _deliver(post[d], weight[d] * spikes[pre[d]], n_post) + _deliver(
            fan.cell_post, fan.cell_weight * cell_sums[fan.cell_pre], n_post
        )
        np.testing.assert_array_equal(got, expected)


def _deliver(target: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros(size, np.int64)
    np.add.at(out, target, values)
    return out


def test_sources_with_identical_rows_share_one_cell_and_others_stay_direct():
    pre = np.array([0, 0, 1, 1, 2, 2, 3, 4])
    post = np.array([0, 1, 0, 1, 0, 1, 0, 0])
    weight = np.array([5, 6, 5, 6, 5, 7, 9, 9])
    fan = share_fanout(pre, post, weight)
    assert fan.n_cells == 1
    assert fan.members.tolist() == [0, 1] and fan.cells.tolist() == [0, 0]
    assert fan.cell_post.tolist() == [0, 1] and fan.cell_weight.tolist() == [5, 6]
    # source 2 differs in one weight; sources 3 and 4 have one synapse each: no gain
    assert fan.direct.tolist() == [False] * 4 + [True] * 4


def test_unsorted_synapses_are_refused():
    with pytest.raises(ValueError, match="sorted by source"):
        share_fanout(np.array([1, 0]), np.array([0, 0]), np.array([1, 1]))


def test_no_synapses_share_nothing():
    empty = np.zeros(0, np.int64)
    fan = share_fanout(empty, empty, empty)
    assert fan.n_cells == 0 and len(fan.direct) == 0
