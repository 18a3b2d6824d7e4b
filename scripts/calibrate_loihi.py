"""Fit Loihi's x86 parts to Blouw et al. 2019's logs: keyword spotting and the sweep's N=0.

The fit is :mod:`hwmodels.calibration.loihi_fit`. Run: ``python scripts/calibrate_loihi.py``
"""

from __future__ import annotations

from hwmodels.calibration import loihi_fit
from hwmodels.calibration.fit_report import print_fit


def main() -> None:
    values = loihi_fit.fit()
    print_fit(values, loihi_fit.residuals({n: v[0] for n, v in values.items()}))


if __name__ == "__main__":
    main()
