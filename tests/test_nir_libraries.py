"""NIR with snntorch, sinabs and norse: their networks imported and emulated, neuroemu's run by them.

One digits MLP (64-40-10, a ReLU network trained for a second and normalized so that rates
stand for activations) is built in each library; every library and neuroemu see the same
input spike trains, those of neuroemu's input population (level round(255 x), one spike
whenever the accumulated level passes 255). Predictions are the argmax of output counts.
"""

from __future__ import annotations

import os
import warnings

import nir
import numpy as np
import pytest

from converters import Dense, Graph, Input, normalize, to_loihi
from converters.chips.loihi import INPUT_LEVELS
from converters.exports.nir_export import to_nir
from converters.frontends.nir_import import from_nir, read_nir
from converters.training.datasets import digits

torch = pytest.importorskip("torch")

STEPS, SAMPLES, HIDDEN = 48, 200, 40
AGREEMENT = 0.95
SINABS = (
    "sinabs 3.1.3 declares nir<=1.0.4, which snntorch 1.0.0 (its LIF export needs v_reset) and "
    "nirtorch 2.6 (nir>=1.0.6) cannot use; install it apart: pip install --no-deps sinabs==3.1.3 pbr"
)


@pytest.fixture(scope="module")
def case():
    """Normalized MLP weights, 200 test digits, their labels, levels and input spike trains."""
    torch.manual_seed(0)
    data = digits()
    x_train = torch.tensor(data.x_train.reshape(len(data.x_train), 64))
    y_train = torch.tensor(data.y_train)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(64, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10)
    )
    opt = torch.optim.Adam(mlp.parameters(), 1e-2)
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(mlp(x_train), y_train).backward()
        opt.step()
    with torch.no_grad():
        hidden = torch.relu(mlp[0](x_train))
        top1 = float(torch.quantile(hidden.flatten(), 0.999))
        top2 = float(torch.quantile(torch.relu(mlp[2](hidden)).flatten(), 0.999))
        weights = (
            mlp[0].weight / top1,
            mlp[0].bias / top1,
            mlp[2].weight * top1 / top2,
            mlp[2].bias / top2,
        )
    x = data.x_test[:SAMPLES].reshape(SAMPLES, 64)
    levels = np.rint(np.clip(x, 0, 1) * INPUT_LEVELS).astype(np.int64)
    return {
        "mlp": mlp,
        "weights": [w.detach().clone() for w in weights],
        "x": x,
        "y": data.y_test[:SAMPLES],
        "levels": torch.tensor(levels, dtype=torch.float32),
        "spikes": torch.tensor(input_spikes(levels, STEPS), dtype=torch.float32),
    }


def input_spikes(levels: np.ndarray, steps: int) -> np.ndarray:
    """(steps, samples, inputs) spikes of the input population: v += level, fire past 255."""
    v = np.zeros_like(levels)
    out = []
    for _ in range(steps):
        v = v + levels
        fired = v > INPUT_LEVELS
        v = v - INPUT_LEVELS * fired
        out.append(fired)
    return np.array(out)


def set_weights(first, second, weights) -> None:
    with torch.no_grad():
        first.weight.copy_(weights[0])
        first.bias.copy_(weights[1])
        second.weight.copy_(weights[2])
        second.bias.copy_(weights[3])


