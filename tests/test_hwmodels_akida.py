"""The Akida model: synaptic-op counts, the energy formula, calibration, zero-aware training."""

import numpy as np
import pytest
import torch

import converters
from converters import datasets, pipeline, training
from converters.chips.akida import AkidaBits, AkidaLayer
from converters.frontends.akida_import import from_akida_model
from converters.targets.akida import to_akida
from converters.training.models import two_conv_two_fc
from converters.training.zero_aware import ZeroAware
from emu import Emulation
from emu.crosscheck.akida_cases import randomize_layer as _randomize
from hwmodels import Constants, TraceMismatchError, akida
from hwmodels.akida_mapping import map_network, rule_mapping
from hwmodels.calibration import akida_fit


def _sparse_weights(shape, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.integers(-7, 8, size=shape)
    w[rng.random(shape) < 0.5] = 0
    return w


def test_an_event_touches_the_non_zero_weights_of_its_window():
    w = _sparse_weights((3, 3, 2, 5))
    layer = AkidaLayer("c", "conv", (6, 6, 2), w, np.zeros(5, int), np.ones(5), 4, 4)
    x = np.zeros((2, 6, 6, 2), np.int64)
    x[0, 3, 3, 1] = 5  # an interior event reaches every tap of channel 1
    x[1, 3, 3, 1] = 2
    x[1, 2, 2, 0] = 1
    ops = akida.synaptic_ops(layer, x)
    assert ops[0] == np.count_nonzero(w[:, :, 1, :])
    assert ops[1] == np.count_nonzero(w[:, :, 1, :]) + np.count_nonzero(w[:, :, 0, :])
    dense = _sparse_weights((6 * 6 * 2, 4), seed=1)
    fc = AkidaLayer("d", "dense", (6, 6, 2), dense, np.zeros(4, int), np.ones(4), 4, 4)
    r = 3 + 6 * (3 + 6 * 1)  # row h + H (w + W c) of input (3, 3, 1)
    assert akida.synaptic_ops(fc, x)[0] == np.count_nonzero(dense[r])


def test_corner_events_reach_fewer_outputs_than_interior_ones():
    w = np.ones((3, 3, 1, 2), np.int64)
    layer = AkidaLayer("c", "conv", (5, 5, 1), w, np.zeros(2, int), np.ones(2), 4, 4)
    x = np.zeros((2, 5, 5, 1), np.int64)
    x[0, 0, 0, 0] = 1
    x[1, 2, 2, 0] = 1
    assert list(akida.synaptic_ops(layer, x)) == [4 * 2, 9 * 2]


@pytest.fixture(scope="module")
def digits_akida():
    data = datasets.digits()
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(8 * 16, 10),
    )
    training.train(model, data.x_train, data.y_train, epochs=5)
    net = to_akida(
        converters.load(model, data.x_train[:1]), data.x_train[:300], drop_output_bias=True
    )
    x, y = data.x_test[:50], data.y_test[:50]
    return net, traces_for(net, x, y)


def traces_for(net, x, y):
    return Emulation(net, device="reference").run(x, y)


