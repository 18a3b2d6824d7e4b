"""The ``tensor`` Akida device against the numpy reference and BrainChip's engine, integer for integer."""

import numpy as np
import pytest

from converters.chips.akida import AkidaLayer, AkidaNet
from converters.exports.akida_export import akida_forward
from emu import Emulation
from emu.engines.akida_reference import simulate as reference
from emu.engines.akida_tensor import plan, simulate

pytest.importorskip("akida")

from test_akida_backend import PROBE, TOPOLOGIES, randomize  # noqa: E402
from test_akida_reference import draw, random_inputs  # noqa: E402


def _assert_records_equal(ours, theirs, context: str = "") -> None:
    assert ours.counts.keys() == theirs.counts.keys()
    for name, values in theirs.counts.items():
        np.testing.assert_array_equal(ours.counts[name], values, err_msg=f"{context} {name}")
    assert ours.probes.keys() == theirs.probes.keys()
    for name, values in theirs.probes.items():
        np.testing.assert_array_equal(ours.probes[name], values, err_msg=f"{context} {name}")
    for field in ("spikes_per_step", "output_per_step", "saturation"):
        np.testing.assert_array_equal(getattr(ours, field), getattr(theirs, field), err_msg=field)
    assert (ours.events is None) == (theirs.events is None)
    for a, b in zip(ours.events or (), theirs.events or (), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("seed", "count", "depth"), [(21, 120, 1), (22, 30, 3)])
def test_randomized_layers_match_reference_and_akida(seed, count, depth):
    rng = np.random.default_rng(seed)
    nets = draw(seed, count, depth)
    assert {n.layers[0].kind for n in nets} == {"input_conv", "conv", "separable", "dense"}
    dtypes = {step.dtype for net in nets for step in plan(net)}
    assert np.float32 in dtypes  # most draws sum below 2**24
    for net in nets:
        x = random_inputs(rng, net, 3)
        ours = simulate(net, x, probe=True, record_events=True)
        _assert_records_equal(ours, reference(net, x, probe=True, record_events=True), repr(net))
        engine = akida_forward(net, x).reshape(len(x), -1)
        np.testing.assert_array_equal(ours.counts[net.layers[-1].name], engine)


def _wide_dense(act_step: float, act_bits: int | None) -> AkidaNet:
    """A 20000-input 8-bit dense layer (sums past 2**24); its two first neurons saturate."""
    weights = np.random.default_rng(3).integers(-128, 128, (20000, 4))
    weights[:, :2] = np.abs(weights[:, :2])
    layer = AkidaLayer("d", "dense", (1, 1, 20000), weights.astype(np.int8),
                       np.array([0, 5, -9, 2**30]), np.full(4, act_step, np.float32), 8,
                       act_bits)  # fmt: skip
    return AkidaNet((1, 1, 20000), 4, [layer])


@pytest.mark.parametrize(
    ("act_step", "act_bits", "dtype", "engine"),
    [(1.0, None, np.float64, True), (3.5, 4, np.float64, True), (2.0**50, 2, np.int64, False)],
)
def test_wide_bounds_choose_an_exact_dtype(act_step, act_bits, dtype, engine):
    """Sums past 2**24 run in float64; a step past 2**53 in the chip module's int64."""
    net = _wide_dense(act_step, act_bits)
    (step,) = plan(net)
    assert step.dtype is dtype
    x = np.random.default_rng(4).integers(8, 16, (5, 1, 1, 20000))
    ours = simulate(net, x, probe=True)
    _assert_records_equal(ours, reference(net, x, probe=True))
    assert ours.saturation[1, 1] > 0
    if engine:
        np.testing.assert_array_equal(ours.counts["d"], akida_forward(net, x).reshape(5, -1))


def test_emulation_on_tensor_writes_the_traces_of_runtime(tmp_path):
    rng = np.random.default_rng(4)
    net = randomize(TOPOLOGIES["conv_chain"](), rng)
    samples = rng.random((5, 3, 9, 9))
    options = dict(batch_size=4, cache_dir=tmp_path, record_events=True, probe=PROBE)
    ours = Emulation(net, device="tensor", **options).run(samples, labels=np.arange(5))
    theirs = Emulation(net, device="runtime", **options).run(samples, labels=np.arange(5))
    assert set(ours.data_vars) == set(theirs.data_vars)
    for name in theirs.data_vars:
        np.testing.assert_array_equal(ours[name].values, theirs[name].values, err_msg=name)
    assert ours.attrs["device"] == "tensor"
    record = Emulation(net, device="tensor", **options).run_batch(samples[:4])
    assert record.probes["c1.potential"].shape == (4, 1, len(PROBE["c1"]))


def test_tensor_device_is_akida_only():
    loihi_net = pytest.importorskip("loihi_cases").random_net(np.random.default_rng(0))
    with pytest.raises(TypeError, match="on device 'tensor'"):
        Emulation(loihi_net, device="tensor")
    with pytest.raises(ValueError, match="unknown layers"):
        Emulation(TOPOLOGIES["dense_only"](), device="tensor", probe={"nope": [0]})
