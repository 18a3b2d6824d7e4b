"""The hardware models by target: every target's functions resolve; unknown ones are refused."""

import pytest

from hwmodels import models_for
from hwmodels.models import MODELS


def test_every_target_resolves_its_estimate_and_deployment_report():
    for target, model in MODELS.items():
        assert model.target == target and callable(model.estimate)
        if model.deploy_function is not None:
            assert callable(model.deploy)


def test_an_unknown_target_and_a_missing_report_are_refused_by_name():
    with pytest.raises(ValueError, match="loihi, akida"):
        models_for("spinnaker")
    with pytest.raises(ValueError, match="no deployment report for Akida 2.0"):
        models_for("akida_v2").deploy(None, None)