def test_energy_is_the_documented_formula(digits_akida):
    net, traces = digits_akida
    c = Constants()
    est = akida.estimate(net, traces)
    chip = [le for le in est.layers[1:] if le.units]
    synops = sum(le.counts["synaptic_ops"] for le in chip)
    fires = sum(le.counts["events"] for le in chip)
    assert len(chip) == len(net.layers)  # BrainChip's mapper keeps both layers on the chip
    assert fires == pytest.approx(
        np.mean(
            sum(np.count_nonzero(traces[f"spike_count_{n}"].values, 1) for n in net.layer_names[1:])
        )
    )
    assert est.energy_dynamic == pytest.approx(
        c["akida_frame_energy"] + c["akida_synop_energy"] * synops + c["akida_fire_energy"] * fires
    )
    fixed = c["akida_call_time"] / c["akida_frames_per_call"] + c["akida_frame_time"]
    assert est.details["hardware_sequences"] == 1 and est.details["host_layers"] == []
    loads = [le.counts["synaptic_ops"] / le.units for le in chip]
    events = max(loads) + (sum(loads) - max(loads)) / c["akida_frames_per_call"]
    assert est.details["busiest_np_ops_per_frame"] == pytest.approx(max(loads))
    assert est.latency == pytest.approx(fixed + c["akida_synop_time"] * events)
    assert est.energy_static == pytest.approx(c["akida_floor_power"] * est.latency)
    # energy per frame is average power (floor included) over frames per second
    assert est.energy == pytest.approx(est.power / (1 / est.period))
    assert est.accuracy == pytest.approx(np.mean(traces["prediction"] == traces["label"]))
    one = akida.estimate(net, traces, frames_per_call=1)
    shared = 1 - 1 / c["akida_frames_per_call"]  # what one frame per call no longer shares
    fill = c["akida_synop_time"] * (sum(loads) - max(loads))  # the first frame's pass
    assert one.latency - est.latency == pytest.approx((c["akida_call_time"] + fill) * shared)
    slow = akida.estimate(net, traces, rate=100.0)
    assert slow.power_static == pytest.approx(c["akida_floor_power"])
    with pytest.raises(ValueError, match="at most"):
        akida.estimate(net, traces, rate=1e12)


def test_a_host_layer_costs_host_time_and_no_chip_energy():
    """The template's second convolution (max pooling into a dense layer) runs on the host."""
    data = datasets.digits()
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(8 * 4, 10),
    )  # fmt: skip
    net = pipeline.akida_net(model, data.x_train[:100], drop_output_bias=True)
    traces = traces_for(net, data.x_test[:20], data.y_test[:20])
    c = Constants()
    est = akida.estimate(net, traces)
    conv2 = est.layers[2]
    assert est.details["host_layers"] == [conv2.name] and conv2.units == 0
    assert est.details["hardware_sequences"] == 2 and conv2.energy_dynamic == 0.0
    host = (c["akida_host_output_time"] * 4 * 4 * 8  # 4x4 positions x 8 filters
            + c["akida_host_synop_time"] * conv2.counts["synaptic_ops"])  # fmt: skip
    chip = [le for le in est.layers[1:] if le.units]
    loads = [le.counts["synaptic_ops"] / le.units for le in chip]
    n = c["akida_frames_per_call"]
    expected = (c["akida_call_time"] / n + 2 * c["akida_frame_time"] + host
                + c["akida_synop_time"] * (max(loads) + (sum(loads) - max(loads)) / n))  # fmt: skip
    assert est.latency == pytest.approx(expected)
    synops = sum(le.counts["synaptic_ops"] for le in chip)
    fires = sum(le.counts["events"] for le in chip)
    assert est.energy_dynamic == pytest.approx(
        c["akida_frame_energy"] + c["akida_synop_energy"] * synops + c["akida_fire_energy"] * fires
    )


