"""One engine registry: a toy device added by one registration, the numpy references as devices."""

from __future__ import annotations

import numpy as np
import pytest
from trace_examples import random_net

from converters.chips.akida_v2 import AkidaV2Layer, AkidaV2Net
from converters.chips.loihi import input_seeds
from emu import Emulation
from emu.engines import device_names, loihi_reference, register_engine, registry
from emu.engines.base import Engine

DEVICES = ("cpp_standalone", "native")


class ToyEngine(Engine):
    """A Loihi device outside the library: the numpy reference behind the engine protocol."""

    target = "loihi"

    def layer_names(self) -> list[str]:
        return self.net.layer_names

    def encode(self, samples: np.ndarray) -> np.ndarray:
        return self.net.input.levels(samples)

    def attrs(self) -> dict:
        return {"target": "loihi", "net_digest": self.net.digest(), "timesteps": self.net.timesteps}

    def run_batch(self, levels: np.ndarray, first_sample: int = 0):
        levels = self.check_batch(levels)
        seeds = input_seeds(len(levels), self.net.input.size, self.settings.seed, first_sample)
        return loihi_reference.simulate(
            self.net, levels, seeds, self.probe, self.settings.record_events
        )


@pytest.fixture
def toy_device(monkeypatch):
    """The registry with the toy device added for one test ("module:Class", imported on use)."""
    monkeypatch.setattr(registry, "_ENGINES", dict(registry._ENGINES))
    register_engine("loihi", "toy", "test_engine_registry:ToyEngine")
    return "toy"


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 1, 4, 4))


def _assert_same_traces(ours, theirs) -> None:
    assert set(ours.data_vars) == set(theirs.data_vars)
    for name in theirs.data_vars:
        np.testing.assert_array_equal(ours[name].values, theirs[name].values, err_msg=name)


def test_a_toy_engine_is_a_device_after_one_registration(toy_device):
    net, x = random_net(seed=5), _images(10)
    labels = np.arange(10) % 5
    assert toy_device in device_names("loihi") and toy_device in device_names()
    assert toy_device not in device_names("akida")
    traces = Emulation(net, device=toy_device, batch_size=4, record_events=True).run(x, labels)
    expected = Emulation(net, device="reference", batch_size=4, record_events=True).run(x, labels)
    assert traces.attrs["device"] == toy_device
    _assert_same_traces(traces, expected)


def test_a_device_unknown_or_not_serving_the_target_is_refused(toy_device):
    with pytest.raises(ValueError, match="unknown device"):
        Emulation(random_net(), device="toys")
    akida_v2 = _v2_net()
    with pytest.raises(TypeError, match="no engine emulates target 'akida_v2' on device 'toy'"):
        Emulation(akida_v2, device=toy_device)


@pytest.mark.parametrize("device", DEVICES)
def test_reference_device_traces_equal_the_compiled_devices(device, cache_dir):
    net, x = random_net(seed=7, timesteps=24), _images(9, seed=1)
    probe = {"layer1": [0, 3, 5]}
    settings = dict(batch_size=4, record_events=True, probe=probe, seed=3, cache_dir=cache_dir)
    reference = Emulation(net, device="reference", **settings).run(x)
    _assert_same_traces(Emulation(net, device=device, **settings).run(x), reference)


def _v2_net() -> AkidaV2Net:
    rng = np.random.default_rng(2)
    shape, units = (2, 3, 2), 4
    layer = AkidaV2Layer(
        "d", "dense", ("x",), (shape,),
        weights=rng.integers(-128, 128, (12, units)).astype(np.int8),
        bias=np.zeros(units, np.int8), bias_shift=np.zeros(units, np.uint8),
        input_shift=np.zeros(12, np.uint8), output_scales=np.ones(units, np.uint8),
        output_shift=np.full(units, -3, np.int8), output_bits=4,
    )  # fmt: skip
    return AkidaV2Net(shape, 4, [layer], input_name="x")


def test_reference_device_serves_akida_v2_like_its_tensor_device():
    net = _v2_net()
    x = np.random.default_rng(3).random((7, 2, 2, 3))
    reference = Emulation(net, device="reference", batch_size=3, probe={"d": [0, 2]}).run(x)
    tensor = Emulation(net, device="tensor", batch_size=3, probe={"d": [0, 2]}).run(x)
    _assert_same_traces(reference, tensor)


def test_reference_device_serves_akida_like_its_tensor_device():
    draw = pytest.importorskip("test_akida_reference").draw
    net = draw(4, 1, 2)[0]
    h, w, c = net.input_shape
    x = np.random.default_rng(4).random((6, c, h, w)) * net.input_scale
    settings = dict(batch_size=4, record_events=True, probe={net.layers[-1].name: [0]})
    reference = Emulation(net, device="reference", **settings).run(x)
    _assert_same_traces(Emulation(net, device="tensor", **settings).run(x), reference)


def test_the_command_line_runs_a_registered_toy_device(toy_device, tmp_path, capsys):
    from converters.chips.files import save_net
    from emu import load_traces
    from neuroemu.commands import main

    net, x = random_net(seed=5), _images(6)
    net_path, data_path, out = tmp_path / "n.npz", tmp_path / "x.npz", tmp_path / "t.h5"
    save_net(net, net_path)
    np.savez(data_path, x=x, y=np.arange(6) % 5)
    main(
        ["run", str(net_path), "--data", str(data_path), "--device", toy_device, "--out", str(out)]
    )
    traces = load_traces(out)
    assert traces.attrs["device"] == toy_device
    expected = Emulation(net, device="reference").run(x, np.arange(6) % 5)
    np.testing.assert_array_equal(traces["prediction"].values, expected["prediction"].values)
