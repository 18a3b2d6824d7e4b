"""Benchmark exact Loihi and Akida emulators side by side on converted MNIST networks and the same samples.

Runs the benchmark families, one file each, and gathers their figures and checks:

- ``loihi`` (scripts/bench_loihi.py): neuroemu cpp_standalone, runtime and Dask, the numpy
  reference and brian2-loihi on LeNet-5;
- ``nengo`` (scripts/bench_nengo.py): nengo-loihi 1.1's emulator on the bias-free variant;
- ``akida`` (scripts/bench_akida.py): BrainChip's engine against the tensor device, the numpy
  reference and cpp_standalone on the 2-conv + 2-FC network;
- ``native`` (scripts/bench_native.py): the native Loihi engine on LeNet-5.

The JSON holds the Loihi figures at the top level and the others under ``nengo_loihi``,
``akida`` and ``native``; ``checks`` gathers every family's checks.

    python scripts/bench.py [--samples 500] [--timesteps 128] [--steady 1000] [--memory-samples 10000]
    python scripts/bench.py --parts akida --json akida.json
    python scripts/bench.py --parts nengo [--nengo-samples 2]
"""

from __future__ import annotations

import argparse
import tempfile

import bench_akida
import bench_loihi
import bench_native
import bench_nengo
from bench_common import add_shared_arguments, finish

__all__ = ["main"]

FAMILIES = {
    "loihi": bench_loihi,
    "nengo": bench_nengo,
    "akida": bench_akida,
    "native": bench_native,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_shared_arguments(parser)
    parser.add_argument(
        "--parts",
        default="loihi,native,nengo,akida",
        help="comma-separated: loihi, native, nengo, akida",
    )
    for family in FAMILIES.values():
        family.add_arguments(parser)
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="neuroemu-bench-")
    parts = set(args.parts.split(","))
    figures = bench_loihi.run(args, cache) if "loihi" in parts else {"checks": {}}
    if "nengo" in parts:
        figures["nengo_loihi"] = bench_nengo.run(args, cache)
        figures["checks"] |= figures["nengo_loihi"].pop("checks")
    if "akida" in parts:
        figures["akida"] = bench_akida.run(args, cache)
        figures["checks"] |= figures["akida"]["checks"]
    if "native" in parts:
        figures["native"] = bench_native.run(args, cache)
        figures["checks"] |= figures["native"]["checks"]
    finish(figures, args.json)


if __name__ == "__main__":
    main()
