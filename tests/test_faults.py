"""Fault injection: hostile and damaged files, out-of-range inputs, broken caches, full disks.

Probes already covered in ``test_emulation_runs.py`` (not repeated here): two processes on
one cache with different data, kill -9 mid-run and the rerun, damaged/truncated/unlisted
shards and ``.part`` leftovers, resumes with other inputs or settings, event builds, worker
processes of a killed parent.
"""

from __future__ import annotations

import json
import pickle
import shutil
import signal
import subprocess
import sys
import zipfile

import h5py
import numpy as np
import pytest
import torch
import xarray as xr
from trace_examples import random_net

from converters.chips.akida import AkidaLayer, AkidaNet
from converters.chips.files import NetworkFormatError, load_net, save_net
from emu import Emulation, load_traces, save_traces, shard_directory
from emu.traces import TraceFormatError
from emu.traces.store import MANIFEST, file_checksum
from neuroemu.commands import main
from neuroemu.commands.run import run_summary


def _fails(argv: list[str], capsys) -> str:
    """The one-line message of a command that must exit with status 2."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    return err


# --- no file is ever unpickled -------------------------------------------------------


class _Evil:
    """Unpickling this writes a marker file."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("writer", ["torch", "pickle"])
def test_a_malicious_pickle_does_not_run_and_the_error_names_the_accepted_forms(
    tmp_path, capsys, writer
):
    marker = tmp_path / "marker"
    model = tmp_path / "evil.pt"
    if writer == "torch":
        torch.save(_Evil(str(marker)), model)
    else:
        model.write_bytes(pickle.dumps(_Evil(str(marker))))
    err = _fails(["convert", str(model), "--out", str(tmp_path / "n.npz")], capsys)
    assert not marker.exists()
    assert "TorchScript" in err and "state dict" in err and "--arch" in err
    assert not (tmp_path / "n.npz").exists()


def test_a_pickled_whole_model_is_refused(tmp_path, capsys):
    path = tmp_path / "whole.pt"
    torch.save(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)), path)
    err = _fails(["convert", str(path), "--out", str(tmp_path / "n.npz")], capsys)
    assert "pickled whole models are never loaded" in err


def test_a_state_dict_needs_a_fitting_architecture(tmp_path, capsys):
    from converters.training import models

    path = tmp_path / "sd.pt"
    torch.save(models.digits_cnn(4).state_dict(), path)
    argv = ["convert", str(path), "--out", str(tmp_path / "n.npz")]
    assert "pass --arch NAME" in _fails(argv, capsys)
    assert "does not fit --arch digits_cnn" in _fails([*argv, "--arch", "digits_cnn"], capsys)
    assert "must be one of ['digits_cnn', 'lenet5', 'vgg', 'resnet', 'mobilenet']" in _fails(
        [*argv, "--arch", "os"], capsys
    )


# --- network files: every field checked before any cast -------------------------------