def emulate(net, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """neuroemu's predictions: the Brian2 runtime device, checked against the numpy reference."""
    import emu
    from emu.engines import loihi_reference

    cache = os.environ.get("NEUROEMU_CACHE")
    run = emu.Emulation(net, device="runtime", cache_dir=cache).run(x, y)
    predictions = run["prediction"].values
    reference = loihi_reference.simulate(net, net.input.levels(x))
    np.testing.assert_array_equal(predictions, reference.counts[net.output.name].argmax(1))
    return predictions


def check(source: np.ndarray, emulated: np.ndarray, y: np.ndarray, label: str) -> float:
    """Agreement of predictions; the source network must be a real classifier."""
    agreement = float(np.mean(source == emulated))
    accuracy = float(np.mean(source == y))
    print(f"{label}: agreement {agreement:.3f}, source accuracy {accuracy:.3f}")
    assert accuracy > 0.85, f"{label}: the source network classifies {accuracy:.1%}"
    assert agreement >= AGREEMENT, f"{label}: predictions agree on {agreement:.1%}"
    return agreement


def counts(step, spikes) -> np.ndarray:
    """Output spike counts of a per-step callable over the input spike trains."""
    total = 0
    with torch.no_grad():
        for t in range(len(spikes)):
            out = step(spikes[t])
            total = total + (out[0] if isinstance(out, tuple) else out)
    return total.numpy()


def loihi_mlp(case, reset: str):
    """neuroemu's own conversion of the MLP (normalize, to_loihi)."""
    mlp = case["mlp"]
    w = [p.detach().double().numpy() for p in mlp.parameters()]
    graph = Graph(
        [
            Input("input", (64,)),
            Dense("hidden", ["input"], w[0], w[1], relu=True),
            Dense("out", ["hidden"], w[2], w[3]),
        ],
        output="out",
    )
    calibration = digits().x_train.reshape(-1, 64)
    return to_loihi(normalize(graph, calibration), timesteps=STEPS, reset=reset)


def _snntorch_leaky_net(case):
    """snntorch's default Leaky network of the case's weights and its own predictions."""
    snn = pytest.importorskip("snntorch")
    import snntorch.utils

    def leaky(n, **kw):
        return snn.Leaky(beta=torch.full((n,), 0.9), threshold=torch.ones(n), **kw)

    net = torch.nn.Sequential(
        torch.nn.Linear(64, HIDDEN),
        leaky(HIDDEN, init_hidden=True),
        torch.nn.Linear(HIDDEN, 10),
        leaky(10, init_hidden=True, output=True),
    )
    set_weights(net[0], net[2], case["weights"])
    snntorch.utils.reset(net)
    return net, counts(net, case["spikes"]).argmax(1)


def test_snntorch_default_leaky_network_imported_and_emulated(case, tmp_path):
    pytest.importorskip("snntorch")
    from snntorch.export_nir import export_to_nir

    net, source = _snntorch_leaky_net(case)
    graph = export_to_nir(net, torch.zeros(64))
    assert {type(n).__name__ for n in graph.nodes.values()} >= {"LIF", "Affine"}
    nir.write(tmp_path / "snntorch.nir", graph)
    imported = read_nir(tmp_path / "snntorch.nir", timesteps=STEPS, dt=1e-4)
    assert [(la.decay_u, la.decay_v, la.reset) for la in imported.layers] == [
        (4096, 410, "zero")
    ] * 2
    check(source, emulate(imported, case["x"], case["y"]), case["y"], "snntorch Leaky")


def test_snntorch_synaptic_network_imported_as_cuba_lif(case):
    snn = pytest.importorskip("snntorch")
    import snntorch.utils
    from snntorch.export_nir import export_to_nir

    def synaptic(n, **kw):
        alpha, beta = torch.full((n,), 0.5), torch.full((n,), 0.9)
        return snn.Synaptic(alpha=alpha, beta=beta, threshold=torch.ones(n), **kw)

    net = torch.nn.Sequential(
        torch.nn.Linear(64, HIDDEN, bias=False),
        synaptic(HIDDEN, init_hidden=True, reset_mechanism="zero"),
        torch.nn.Linear(HIDDEN, 10, bias=False),
        synaptic(10, init_hidden=True, output=True, reset_mechanism="zero"),
    )
    with torch.no_grad():
        net[0].weight.copy_(case["weights"][0] * 0.5)
        net[2].weight.copy_(case["weights"][2])
    snntorch.utils.reset(net)
    source = counts(net, case["spikes"]).argmax(1)
    graph = export_to_nir(net, torch.zeros(64))
    assert {type(n).__name__ for n in graph.nodes.values()} >= {"CubaLIF", "Linear"}
    imported = from_nir(graph, timesteps=STEPS, dt=1e-4)
    assert [(la.decay_u, la.decay_v) for la in imported.layers] == [(2048, 410)] * 2
    check(source, emulate(imported, case["x"], case["y"]), case["y"], "snntorch Synaptic")


def test_sinabs_iaf_mlp_imported_and_emulated(case):
    sinabs = pytest.importorskip("sinabs", reason=SINABS)
    import sinabs.layers as sl

    net = torch.nn.Sequential(
        torch.nn.Linear(64, HIDDEN),
        sl.IAFSqueeze(batch_size=SAMPLES),
        torch.nn.Linear(HIDDEN, 10),
        sl.IAFSqueeze(batch_size=SAMPLES),
    )
    set_weights(net[0], net[2], case["weights"])
    x = case["spikes"].permute(1, 0, 2).reshape(SAMPLES * STEPS, 64)
    with torch.no_grad():
        source = net(x).reshape(SAMPLES, STEPS, 10).sum(1).numpy().argmax(1)
    graph = sinabs.to_nir(net, torch.zeros(SAMPLES, 64))
    with pytest.warns(UserWarning, match="reset='subtract'"):
        imported = from_nir(graph, timesteps=STEPS)
    assert [(la.decay_v, la.vth_mant) for la in imported.layers] == [(0, 4096)] * 2
    check(source, emulate(imported, case["x"], case["y"]), case["y"], "sinabs IAF")


def test_sinabs_iaf_imported_with_its_reset_by_subtraction(case):
    sinabs = pytest.importorskip("sinabs", reason=SINABS)
    import sinabs.layers as sl

    net = torch.nn.Sequential(
        torch.nn.Linear(64, HIDDEN),
        sl.IAFSqueeze(batch_size=SAMPLES),
        torch.nn.Linear(HIDDEN, 10),
        sl.IAFSqueeze(batch_size=SAMPLES),
    )
    set_weights(net[0], net[2], case["weights"])
    x = case["spikes"].permute(1, 0, 2).reshape(SAMPLES * STEPS, 64)
    with torch.no_grad():
        source = net(x).reshape(SAMPLES, STEPS, 10).sum(1).numpy().argmax(1)
    graph = sinabs.to_nir(net, torch.zeros(SAMPLES, 64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        imported = from_nir(graph, timesteps=STEPS, reset="subtract")
    assert [la.reset for la in imported.layers] == ["subtract"] * 2
    check(source, emulate(imported, case["x"], case["y"]), case["y"], "sinabs IAF, subtract")


def test_norse_iaf_and_lif_box_network_imported_and_emulated(case):
    norse = pytest.importorskip("norse.torch")

    lif = norse.LIFBoxCell(
        norse.LIFBoxParameters(tau_mem_inv=torch.tensor(100.0), v_th=torch.tensor(0.1))
    )
    net = norse.SequentialState(
        torch.nn.Linear(64, HIDDEN), norse.IAFCell(), torch.nn.Linear(HIDDEN, 10), lif
    )
    set_weights(net[0], net[2], case["weights"])
    state = [None]

    def step(x):
        out, state[0] = net(x, state[0])
        return out

    source = counts(step, case["spikes"]).argmax(1)
    graph = norse.to_nir(net, torch.zeros(1, 64))
    kinds = [type(graph.nodes[k]).__name__ for k in ("1", "3")]
    assert kinds == ["IF", "LIF"]
    # norse 1.1.0 writes tau = dt / tau_inv at its dt = 1e-3: in time units of 1e-6 per step
    imported = from_nir(graph, timesteps=STEPS, dt=1e-6)
    assert [la.decay_v for la in imported.layers] == [0, 410]
    assert imported.input.shape == (64,)  # norse's batch dimension of 1 dropped
    check(source, emulate(imported, case["x"], case["y"]), case["y"], "norse IAF + LIFBox")


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_neuroemu_export_runs_in_sinabs(case, reset, tmp_path):
    sinabs = pytest.importorskip("sinabs", reason=SINABS)
    net = loihi_mlp(case, reset)
    expected = emulate(net, case["x"], case["y"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        nir.write(tmp_path / "net.nir", to_nir(net))
    model = sinabs.from_nir(nir.read(tmp_path / "net.nir"), batch_size=SAMPLES)
    levels = case["levels"][None].expand(STEPS, SAMPLES, 64)
    with torch.no_grad():
        out = model(levels.permute(1, 0, 2).reshape(SAMPLES * STEPS, 64))
    out = out[0] if isinstance(out, tuple) else out
    source = out.reshape(SAMPLES, STEPS, 10).sum(1).numpy().argmax(1)
    check(source, expected, case["y"], f"sinabs running neuroemu's export (reset {reset})")


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_neuroemu_export_runs_in_snntorch(case, reset):
    snn = pytest.importorskip("snntorch")
    import snntorch.utils
    from snntorch.import_nir import import_from_nir

    net = loihi_mlp(case, reset)
    expected = emulate(net, case["x"], case["y"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        graph = to_nir(net, neuron="LIF", dt=1e-4, input_population=False)
    assert {type(n).__name__ for n in graph.nodes.values()} == {"Input", "Affine", "LIF", "Output"}
    model = import_from_nir(graph)
    snntorch.utils.reset(model)
    source = counts(model, case["spikes"]).argmax(1)
    check(source, expected, case["y"], f"snntorch running neuroemu's export (reset {reset})")
    assert snn.Leaky is not None


def test_snntorch_round_trip_through_neuroemu_with_default_dt(case):
    """snntorch -> NIR -> neuroemu -> NIR (export defaults, spike input) -> snntorch."""
    pytest.importorskip("snntorch")
    import snntorch.utils
    from snntorch.export_nir import export_to_nir
    from snntorch.import_nir import import_from_nir

    net, source = _snntorch_leaky_net(case)
    imported = from_nir(export_to_nir(net, torch.zeros(64)), timesteps=STEPS, dt=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        back = import_from_nir(to_nir(imported, neuron="LIF", input_population=False))
    snntorch.utils.reset(back)
    check(source, counts(back, case["spikes"]).argmax(1), case["y"], "snntorch round trip")


def test_sinabs_round_trip_through_neuroemu_with_default_options(case):
    """sinabs -> NIR -> neuroemu -> NIR (export defaults) -> sinabs, fed the input levels."""
    sinabs = pytest.importorskip("sinabs", reason=SINABS)
    import sinabs.layers as sl

    net = torch.nn.Sequential(
        torch.nn.Linear(64, HIDDEN),
        sl.IAFSqueeze(batch_size=SAMPLES),
        torch.nn.Linear(HIDDEN, 10),
        sl.IAFSqueeze(batch_size=SAMPLES),
    )
    set_weights(net[0], net[2], case["weights"])
    x = case["spikes"].permute(1, 0, 2).reshape(SAMPLES * STEPS, 64)
    with torch.no_grad():
        source = net(x).reshape(SAMPLES, STEPS, 10).sum(1).numpy().argmax(1)
    imported = from_nir(sinabs.to_nir(net, torch.zeros(SAMPLES, 64)), timesteps=STEPS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        back = sinabs.from_nir(to_nir(imported), batch_size=SAMPLES)
    levels = case["levels"][None].expand(STEPS, SAMPLES, 64)
    with torch.no_grad():
        out = back(levels.permute(1, 0, 2).reshape(SAMPLES * STEPS, 64))
    out = out[0] if isinstance(out, tuple) else out
    trip = out.reshape(SAMPLES, STEPS, 10).sum(1).numpy().argmax(1)
    check(source, trip, case["y"], "sinabs round trip")


@pytest.mark.parametrize("dt, silent", [(1.0, True), (None, False)])
def test_export_silence_check_matches_snntorch_running_the_export(case, dt, silent):
    """The numpy check of an LIF export at snntorch's step against snntorch's own run."""
    pytest.importorskip("snntorch")
    import snntorch.utils
    from snntorch.import_nir import import_from_nir

    from converters.exports.nir_activity import output_spikes, silence_warning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        graph = to_nir(loihi_mlp(case, "zero"), neuron="LIF", dt=dt, input_population=False)
    model = import_from_nir(graph)
    snntorch.utils.reset(model)
    library = counts(model, case["spikes"])
    ours = output_spikes(graph, case["x"], STEPS, 1e-4)
    assert (library.sum() == 0) == silent == (ours.sum() == 0)
    warning = silence_warning(graph, "LIF", case["x"], STEPS, f"{SAMPLES} digits")
    if silent:
        assert "no output spike on 200 digits" in warning and "--dt 0.0001" in warning
    else:
        assert warning is None
        agreement = float(np.mean(library.argmax(1) == ours.argmax(1)))
        print(f"export check against snntorch: agreement {agreement:.3f}")
        assert agreement >= AGREEMENT
