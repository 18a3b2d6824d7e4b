"""Extract the published power logs of Blouw et al. 2019 into ``data/published_power.json``.

The reading is :mod:`hwmodels.calibration.power_logs`.
Run: ``python scripts/extract_power_benchmarks.py PATH_TO_power_benchmarks``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hwmodels import published
from hwmodels.calibration.power_logs import extract


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="a checkout of abr/power_benchmarks")
    parser.add_argument("--out", type=Path, default=published.PATH)
    args = parser.parse_args()
    args.out.write_text(json.dumps(extract(args.root), indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
