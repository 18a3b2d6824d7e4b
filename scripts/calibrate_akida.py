"""Fit the Akida model's fixed and event-driven constants to named measurements.

The fit is :mod:`hwmodels.calibration.akida_fit`; ``--host`` times BrainChip's software
engine for the host constants instead.
Run: ``python scripts/calibrate_akida.py [--samples 1000] [--epochs 2] [--host]``
"""

from __future__ import annotations

import argparse

from hwmodels.calibration import akida_fit
from hwmodels.calibration.fit_report import print_fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000, help="test images (default 1000)")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--host", action="store_true",
                        help="time BrainChip's software engine for the host constants")  # fmt: skip
    args = parser.parse_args()
    if args.host:
        per_output, per_synop = akida_fit.host_times(seed=args.seed)
        print(f"akida_host_output_time = {per_output:.4e}\nakida_host_synop_time = {per_synop:.4e}")
        return
    template = akida_fit.template_counts(args.samples, args.epochs, args.seed)
    print(akida_fit.template_summary(template, args.samples))
    values = akida_fit.fit(template=template)
    residuals = akida_fit.residuals({n: v[0] for n, v in values.items()}, template)
    print_fit(values, residuals, range_format=".3e")


if __name__ == "__main__":
    main()