def _rewrite(path, edit) -> None:
    """Rewrite a saved network file after ``edit(description, arrays)``."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    description = json.loads(str(arrays.pop("__description__")))
    edit(description["net"], arrays)
    np.savez(path, __description__=np.array(json.dumps(description)), **arrays)


def _layer0(net: dict) -> dict:
    return net["fields"]["layers"][0]["fields"]


def _set_array(key: str, values):
    return lambda net, arrays: arrays.__setitem__(key, np.asarray(values))


def _set_field(name: str, value):
    return lambda net, arrays: _layer0(net).__setitem__(name, value)


WEIGHTS = "net.layers[0].projections[0].weight_mant"
BIAS = "net.layers[0].bias_mant"


@pytest.mark.parametrize(
    ("edit", "field", "value", "accepted"),
    [
        (_set_array(WEIGHTS, [np.nan] * 3), "weight_mant", "nan", "-256..254"),
        (_set_array(WEIGHTS, [2, 65736]), "weight_mant", "65736", "-256..254"),
        (_set_array(WEIGHTS, [2.0, 4.0]), "weight_mant", "2.0", "integers in -256..254"),
        (_set_array(BIAS, [2**32 + 5] * 24), "bias_mant", "4294967301", "-4096..4095"),
        (_set_array(BIAS, [0.5] * 24), "bias_mant", "0.5", "-4096..4095"),
        (_set_field("vth_mant", 120.5), "vth_mant", "120.5", "0..131071"),
        (_set_field("decay_u", 5000), "decay_u", "5000", "0..4096"),
        (_set_field("refractory", 0), "refractory", "0", "1..64"),
        (_set_field("bias_exp", True), "bias_exp", "True", "0..7"),
    ],
)
def test_a_network_field_out_of_range_is_refused_naming_field_value_and_range(
    tmp_path, capsys, edit, field, value, accepted
):
    path = save_net(random_net(seed=1, timesteps=4), tmp_path / "net.npz")
    _rewrite(path, edit)
    with pytest.raises(NetworkFormatError, match=f"{field}.*{value}.*{accepted}"):
        load_net(path)
    err = _fails(["run", str(path), "--device", "runtime", "--out", str(tmp_path / "t.h5")], capsys)
    assert field in err and value in err and accepted in err


def _akida_net() -> AkidaNet:
    rng = np.random.default_rng(0)
    layer = AkidaLayer(
        "dense", "dense", (1, 1, 16), rng.integers(-7, 8, (16, 5)), np.zeros(5, np.int64),
        np.ones(5), weight_bits=4, act_bits=None,
    )  # fmt: skip
    return AkidaNet((1, 1, 16), 4, [layer])


@pytest.mark.parametrize(
    ("key", "values", "message"),
    [
        ("weights", np.full((16, 5), 9), "weights = 9 .*-7..7"),
        ("threshold", np.full(5, 2**31), "threshold = 2147483648"),
        ("act_step", np.full(5, np.nan), "act_step = nan"),
    ],
)
def test_akida_fields_are_checked_against_their_bit_widths(tmp_path, key, values, message):
    path = save_net(_akida_net(), tmp_path / "akida.npz")
    _rewrite(path, _set_array(f"net.layers[0].{key}", values))
    with pytest.raises(NetworkFormatError, match=message):
        load_net(path)


def test_inconsistent_shapes_are_refused(tmp_path):
    path = save_net(random_net(seed=1, timesteps=4), tmp_path / "net.npz")
    _rewrite(path, _set_array(BIAS, np.zeros(3, np.int64)))
    with pytest.raises(NetworkFormatError, match=r"bias_mant must have shape \(24,\)"):
        load_net(path)


@pytest.mark.parametrize("damage", ["empty", "truncated", "corrupted", "not a zip"])
def test_damaged_network_files_give_one_line_errors(tmp_path, capsys, damage):
    path = save_net(random_net(seed=1, timesteps=4), tmp_path / "net.npz")
    data = path.read_bytes()
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "corrupted":
        with zipfile.ZipFile(path) as z:
            info = z.getinfo(WEIGHTS + ".npy")
        at = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
        path.write_bytes(data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :])
    else:
        path.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    with pytest.raises(NetworkFormatError, match="not a neuroemu network file"):
        load_net(path)
    err = _fails(["run", str(path), "--out", str(tmp_path / "t.h5")], capsys)
    assert "not a neuroemu network file" in err


@pytest.mark.parametrize("forgery", ["bytes", "other hdf5", "format attribute only"])
def test_a_forged_trace_file_gives_a_trace_format_error(tmp_path, capsys, forgery):
    path = tmp_path / "forged.h5"
    if forgery == "bytes":
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 200)
    else:
        with h5py.File(path, "w") as f:
            f["x"] = np.arange(3)
            if forgery == "format attribute only":
                f.attrs["format"] = "neuroemu-traces"
    with pytest.raises(TraceFormatError):
        load_traces(path)
    assert str(path) in _fails(["inspect", str(path)], capsys)


# --- builds, concurrent runs, kills and full disks ----------------------------------


@pytest.fixture(scope="module")
def run_case():
    """A small Loihi network and 12 samples, run 3 at a time."""
    x = np.random.default_rng(4).random((12, 1, 4, 4))
    return random_net(seed=5, timesteps=8), x, np.arange(12) % 5


def _sim(net, cache) -> Emulation:
    return Emulation(net, "cpp_standalone", batch_size=3, cache_dir=cache)


@pytest.mark.slow
def test_a_truncated_binary_is_rebuilt(run_case, cache_dir):
    net, x, y = run_case
    first = _sim(net, cache_dir)
    expected = first.run(x, y)
    binary = first.backend.build.directory / "main"
    binary.write_bytes(binary.read_bytes()[: binary.stat().st_size // 2])
    again = _sim(net, cache_dir)
    xr.testing.assert_identical(again.run(x, y), expected)
    assert again.backend.build.compiled
    assert file_checksum(binary) == (binary.parent / "main.sha256").read_text()


@pytest.fixture(scope="module")
def alone(run_case, cache_dir):
    """The traces of the small case run alone, in this process."""
    net, x, y = run_case
    return _sim(net, cache_dir).run(x, y)


SAME_INPUTS = """
import sys
import numpy as np
from converters.chips.files import load_net
from emu import Emulation, save_traces
net_path, data_path, cache_dir, out = sys.argv[1:]
data = np.load(data_path)
sim = Emulation(load_net(net_path), "cpp_standalone", batch_size=3, cache_dir=cache_dir)
save_traces(sim.run(data["x"], data["y"]), out)
"""


@pytest.mark.slow
def test_processes_with_the_same_inputs_on_one_cache_do_not_share_input_files(
    run_case, alone, cache_dir, tmp_path
):
    net, x, y = run_case
    save_net(net, tmp_path / "net.npz")
    np.savez(tmp_path / "data.npz", x=x, y=y)
    args = [str(tmp_path / "net.npz"), str(tmp_path / "data.npz"), str(cache_dir)]
    children = [
        subprocess.Popen([sys.executable, "-c", SAME_INPUTS, *args, str(tmp_path / f"{k}.h5")])
        for k in range(3)
    ]
    assert [child.wait(timeout=600) for child in children] == [0, 0, 0]
    for k in range(3):
        xr.testing.assert_equal(load_traces(tmp_path / f"{k}.h5"), alone)


DIES_IN_MERGE = """
import os, signal, sys
import numpy as np
import emu.traces.store as store
from converters.chips.files import load_net
import emu.traces.store as store
from converters.chips.files import load_net
from emu import Emulation
net_path, data_path, cache_dir, out = sys.argv[1:]
save = store.save_traces
def save_then_die(traces, path):
    if os.path.basename(str(path)).startswith("shard_"):
        return save(traces, path)
    os.kill(os.getpid(), signal.SIGKILL)  # in the merge, before the output is renamed
