"""Blouw et al. 2019's published power logs read into the figures of ``data/published_power.json``.

The logs are the public repository ``abr/power_benchmarks`` (``logs/running/*.json`` hold
the run summaries, ``*.csv`` the power readings, ``logs/idle/*.csv`` the idle readings).
Each run becomes mean running power over the readings between its start and end time,
mean idle power (the idle log without its first and last 20 rows (a short log:
its first and last quarter), as the repository's
``analysis/analysis.py`` does), and inferences per second. Nothing is fetched at run
time: ``scripts/extract_power_benchmarks.py`` writes the figures once into the data file
the calibration reads (:mod:`hwmodels.published`).
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime
from pathlib import Path

__all__ = ["SOURCE", "idle_power", "running", "extract"]

SOURCE = (
    "Blouw et al. 2019, arXiv 1812.01739; raw logs in github.com/abr/power_benchmarks "
    "(commit fce95c8), extracted by scripts/extract_power_benchmarks.py"
)
_LOIHI_TIME = "%Y-%m-%d_%H:%M:%S.%f"


def _watts(row: list[str], loihi: bool) -> float | None:
    text = row[1] if loihi or len(row) <= 5 else row[7]
    text = "".join(ch for ch in text if ch not in "WmAV").strip()
    try:
        return float(text)
    except ValueError:
        return None


def _rows(path: Path) -> list[list[str]]:
    with open(path) as f:
        return list(csv.reader(f))


def idle_power(path: Path, buffer: int = 20) -> float:
    """Mean idle power of one idle log, without its first and last ``buffer`` rows."""
    rows = _rows(path)
    loihi = "loihi" in path.name
    buffer = min(buffer, (len(rows) - 1) // 4)  # a short log keeps its middle half
    values = [_watts(r, loihi) for r in rows[buffer : len(rows) - buffer + 1] if len(r) > 1]
    values = [v for v in values if v is not None]
    return sum(values) / len(values)


def running(prefix: Path) -> dict:
    """Inferences, seconds, rate and mean running power of one run's summary and log."""
    summary = json.loads(prefix.with_suffix(".json").read_text())
    loihi = "loihi" in prefix.name
    if loihi:
        start, end = summary["start_time"], summary["end_time"]
        seconds = datetime.strptime(end, _LOIHI_TIME) - datetime.strptime(start, _LOIHI_TIME)
        seconds = seconds.total_seconds()
    else:
        start, end, seconds = summary["start_time"], summary["end_time"], summary["n_seconds"]

    def stamp(text: str) -> str:
        text = text.replace("/", "-").replace(" ", "_")
        return text if loihi else text.split(".")[0]

    rows = [r for r in _rows(prefix.with_suffix(".csv")) if r and r[0]]
    first = next(i for i, r in enumerate(rows) if stamp(r[0]) == start)
    last = max(i for i, r in enumerate(rows) if stamp(r[0]) <= end)
    values = [_watts(r, loihi) for r in rows[first : last + 1]]
    values = [v for v in values if v is not None]
    return {
        "inferences": float(summary["n_inferences"]),
        "seconds": float(seconds),
        "rate": float(summary["n_inferences"]) / float(seconds),
        "running_power": sum(values) / len(values),
        "readings": len(values),
    }


def extract(root: Path) -> dict:
    """The figures of the NCS2 and Loihi logs under ``root`` (a power_benchmarks checkout)."""
    logs = root / "logs"
    ncs2 = running(logs / "running" / "ncs2_ncopies_1") | {
        "idle_power": idle_power(logs / "idle" / "ncs2_idle.csv")
    }
    kws = []
    for prefix in sorted((logs / "running").glob("loihi_run0*.json")):
        run = running(prefix.with_suffix(""))
        kws.append(run | {"idle_power": idle_power(logs / "idle" / f"{prefix.stem}.csv")})
    sweep = []
    for prefix in sorted((logs / "running").glob("loihi_I08O08C*.json")):
        copies, layers = map(int, re.search(r"C(\d+)L(\d+)", prefix.stem).groups())
        run = running(prefix.with_suffix(""))
        idle = idle_power(logs / "idle" / f"{prefix.stem}.csv")
        sweep.append(run | {"copies": copies, "layers": layers, "idle_power": idle})
    return {
        "source": SOURCE,
        "ncs2_kws": ncs2 | {"network": "390-256-256-29, FP16, synchronous OpenVINO, batch 1"},
        "loihi_kws": kws,
        "loihi_scaled": sweep,
        "paper_table": {
            "loihi": {"idle_power": 0.029, "running_power": 0.110, "rate": 296},
            "x86_active_power": 0.070,
            "note": "paper/power_summary.tex: Table 2, and 'the difference between idling "
            "from boot and idling after model execution is approximately 70mW'",
        },
    }
