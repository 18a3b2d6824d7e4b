"""Randomized akida.Model cases over the engine's v1 layer set: how many import, and do they match.

The cases are :func:`emu.crosscheck.akida_cases.run_cases`'s.

Run: ``python scripts/akida_engine_cases.py [--cases 2000] [--seed 0]``
"""

from __future__ import annotations

import argparse

from emu.crosscheck.akida_cases import run_cases

__all__ = ["main"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result = run_cases(args.cases, args.seed)
    print(f"{result['cases']} engine cases, {result['built']} built, {result['matched']} of "
          f"them match akida.Model.forward exactly")  # fmt: skip
    for reason, count in result["refused"].most_common():
        print(f"  refused {count}: {reason}")
    print("built layers:", dict(result["kinds"]))


if __name__ == "__main__":
    main()