def test_frame_figures_by_hand():
    c = Constants()
    load = akida.FrameLoad(synops=1e6, fires=1e3, busiest=1e6, serial=1e6)
    t, e = akida.frame_figures(load, c, frames_per_call=10)
    assert t == pytest.approx(
        c["akida_call_time"] / 10 + c["akida_frame_time"] + 1e6 * c["akida_synop_time"]
    )
    assert e == pytest.approx(
        c["akida_frame_energy"] + 1e6 * c["akida_synop_energy"] + 1e3 * c["akida_fire_energy"]
    )
    # two layers on their own NPs, loads 600k and 400k: a 10-frame call pays the busiest
    # per frame and the other once (pipeline fill): 0.6e6 + 0.4e6 / 10 = 0.64e6 per frame
    k = Constants({"akida_call_time": 0.01, "akida_frame_time": 1e-3, "akida_synop_time": 1e-9,
                   "akida_host_output_time": 1e-8, "akida_host_synop_time": 1e-10})  # fmt: skip
    piped = akida.FrameLoad(1e6, 1e3, busiest=0.6e6, serial=1e6)
    t, e2 = akida.frame_figures(piped, k, 10)
    assert t == pytest.approx(0.01 / 10 + 1e-3 + 0.64e-3)
    assert e2 == pytest.approx(e)  # energy counts every op, whatever the NP
    assert akida.frame_figures(piped, k, 1)[0] == pytest.approx(0.01 + 1e-3 + 1e-3)
    # three hardware sequences and a host layer of 1,000 outputs and 2e6 synaptic ops
    split = akida.FrameLoad(1e6, 1e3, 0.6e6, 1e6, sequences=3, host_outputs=1e3, host_synops=2e6)
    t, e3 = akida.frame_figures(split, k, 1)
    assert t == pytest.approx(0.01 + 3e-3 + 1e-3 + 1e-5 + 2e-4)
    assert e3 == pytest.approx(e)  # the host's work costs the board no dynamic energy
    half = split.sparser(0.5, 0.8)
    assert (half.synops, half.fires, half.host_synops) == pytest.approx((0.4e6, 500, 0.8e6))
    assert (half.host_outputs, half.sequences) == (1e3, 3)


def test_bounds_bracket_the_estimate_and_sparsity_saves_little(digits_akida):
    net, traces = digits_akida
    est = akida.estimate(net, traces)
    for name in ("energy", "latency", "power", "energy_dynamic"):
        assert est.low(name) <= getattr(est, name) <= est.high(name), name
    assert est.low("energy") < est.high("energy")
    # the fixed per-frame costs and the floor dominate a small network's frame
    c = Constants()
    synops = est.details["synaptic_ops_per_frame"]
    t0, e0 = akida.frame_figures(akida.FrameLoad(synops, 0, synops, synops), c)
    t1, e1 = akida.frame_figures(akida.FrameLoad(synops, 0, synops, synops).sparser(0.3), c)
    p = c["akida_floor_power"]
    assert 0 < 1 - (p * t1 + e1) / (p * t0 + e0) < 0.3


def test_neural_processor_limit_and_mismatched_traces(digits_akida):
    net, traces = digits_akida
    assert (
        akida.neural_processors(net) == rule_mapping(net).nps == {n: 1 for n in net.layer_names[1:]}
    )
    with pytest.raises(akida.AkidaMappingError, match="neural processors"):
        akida.estimate(net, traces, constants=Constants({"akida_nps": 1}))
    loihi_like = traces.copy()
    loihi_like.attrs["target"] = "loihi"
    with pytest.raises(TraceMismatchError, match="target"):
        akida.estimate(net, loihi_like)
    with pytest.raises(TraceMismatchError, match="lack"):
        akida.estimate(net, traces.drop_vars(f"spike_count_{net.layer_names[1]}"))


@pytest.mark.slow
def test_calibration_script_reproduces_the_registered_constants():
    script = akida_fit
    values = script.fit(samples=300, epochs=2)
    c = Constants()
    for name, (value, low, high) in values.items():  # the registry holds the script's result
        assert value == pytest.approx(c[name], rel=0.05), name
        assert low <= value <= high
    residuals = script.residuals({n: v[0] for n, v in values.items()},
                                 script.template_counts(300, 2))  # fmt: skip
    for name, ratio in residuals.items():
        assert ratio == pytest.approx(1.0, rel=1e-6), name
    frame = c["akida_calibration_power"] / c["akida_calibration_fps"]
    assert frame == pytest.approx(1.22e-3, rel=0.01)


