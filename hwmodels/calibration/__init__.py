"""The published workloads rebuilt, and the fits of the models' constants to the measurements.

``workloads`` trains and emulates the networks the papers measured (it needs torch);
``loihi_fit``, ``ncs2_fit`` and ``akida_fit`` fit each model's calibrated constants to
:mod:`hwmodels.published` (``scripts/calibrate_*.py`` print them); ``deployment_sweep``
converts, emulates and estimates one deployment setting of LeNet-5 on Loihi;
``power_logs`` reads Blouw et al.'s raw power logs into ``data/published_power.json``. Nothing here
is imported with :mod:`hwmodels`: a base install without torch still imports the models.
"""

__all__ = [
    "akida_fit",
    "deployment_sweep",
    "fit_report",
    "loihi_fit",
    "ncs2_fit",
    "power_logs",
    "workloads",
]
