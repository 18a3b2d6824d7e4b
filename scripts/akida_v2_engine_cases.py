"""Randomized Akida 2.0 akida.Model graphs: how many import, and does every device match the engine.

The cases are :func:`emu.crosscheck.akida_v2_cases.run_cases`'s.

Run: ``python scripts/akida_v2_engine_cases.py [--cases 1000] [--seed 0]``
"""

from __future__ import annotations

import argparse
import time

from emu.crosscheck.akida_v2_cases import run_cases

__all__ = ["main"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    result = run_cases(args.cases, args.seed)
    print(f"{result['cases']} engine cases, {result['built']} imported; reference matches "
          f"akida.Model.forward on {result['matched']}, tensor device on "
          f"{result['tensor_matched']} ({time.perf_counter() - start:.0f} s)")  # fmt: skip
    for reason, count in result["refused"].most_common():
        print(f"  refused {count}: {reason}")
    print("layers:", dict(sorted(result["kinds"].items())))
    if result["mismatches"]:
        print("mismatching cases:", result["mismatches"][:20])


if __name__ == "__main__":
    main()
