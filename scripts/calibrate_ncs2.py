"""Fit the NCS2 model's constants to published NCS2 measurements.

The fit is :mod:`hwmodels.calibration.ncs2_fit`. Run: ``python scripts/calibrate_ncs2.py``
"""

from __future__ import annotations

from hwmodels.calibration import ncs2_fit
from hwmodels.calibration.fit_report import print_fit


def main() -> None:
    values = ncs2_fit.fit()
    print_fit(values, ncs2_fit.residuals({n: v[0] for n, v in values.items()}))


if __name__ == "__main__":
    main()
