"""Measure lazy trace access at scale: open time, memory and summary time on 10,000 samples.

Makes a trace file of the digits demo network (digits_cnn trained 5 epochs, normalized,
converted to Loihi) over 10,000 samples with the full event raster, recorded by the numpy
Loihi reference, then opens it in a fresh process and prints the figures.

    python scripts/trace_scale.py [--out DIR] [--samples 10000] [--timesteps 32]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# runs in a fresh interpreter: the figures of one open, one summary, one selection
PROBE = r"""
import json, sys, time

def rss_mb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024

t0 = time.perf_counter()
from emu.traces import analysis
from emu.traces.access import layer_counts, open_traces, sample_events
t_import = time.perf_counter() - t0
base = rss_mb("VmRSS")
t0 = time.perf_counter()
tr = open_traces(sys.argv[1])
t_open = time.perf_counter() - t0
rss_open = rss_mb("VmRSS")
t0 = time.perf_counter()
counts = layer_counts(tr, tr.layer.values[2], sample=[17, 9000]).values
raster = sample_events(tr, 4321)
t_select = time.perf_counter() - t0
t0 = time.perf_counter()
summary = analysis.summary(tr)
t_summary = time.perf_counter() - t0
print(json.dumps({
    "import_s": t_import, "open_s": t_open, "rss_after_import_mb": base,
    "rss_after_open_mb": rss_open, "open_rss_increase_mb": rss_open - base,
    "select_s": t_select, "summary_s": t_summary, "peak_rss_mb": rss_mb("VmHWM"),
    "samples": summary.samples, "accuracy": summary.accuracy,
}))
"""


def make_file(path: Path, samples: int, timesteps: int, batch: int = 1000) -> None:
    """Simulate the digits demo network on ``samples`` inputs and save the traces."""
    from converters.pipeline import loihi_net
    from converters.training import train
    from converters.training.datasets import digits
    from converters.training.models import digits_cnn
    from emu import Emulation, save_traces

    data = digits()
    model = train(digits_cnn(), data.x_train, data.y_train, epochs=5, lr=1e-2)
    net = loihi_net(model, data.x_train[:500], example=data.x_train[:4], timesteps=timesteps)
    index = np.arange(samples) % len(data.x_test)
    x, y = data.x_test[index], data.y_test[index]
    traces = Emulation(net, device="reference", batch_size=batch, record_events=True).run(x, y)
    save_traces(traces, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="trace-scale", help="directory of the trace file")
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--timesteps", type=int, default=32)
    args = parser.parse_args()
    path = Path(args.out) / f"traces_{args.samples}.h5"
    if not path.exists():
        t0 = time.perf_counter()
        make_file(path, args.samples, args.timesteps)
        print(f"made {path} in {time.perf_counter() - t0:.1f} s")
    import h5py

    with h5py.File(path, "r") as f:
        events = f["event_sample"].shape[0]
    print(f"file: {path}, {path.stat().st_size / 2**20:.0f} MiB on disk, {events:,} events")
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    fig = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"import of emu (once per process):  {fig['import_s']:.2f} s")
    print(f"open_traces:                       {fig['open_s']:.3f} s   (limit 1 s)")
    print(
        f"memory after open:                 {fig['rss_after_open_mb']:.0f} MB resident "
        f"({fig['open_rss_increase_mb']:+.1f} MB for the open; limit 200 MB)"
    )
    print(f"two selections (counts, a raster): {fig['select_s']:.2f} s")
    print(f"summary:                           {fig['summary_s']:.1f} s   (limit 30 s)")
    print(f"peak memory over all of it:        {fig['peak_rss_mb']:.0f} MB")
    print(f"samples {fig['samples']}, accuracy {fig['accuracy']:.4f}")


if __name__ == "__main__":
    main()
