"""A saved network loads, runs and is estimated without torch, OpenVINO, scikit-learn or matplotlib."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from converters import Dense, Graph, Input, to_loihi
from converters.chips.files import save_net

BLOCKED = ("torch", "openvino", "sklearn", "matplotlib")

CHILD = textwrap.dedent(
    """
    import sys

    BLOCKED = {blocked!r}


    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{{name}} is not installed (base install)")
            return None


    sys.meta_path.insert(0, Refuse())

    import numpy as np

    import converters.chips.files
    import emu
    import hwmodels

    net = converters.chips.files.load_net({path!r})
    samples = np.random.default_rng(0).random((2, *net.input.shape))
    traces = emu.Emulation(net, device="runtime", batch_size=2).run(
        samples, np.array([0, 1]), progress=False
    )
    estimate = hwmodels.loihi.estimate(net, traces)
    assert traces.sizes["sample"] == 2
    assert estimate.energy_dynamic + estimate.energy_static > 0
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not loaded, loaded
    print("energy", estimate.energy_dynamic + estimate.energy_static)
    """
)


def test_saved_network_runs_in_a_base_install(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    graph = Graph(
        [
            Input("input", (6,)),
            Dense("hidden", ["input"], rng.normal(0, 0.5, (5, 6)), np.zeros(5), relu=True),
            Dense("out", ["hidden"], rng.normal(0, 0.5, (3, 5)), np.zeros(3)),
        ],
        "out",
    )
    path = save_net(to_loihi(graph, timesteps=8), tmp_path / "net.npz")
    code = CHILD.format(blocked=BLOCKED, path=str(path))
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "energy" in result.stdout
