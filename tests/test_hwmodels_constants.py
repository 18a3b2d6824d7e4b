"""The constants registry: sources, overrides from JSON and TOML, and refusals."""

import json

import pytest

from hwmodels import REGISTRY, Constants, ConstantsError, load_constants


def test_every_constant_has_value_unit_source_and_description():
    for name, c in REGISTRY.items():
        assert c.name == name
        assert c.value >= 0 and c.unit and c.source and c.description, name
        low, high = c.range
        assert low <= c.value <= high, name


def test_davies_table_values_are_the_defaults():
    c = Constants()
    assert c["loihi_synop_energy"] == pytest.approx(23.6e-12)
    assert c["loihi_neuron_inactive_time"] == pytest.approx(5.3e-9)
    # static power is the measured idle power (Blouw et al. 2019), not the 104 mW per chip
    # of a 32-chip system whose error cancelled the missing dynamic terms
    assert c["loihi_static_power"] == pytest.approx(c["blouw_idle_power"])


def test_json_and_toml_overrides(tmp_path):
    js = tmp_path / "c.json"
    js.write_text(json.dumps({"loihi_synop_energy": 3e-11}))
    toml = tmp_path / "c.toml"
    toml.write_text("ncs2_power = 1.2\nloihi_static_power = 0.029\n")
    a, b = load_constants(js), load_constants(toml)
    assert a["loihi_synop_energy"] == 3e-11 and a["ncs2_power"] == 1.4382
    assert b["ncs2_power"] == 1.2 and b.overridden == ["loihi_static_power", "ncs2_power"]
    assert b.origin == str(toml)
    assert b.record(["ncs2_power"])["ncs2_power"]["source"] == "override"
    assert load_constants(None)["ncs2_power"] == 1.4382


def test_unknown_constant_is_named_with_the_accepted_list(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("loihi_synop_energi = 1e-12\n")
    with pytest.raises(ConstantsError) as err:
        load_constants(path)
    assert "loihi_synop_energi" in str(err.value)
    assert "loihi_synop_energy" in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize(
    "name, value",
    [
        ("loihi_cores_per_chip", 0),
        ("loihi_cores_per_tile", 2.5),
        ("loihi_synop_energy", float("inf")),
        ("loihi_synop_energy", float("nan")),
        ("ncs2_power", -0.1),
        ("akida_floor_power", 1e308),
    ],
)
def test_unphysical_values_are_refused_with_name_unit_and_range(name, value):
    with pytest.raises(ConstantsError) as err:
        Constants({name: value})
    unit = REGISTRY[name].unit
    assert name in str(err.value) and f"({unit})" in str(err.value) and "in [" in str(err.value)


def test_corners_move_only_ranged_constants_that_were_not_overridden():
    c = Constants({"loihi_synop_time": 4e-9})
    low = c.corner("low", ["loihi_synop_energy", "loihi_synop_time", "loihi_static_power"])
    assert low["loihi_synop_time"] == 4e-9
    assert low["loihi_static_power"] == REGISTRY["loihi_static_power"].range[0]
    assert c.corner("high", ["loihi_synop_energy"])["loihi_synop_energy"] == pytest.approx(
        23.6e-12 * 1.78
    )
    assert c.record(["loihi_static_power"])["loihi_static_power"]["low"] == 0.023


@pytest.mark.parametrize("value", [-1.0, float("nan"), "1 W", True])
def test_negative_or_non_numeric_values_are_refused(tmp_path, value):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"ncs2_power": value}))
    with pytest.raises(ConstantsError, match="ncs2_power"):
        load_constants(path)


def test_unparsable_file_and_missing_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(ConstantsError, match="cannot parse"):
        load_constants(path)
    with pytest.raises(FileNotFoundError):
        load_constants(tmp_path / "none.toml")


def test_replace_keeps_earlier_overrides():
    c = Constants({"ncs2_power": 1.2}).replace(ncs2_tdp=2.0)
    assert c["ncs2_power"] == 1.2 and c["ncs2_tdp"] == 2.0
    with pytest.raises(KeyError, match="accepted names"):
        c["nope"]


def test_published_measurements_are_read_but_never_overridden():
    from hwmodels.published import MEASUREMENTS

    assert not set(MEASUREMENTS) & set(REGISTRY)
    assert Constants()["carsnn_latency"] == MEASUREMENTS["carsnn_latency"].value
    with pytest.raises(ConstantsError, match="published measurement"):
        Constants({"carsnn_latency": 1e-3})


def test_each_model_is_bounded_over_the_constants_that_state_a_range():
    from hwmodels import akida_constants, loihi_constants, ncs2_constants

    for module in (loihi_constants, akida_constants, ncs2_constants):
        assert set(module.USED) <= set(REGISTRY)
        for name in module.USED:
            assert (name in module.BOUNDED) == (REGISTRY[name].low is not None), name
