"""Fault injection on inputs: bombs under a memory limit, forged files, out-of-range settings,
a fake scheduler, and every subcommand on crafted bad inputs, each a one-line error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import replace
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import h5py
import numpy as np
import pytest
from fault_cases import one_line_error, small_data, small_net

from converters.chips.files import digest, load_net, save_net
from emu import Emulation, save_traces
from emu.engines.run_budget import MAX_SEED, MAX_TIMESTEPS
from hwmodels.constants import Constants, ConstantsError
from neuroemu.commands import build_parser, main


@pytest.fixture(scope="module")
def files(tmp_path_factory, cache_dir):
    """A network, its samples and the traces of a native run on them, as files."""
    tmp = tmp_path_factory.mktemp("inputs")
    net = small_net()
    save_net(net, tmp / "net.npz")
    x, y = small_data()
    np.savez(tmp / "data.npz", x=x, y=y)
    traces = Emulation(net, "native", batch_size=4, cache_dir=cache_dir).run(x, y)
    save_traces(traces, tmp / "traces.h5")
    return tmp


# --- memory bombs, checked under a memory limit ---------------------------------------

LIMITED = """
import resource, sys
sys.path.insert(0, "tests")
from neuroemu.commands import main
from converters.resources import available_memory
used = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
headroom = int(sys.argv[1]) << 20
resource.setrlimit(resource.RLIMIT_AS, (used + headroom, resource.RLIM_INFINITY))
sys.exit(main(sys.argv[2:]))
"""


def _limited(argv: list[str], headroom_mib: int = 768) -> subprocess.CompletedProcess:
    """The command line in a process that may allocate ``headroom_mib`` more MiB."""
    env = os.environ | {"NEUROEMU_NATIVE_THREADS": "1"}
    cmd = [sys.executable, "-c", LIMITED, str(headroom_mib), *map(str, argv)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def _one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def _write_zeros_member(archive: zipfile.ZipFile, name: str, count: int) -> None:
    """A member ``name.npy`` of ``count`` int64 zeros, streamed (a few MB on disk)."""
    with archive.open(f"{name}.npy", "w", force_zip64=True) as f:
        header = {"descr": "<i8", "fortran_order": False, "shape": (count,)}
        np.lib.format.write_array_header_1_0(f, header)
        block = bytes(1 << 20)
        for _ in range(count * 8 >> 20):
            f.write(block)


def _rewrite(src, dst, zeros: dict[str, int], edit=None) -> None:
    """Copy a network file, adding or replacing members by zeros; ``edit`` maps the
    description's JSON text to another."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.namelist():
            if item.removesuffix(".npy") in zeros:
                continue
            data = old.read(item)
            if item == "__description__.npy" and edit is not None:
                with old.open(item) as f:
                    text = edit(str(np.lib.format.read_array(f)))
                with new.open(item, "w") as f:
                    np.lib.format.write_array(f, np.array(text))
                continue
            new.writestr(item, data)
        for name, count in zeros.items():
            _write_zeros_member(new, name, count)


LOAD = """
from converters.chips.files import digest, load_net
print(digest(load_net(sys.argv[2])))
"""