store.save_traces = save_then_die
data = np.load(data_path)
sim = Emulation(load_net(net_path), "cpp_standalone", batch_size=3, cache_dir=cache_dir)
sim.run(data["x"], data["y"], out=out)
"""


@pytest.mark.slow
def test_a_run_killed_during_the_merge_completes_on_rerun(
    run_case, alone, cache_dir, tmp_path, monkeypatch, capsys
):
    net, x, y = run_case
    save_net(net, tmp_path / "net.npz")
    np.savez(tmp_path / "data.npz", x=x, y=y)
    out = tmp_path / "run.h5"
    argv = [str(tmp_path / "net.npz"), str(tmp_path / "data.npz"), str(cache_dir), str(out)]
    child = subprocess.run([sys.executable, "-c", DIES_IN_MERGE, *argv], timeout=600)
    assert child.returncode == -signal.SIGKILL
    assert not out.exists() and len(list(shard_directory(out).glob("shard_*.h5"))) == 4
    monkeypatch.setenv("NEUROEMU_CACHE", str(cache_dir))
    rerun = ["run", argv[0], "--data", argv[1], "--batch-size", "3", "--out", str(out)]
    assert main(rerun) == 0
    assert "12 samples in" in capsys.readouterr().out
    xr.testing.assert_equal(load_traces(out), alone)
    assert not shard_directory(out).exists()


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs (root only), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip() or 'not root'}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.slow
def test_a_full_disk_stops_the_run_with_a_clear_error_and_keeps_finished_shards(
    run_case, alone, cache_dir, small_disk
):
    net, x, y = run_case
    out = small_disk / "run.h5"
    shard = save_traces(alone.isel(sample=slice(0, 3)), small_disk / "probe.h5")
    size = shard.stat().st_size
    shard.unlink()
    free = shutil.disk_usage(small_disk).free
    (small_disk / "filler").write_bytes(b"\0" * (free - 3 * size - (1 << 16)))
    with pytest.raises(OSError, match="finished shards .* are kept: free space and rerun"):
        _sim(net, cache_dir).run(x, y, out=out)
    shards = shard_directory(out)
    manifest = json.loads((shards / MANIFEST).read_text())
    assert 1 <= len(manifest["shards"]) < 4
    for name, checksum in manifest["shards"].items():
        assert file_checksum(shards / name) == checksum
    (small_disk / "filler").unlink()
    xr.testing.assert_equal(_sim(net, cache_dir).run(x, y, out=out), alone)


# --- inputs outside the calibrated range ---------------------------------------------


def test_inputs_outside_the_calibrated_range_are_counted_reported_and_warned(tmp_path, capsys):
    net = random_net(seed=2, timesteps=4)
    x = np.random.default_rng(3).random((4, 1, 4, 4))
    x[1] *= 255  # a 0..255 image to a [0, 1] network
    x[2, 0, 0, :2] = -0.5  # a negative image
    out = tmp_path / "t.h5"
    with pytest.warns(UserWarning, match=r"2 of 4 samples .* calibrated input range \[0, 1\]"):
        traces = Emulation(net, "runtime").run(x, out=out)
    expected = [0, int(np.count_nonzero(x[1] > 1)), 2, 0]
    np.testing.assert_array_equal(traces["input_out_of_range"].values, expected)
    np.testing.assert_array_equal(load_traces(out)["input_out_of_range"].values, expected)
    summary = run_summary(traces, 1.0)
    assert (
        f"outside the calibrated range [0, 1] (clipped): 2 of 4 samples, {sum(expected)}" in summary
    )
    main(["inspect", str(out)])
    assert "2 of 4 samples" in capsys.readouterr().out
    main(["inspect", str(out), "--json"])
    report = json.loads(capsys.readouterr().out)["input_out_of_range"]
    assert report == {"range": [0.0, 1.0], "samples": 2, "values": sum(expected)}