@pytest.mark.slow
def test_zero_aware_training_lowers_akida_energy():
    data = datasets.mnist()
    bits = AkidaBits(weights=4, activations=4)
    x, y = data.x_test[:300], data.y_test[:300]
    energies = {}
    for label, zero_aware in (("plain", None), ("zero-aware", ZeroAware(1.0, 1.0))):
        torch.manual_seed(0)
        model = training.train(
            two_conv_two_fc(), data, epochs=2, quantization=bits, zero_aware=zero_aware
        )
        example = torch.zeros(1, *data.sample_shape)
        net = pipeline.akida_net(model, data.x_train[:500], example=example, bits=bits)
        energies[label] = akida.estimate(net, traces_for(net, x, y), label=label)
    plain, sparse = energies["plain"], energies["zero-aware"]
    saving = 1 - sparse.energy / plain.energy
    print(
        f"zero-aware: {100 * saving:.1f}% less energy per image ({plain.energy:.4g} -> {sparse.energy:.4g} J)"
    )
    assert sparse.energy < plain.energy
    assert sparse.details["events_per_frame"] < plain.details["events_per_frame"]


def test_akidanet_neural_processor_loads_by_hand():
    from hwmodels.calibration.workloads import AKIDANET, akidanet_counts, akidanet_np_loads

    busiest, serial = akidanet_np_loads()
    assert busiest == 56 * 56 * 64 * 9 * 64 / 3  # the fourth conv: 64 filters on 3 NPs
    macs, _ = akidanet_counts()
    assert busiest < serial < macs  # layers share their ops over their NPs
    assert sum(nps for *_, nps in AKIDANET[1:]) == 68  # the user guide's NP count


def test_akidanet_neural_processors_are_brainchips_mapping():
    from hwmodels.calibration.workloads import AKIDANET, akidanet_mapped_nps

    assert akidanet_mapped_nps() == [nps for *_, nps in AKIDANET]


def _hardware_chain(rng):
    """A random chain akida maps: 8-bit input conv, 3x3 convolutions, then dense layers."""
    import akida as engine

    kinds = ["input_conv", *rng.choice(["conv", "separable", "dense"], int(rng.integers(1, 4)))]
    if "dense" in kinds:
        kinds = kinds[: kinds.index("dense")] + ["dense"] * (len(kinds) - kinds.index("dense"))
    model, side = engine.Model(), int(rng.choice([8, 12, 16]))
    for i, kind in enumerate(kinds):
        filters = int(rng.choice([8, 16, 32]))
        conv = dict(kernel_size=(3, 3), padding=engine.Padding.Same, filters=filters,
                    name=f"l{i}", act_bits=4)  # fmt: skip
        if rng.random() < 0.5 and (not model.layers or min(model.output_shape[:2]) >= 2):
            conv.update(pool_type=engine.PoolType.Max, pool_size=(2, 2), pool_stride=(2, 2))
        if kind == "input_conv":
            layer = engine.InputConvolutional((side, side, 1), weights_bits=8, **conv)
        elif kind == "dense":
            last = i == len(kinds) - 1
            layer = engine.FullyConnected(filters, name=f"l{i}", weights_bits=4, act_bits=4,
                                          activation=not last)  # fmt: skip
        else:
            cls = engine.Convolutional if kind == "conv" else engine.SeparableConvolutional
            layer = cls(weights_bits=4, **conv)
        model.add(layer)
        _randomize(layer, rng, 8 if i == 0 else 4)
    return from_akida_model(model)


def test_host_rule_is_brainchips_mapper_on_random_chains():
    rng = np.random.default_rng(3)
    hosts = 0
    for _ in range(40):
        net = _hardware_chain(rng)
        mapped, rule = map_network(net), rule_mapping(net)
        assert mapped.hardware == rule.hardware, [(n.name, n.kind, n.pool) for n in net.layers]
        assert mapped.sequences == rule.sequences
        hosts += bool(mapped.host_layers)
    assert 5 < hosts < 35  # both kinds of chain were drawn