@pytest.mark.slow
def test_a_zip_bomb_member_no_record_uses_is_never_decompressed(files, tmp_path):
    bomb = tmp_path / "bomb.npz"
    _rewrite(files / "net.npz", bomb, {"junk": 2 << 30 >> 3})  # 2 GiB of zeros, unused
    assert bomb.stat().st_size < 16 << 20
    code = LIMITED.replace("sys.exit(main(sys.argv[2:]))", LOAD)
    result = subprocess.run(
        [sys.executable, "-c", code, "512", str(bomb)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == digest(load_net(files / "net.npz"))


@pytest.mark.slow
def test_a_used_array_declaring_more_than_fits_is_refused_before_reading(files, tmp_path):
    weights = "net.layers[0].projections[0].weight_mant"
    bomb = tmp_path / "bomb.npz"
    _rewrite(files / "net.npz", bomb, {weights: 1 << 30 >> 3})  # 1 GiB declared
    start = time.monotonic()
    err = _one_line(
        _limited(["run", bomb, "--data", files / "data.npz", "--out", tmp_path / "t.h5"], 256)
    )
    assert "needs 1 GiB, more than the" in err and "available" in err
    assert time.monotonic() - start < 60 and not (tmp_path / "t.h5").exists()


def _with_timesteps(files, tmp_path, steps: int):
    path = tmp_path / "long.npz"
    save_net(replace(small_net(), timesteps=steps), path)
    return path


@pytest.mark.parametrize(("steps", "message"), [(10**9, "at most"), (10**7, "needs")])
def test_a_timestep_bomb_is_refused_before_any_build(files, tmp_path, steps, message):
    net = _with_timesteps(files, tmp_path, steps)
    start = time.monotonic()
    argv = ["run", net, "--data", files / "data.npz", "--out", tmp_path / "t.h5"]
    err = _one_line(_limited(argv))
    assert message in err
    assert time.monotonic() - start < 60 and not list(tmp_path.glob("t.h5*"))


def test_a_batch_size_bomb_is_refused(files, tmp_path, capsys):
    argv = ["run", str(files / "net.npz"), "--data", str(files / "data.npz")]
    err = one_line_error([*argv, "--batch-size", "100000000"], capsys)
    assert "must be an integer in 1..1048576" in err
    err = _one_line(_limited([*argv, "--batch-size", "1000000", "--out", tmp_path / "t.h5"], 256))
    assert "lower the batch size" in err


def test_a_seed_beyond_32_bits_is_refused(files, cache_dir, capsys):
    argv = ["run", str(files / "net.npz"), "--data", str(files / "data.npz")]
    err = one_line_error([*argv, "--seed", str(2**70)], capsys)
    assert f"0..{MAX_SEED}" in err
    for seed in (2**70, -1, 1.5, True):
        with pytest.raises(ValueError, match="seed"):
            Emulation(small_net(), "native", cache_dir=cache_dir, seed=seed)
    assert MAX_TIMESTEPS >= 1 << 20


def test_a_trace_file_declaring_more_than_it_stores_is_refused(files, tmp_path, capsys):
    forged = tmp_path / "forged.h5"
    shutil.copy(files / "traces.h5", forged)
    with h5py.File(forged, "r+") as f:
        f.create_dataset("spike_count_bomb", shape=(10**6, 10**4), dtype="i4", chunks=True)
    for argv in (["inspect", forged], ["diff", forged, files / "traces.h5"]):
        err = one_line_error([str(a) for a in argv], capsys)
        assert "declares more data than it holds" in err


def test_negative_spike_counts_are_refused_by_estimate(files, tmp_path, capsys):
    forged = tmp_path / "negative.h5"
    shutil.copy(files / "traces.h5", forged)
    with h5py.File(forged, "r+") as f:
        name = sorted(k for k in f if k.startswith("spike_count_"))[1]
        f[name][0, 0] = -1000
    err = one_line_error(["estimate", str(forged), "--net", str(files / "net.npz")], capsys)
    assert "negative spike count -1000" in err and "integers >= 0" in err


def test_constants_with_every_time_zero_are_refused(tmp_path, capsys, files):
    from hwmodels.constants import REGISTRY

    times = {n: 0 for n, c in REGISTRY.items() if c.unit == "s" and n.startswith("loihi_")}
    with pytest.raises(ConstantsError, match="every time constant of loihi is 0"):
        Constants(times)
    (tmp_path / "zero.json").write_text(json.dumps(times))
    argv = ["estimate", str(files / "traces.h5"), "--net", str(files / "net.npz")]
    err = one_line_error([*argv, "--constants", str(tmp_path / "zero.json")], capsys)
    assert "give at least one a value > 0" in err


def test_deeply_nested_files_give_one_line_errors(files, tmp_path, capsys):
    (tmp_path / "deep.json").write_text("[" * 100000 + "]" * 100000)
    argv = ["estimate", str(files / "traces.h5"), "--net", str(files / "net.npz")]
    one_line_error([*argv, "--constants", str(tmp_path / "deep.json")], capsys)
    deep = tmp_path / "deep.npz"
    nested = '"fields": {"extra": ' + "[" * 5000 + "]" * 5000 + ", "
    _rewrite(files / "net.npz", deep, {}, lambda text: text.replace('"fields": {', nested, 1))
    err = one_line_error(["run", str(deep), "--data", str(files / "data.npz")], capsys)
    assert "nested too deeply" in err or "recursion" in err


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_a_scheduler_that_does_not_speak_dask_fails_within_seconds(files, tmp_path, capsys):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        start = time.monotonic()
        argv = ["run", str(files / "net.npz"), "--data", str(files / "data.npz"), "--device"]
        argv += ["native", "--out", str(tmp_path / "t.h5")]
        address = f"tcp://127.0.0.1:{server.server_address[1]}"
        err = one_line_error([*argv, "--scheduler", address], capsys)
        assert "did not answer as a Dask scheduler within 10 s" in err
        assert time.monotonic() - start < 30
    finally:
        server.shutdown()


# --- every subcommand on crafted bad inputs ----------------------------------------------


def _bad_inputs(tmp_path) -> dict[str, list[list[str]]]:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    akida = tmp_path / "akida.npz"
    from test_akida_backend import TOPOLOGIES

    save_net(TOPOLOGIES["dense_only"](), akida)
    estimate = tmp_path / "estimate.json"
    estimate.write_text('{"label": 5, "energy": "lots"}')
    out = str(tmp_path / "o")
    j, e = str(junk), str(empty)
    return {
        "demo": [["demo", "--timesteps", "0"], ["demo", "--workers", "-1"]],
        "convert": [["convert", j, "--out", out + ".npz"], ["convert", e, "--out", out + ".npz"]],
        "train": [["train", "--epochs", "-1"], ["train", "--lr", "nan"]],
        "nir": [["nir", "export", j, out + ".nir"], ["nir", "import", j, "--out", out + ".npz"]],
        "run": [
            ["run", j],
            ["run", e],
            ["run", str(akida), "--device", "native", "--out", out + ".h5"],
        ],
        "inspect": [["inspect", j], ["inspect", e]],
        "diff": [["diff", j, e]],
        "estimate": [["estimate", j, "--net", e]],
        "compare": [["compare", str(estimate), "--out", out], ["compare", j, "--out", out]],
        "validate-models": [["validate-models", "--json", str(tmp_path)]],
        "deploy-report": [["deploy-report", j], ["deploy-report", e]],
    }


def test_every_subcommand_answers_bad_inputs_in_one_line(tmp_path, capsys):
    cases = _bad_inputs(tmp_path)
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a.choices, dict)]
    assert set(sub.choices) == set(cases), "add bad inputs for every subcommand"
    for argvs in cases.values():
        for argv in argvs:
            with pytest.raises(SystemExit) as exit_:
                main(argv)
            err, code = capsys.readouterr().err, exit_.value.code
            if isinstance(code, str):  # SystemExit("message"): the interpreter prints it
                err, code = err + code + "\n", 1
            assert code in (1, 2), (argv, err)
            assert "Traceback" not in err and err.count("\n") == 1, (argv, err)


def test_an_akida_network_on_the_native_device_is_refused(tmp_path, capsys):
    from test_akida_backend import TOPOLOGIES

    save_net(TOPOLOGIES["dense_only"](), tmp_path / "akida.npz")
    err = one_line_error(["run", str(tmp_path / "akida.npz"), "--device", "native"], capsys)
    assert "--device native runs Loihi networks" in err and "tensor" in err
