"""Plots of traces are written as PNG files without a display."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread
from trace_examples import random_net, reference_traces

from emu.traces import plot, save_traces
from emu.traces.access import SelectionError, open_traces


@pytest.fixture(scope="module")
def lazy(tmp_path_factory):
    rng = np.random.default_rng(3)
    tr = reference_traces(
        random_net(timesteps=20), rng.random((12, 1, 4, 4)), rng.integers(0, 5, 12)
    )
    return open_traces(save_traces(tr, tmp_path_factory.mktemp("plots") / "run.h5"))


def _is_png_with_ink(path) -> bool:
    image = imread(path)
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image[..., :3].std() > 0.01


def test_each_plot_writes_a_png(lazy, tmp_path):
    paths = [
        plot.raster(lazy, sample=3, layers=["layer0", "layer2"], path=tmp_path / "r.png"),
        plot.activity(lazy, tmp_path / "a.png"),
        plot.rate_histograms(lazy, tmp_path / "h.png"),
        plot.accuracy_vs_steps(lazy, tmp_path / "sub" / "acc.png"),
    ]
    assert all(_is_png_with_ink(p) for p in paths)


def test_all_plots_and_raster_errors(lazy, tmp_path):
    paths = plot.all_plots(lazy, tmp_path / "out")
    assert sorted(p.name for p in paths) == [
        "accuracy.png",
        "activity.png",
        "raster_0.png",
        "rates.png",
    ]
    with pytest.raises(SelectionError, match="not recorded"):
        plot.raster(lazy, sample=99, path=tmp_path / "x.png")
    with pytest.raises(SelectionError, match="not in the traces"):
        plot.raster(lazy, sample=1, layers=["conv9"], path=tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
