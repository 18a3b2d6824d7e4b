"""Reports of Akida traces in Akida's words, and NeuroBench's metrics in the estimate's JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.image import imread

from converters.chips.akida import AkidaLayer, AkidaNet
from converters.chips.files import save_net
from emu.traces import save_traces
from hwmodels.calibration.workloads import akida_traces
from neuroemu.commands import main


@pytest.fixture(scope="module")
def akida_run(tmp_path_factory):
    """A conv + dense AkidaNet whose output layer gives signed potentials, and its traces."""
    rng = np.random.default_rng(0)
    conv = AkidaLayer(
        "conv", "input_conv", (6, 6, 1), rng.integers(-127, 128, (3, 3, 1, 4)).astype(np.int8),
        rng.integers(0, 400, 4), np.full(4, 40.0, np.float32), 8, 4,
    )  # fmt: skip
    fc = AkidaLayer(
        "fc", "dense", conv.output_shape, rng.integers(-7, 8, (144, 5)).astype(np.int8),
        np.zeros(5, np.int64), np.ones(5, np.float32), 4, None,
    )  # fmt: skip
    net = AkidaNet((6, 6, 1), 8, [conv, fc])
    tr = akida_traces(net, rng.random((30, 1, 6, 6)), rng.integers(0, 5, 30))
    assert (tr["spike_count_fc"].values < 0).any()  # signed activations to be kept apart
    tmp = tmp_path_factory.mktemp("akida")
    return save_traces(tr, tmp / "run.h5"), save_net(net, tmp / "net.npz")


def _has_ink(path) -> bool:
    image = imread(path)
    return image[..., :3].std() > 0.01


def test_inspect_akida_traces_speaks_of_events_and_plots_them(akida_run, tmp_path, capsys):
    traces, net = akida_run
    main(["inspect", str(traces), "--net", str(net), "--plots", str(tmp_path)])
    text = capsys.readouterr().out
    table = text.split("\n\n")[1]
    assert "events/sample" in table and "activation sum/sample" in table
    assert "spike" not in table and "rate" not in table
    events = [float(line.split()[2]) for line in table.splitlines()[2:]]
    assert len(events) == 3 and min(events) >= 0
    plots = sorted(p.name for p in tmp_path.iterdir())
    assert plots == ["activations.png", "activity.png", "rates.png"]
    assert all(_has_ink(tmp_path / p) for p in plots)
    assert "akida synaptic_ops" in text and "Effective_MACs" in text
    main(["diff", str(traces), str(traces)])
    diff = capsys.readouterr().out
    assert "activation sum/sample a" in diff and "spike" not in diff and "rate" not in diff


def test_estimate_json_holds_neurobench_metrics(akida_run, tmp_path, capsys):
    traces, net = akida_run
    out = tmp_path / "est.json"
    main(["estimate", str(traces), "--net", str(net), "--out", str(out)])
    estimate = json.loads(out.read_text())
    saved = estimate["details"]["neurobench"]
    assert saved["target"] == "akida"
    # the same events x non-zero weights the Akida model charges
    assert saved["chip"]["synaptic_ops"] == pytest.approx(
        estimate["details"]["synaptic_ops_per_frame"]
    )
    assert set(saved["metrics"]) >= {"Footprint", "ActivationSparsity", "SynapticOperations"}


def test_comparison_text_names_the_saturations(akida_run, tmp_path):
    from converters.chips.files import load_net
    from emu import load_traces
    from hwmodels import akida, report

    traces, net = akida_run
    tr = load_traces(traces)
    tr["saturation"].values[1, 1] = 7
    estimate = akida.estimate(load_net(net), tr)
    text = report.compare([estimate], tmp_path).text
    assert "saturation in layer 'conv': 7 potential saturations (the chip's own" in text
    assert "remedy:" in text
