"""The comparison report (table, CSV, JSON, PNGs) and the estimate/compare commands."""

import csv
import json

import numpy as np
import pytest

import converters
from converters import datasets, models, training
from converters.chips.files import save_net
from emu import Emulation, save_traces
from hwmodels import load_estimate, loihi, ncs2, report
from neuroemu.commands import main


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    data = datasets.digits()
    model = training.train(models.digits_cnn(), data.x_train, data.y_train, epochs=5)
    graph = converters.normalize(converters.load(model, data.x_train[:1]), data.x_train[:300])
    x, y = data.x_test[:30], data.y_test[:30]
    out = tmp_path_factory.mktemp("report")
    results = []
    for steps in (16, 48):
        net = converters.to_loihi(graph, timesteps=steps)
        traces = Emulation(net, device="reference", record_events=True).run(x, y)
        path = save_traces(traces, out / f"t{steps}.h5")
        results.append((net, path, loihi.estimate(net, traces, label=f"loihi T={steps}")))
    baseline = ncs2.baseline(model, x, y)
    return model, results, baseline, out


def test_table_files_and_ratios(case, tmp_path):
    _, results, baseline, _ = case
    estimates = [r[2] for r in results] + [baseline]
    rep = report.compare(estimates, tmp_path, traces=results[1][1], notes=["a note"])
    names = {p.name for p in rep.files}
    assert {"comparison.txt", "comparison.csv", "comparison.json", "energy_power.png"} <= names
    assert {"accuracy_vs_timesteps.png", "layer_activity.png", "raster.png"} <= names
    for p in rep.files:
        assert p.stat().st_size > 0
    with open(tmp_path / "comparison.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["label"] for r in rows] == [e.label for e in estimates]
    first = estimates[0]
    assert float(rows[0]["power_ratio_vs_ncs2"]) == pytest.approx(baseline.power / first.power)
    assert float(rows[0]["energy_ratio_vs_ncs2"]) == pytest.approx(baseline.energy / first.energy)
    assert float(rows[2]["power_ratio_vs_ncs2"]) == pytest.approx(1.0)
    saved = json.loads((tmp_path / "comparison.json").read_text())
    assert saved["estimates"][0]["constants"]["loihi_synop_energy"]["unit"] == "J"
    text = rep.text
    assert "a note" in text and "against the published" in text and "assumes:" in text
    assert f"{baseline.power / first.power:.3g}x" in text


def test_table_without_ncs2_has_no_ratios(case, tmp_path):
    _, results, _, _ = case
    rep = report.compare([results[0][2]], tmp_path)
    assert rep.rows[0]["power_ratio_vs_ncs2"] is None and "published" not in rep.text
    with pytest.raises(ValueError, match="at least one"):
        report.compare([], tmp_path)


def test_cli_estimate_then_compare(case, tmp_path, capsys):
    model, results, _, _ = case
    net, traces_path, est = results[0]
    net_path = save_net(net, tmp_path / "net.npz")
    cfg = tmp_path / "c.toml"
    cfg.write_text("loihi_static_power = 0.029\n")
    first = net.layers[0].name
    out = tmp_path / "est.json"
    main(["estimate", str(traces_path), "--net", str(net_path), "--out", str(out),
          "--constants", str(cfg), "--cores", f"{first}=6", "--label", "cli"])  # fmt: skip
    printed = capsys.readouterr().out
    assert "cli [loihi]" in printed and str(cfg) in printed
    saved = load_estimate(out)
    assert saved.constants["loihi_static_power"]["value"] == 0.029
    assert saved.layers[1].units == 6
    assert saved.energy_dynamic != pytest.approx(est.energy_dynamic)  # spread changes messages
    import openvino as ov

    ov.save_model(
        converters.to_openvino(model, np.zeros((1, 1, 8, 8), np.float32)), tmp_path / "m.xml"
    )
    main(["compare", str(out), "--out", str(tmp_path / "rep"), "--ncs2-model",
          str(tmp_path / "m.xml"), "--data", "digits", "--samples", "30"])  # fmt: skip
    printed = capsys.readouterr().out
    assert "power_ratio_vs_ncs2" in printed and (tmp_path / "rep" / "comparison.csv").exists()


def test_cli_refuses_a_bad_constants_file_and_mismatched_net(case, tmp_path):
    _, results, _, _ = case
    net16, path16, _ = results[0]
    net48, _, _ = results[1]
    cfg = tmp_path / "c.json"
    cfg.write_text('{"loihi_static_powr": 0.1}')
    with pytest.raises(ValueError, match="loihi_static_powr"):
        main(["estimate", str(path16), "--net", str(save_net(net16, tmp_path / "a.npz")),
              "--constants", str(cfg), "--debug"])  # fmt: skip
    with pytest.raises(ValueError, match="not from the given network"):
        main(["estimate", str(path16), "--net", str(save_net(net48, tmp_path / "b.npz")),
              "--debug"])  # fmt: skip


def test_validation_table_counts_held_out_figures_within_2x_and_keeps_notes():
    from hwmodels import validation

    rows = [
        validation._row("a", "w1", "power", 2.0, 3.0, 2.5, 3.5, "held-out"),  # 1.5x: inside
        validation._row("a", "w2", "power", 2.0, 0.5, 0.4, 0.6, "held-out"),  # 0.25x: outside
        validation._row("a", "w3", "latency", 1.0, 1.0, 1.0, 1.0, "calibration"),
    ]
    rows[1]["note"] = "why it differs"
    text = validation.markdown(rows, "cmd")
    assert "| a | w1 | power | 2 | 3 [2.5 - 3.5] | 1.500 | held-out |" in text
    assert "within 2x: 1 of 2" in text and "`cmd`" in text
    assert "- w2: why it differs" in text
    assert "held-out figures within 2x: 1 of 2" in validation.table(rows)


def test_cli_accounting_and_the_parts_in_the_report(case, tmp_path, capsys):
    _, results, baseline, _ = case
    net, traces_path, est = results[0]
    net_path = save_net(net, tmp_path / "net.npz")
    out = tmp_path / "dyn.json"
    main(["estimate", str(traces_path), "--net", str(net_path), "--out", str(out),
          "--accounting", "dynamic"])  # fmt: skip
    dynamic = load_estimate(out)
    parts = est.details["parts"]
    assert dynamic.details["accounting"] == "dynamic" and dynamic.energy_static == 0
    counted = parts["neurocore_dynamic"] + parts["x86_dynamic"] + parts["host_io"]
    assert dynamic.energy == pytest.approx(counted)
    assert est.energy == pytest.approx(sum(parts.values()))  # the default counts them all
    rep = report.compare([est, baseline], tmp_path / "rep")
    assert "parts, accounting 'all'" in rep.text and "x86 static" in rep.text
    assert "under each accounting convention" in rep.text and "blouw" in rep.text
    with pytest.raises(SystemExit):
        main(["estimate", str(traces_path), "--net", str(net_path), "--accounting", "total"])
    assert "invalid choice: 'total'" in capsys.readouterr().err
