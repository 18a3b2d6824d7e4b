"""Resolve every extra without the pins and report what a new user would get instead.

    python scripts/check_unpinned.py [--constraints constraints.txt] [--extras dev,docs]

For each extra, pip resolves ``torch==2.13.0 -e .[extra]`` against the registry as on an
empty environment (nothing is installed) without constraints.txt, then lists

- extras that cannot install at all (pip's message: a release whose dependency has not
  reached the registry, a new upper bound), the failure a user without the pins would hit;
- packages whose resolved version differs from the pin (new releases the tests have not run).

Exit status 1 when an extra does not resolve, else 0; the changed versions are for the
reader (a changed version is not a break until the suite fails under it).
"""

from __future__ import annotations

import argparse
import configparser
import sys
from pathlib import Path

from pin_constraints import ROOT, resolve

__all__ = ["pins", "extras", "main"]


def pins(path: Path) -> dict[str, str]:
    """{name: version} of a constraints file."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            out[name.strip().lower()] = version.strip()
    return out


def extras() -> list[str]:
    """The optional extras setup.cfg declares."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return list(cfg["options.extras_require"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--constraints", default=str(ROOT / "constraints.txt"))
    parser.add_argument("--extras", help="comma-separated extras (default: all but cuda)")
    args = parser.parse_args(argv)
    pinned = pins(Path(args.constraints))
    chosen = args.extras.split(",") if args.extras else [e for e in extras() if e != "cuda"]
    broken = 0
    for extra in chosen:
        try:
            got = resolve(["torch==2.13.0", "-e", f"{ROOT}[{extra}]"])
        except RuntimeError as err:
            broken += 1
            print(
                f"[{extra}] DOES NOT INSTALL without the pins:\n    "
                + str(err).replace("\n", "\n    ")
            )
            continue
        changed = [
            f"{name} {pinned[name]} -> {version}"
            for name, version in sorted(got.items())
            if name in pinned and pinned[name] != version
        ]
        new = [f"{name} {version}" for name, version in sorted(got.items()) if name not in pinned]
        print(f"[{extra}] resolves: {len(got)} packages, {len(changed)} newer than the pins")
        for line in changed:
            print(f"    changed  {line}")
        for line in new:
            print(f"    unpinned {line}")
    print(f"{broken} of {len(chosen)} extras do not install without the pins")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
