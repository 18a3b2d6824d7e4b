"""The package layout: moved modules forward from their old paths and are named by their new
ones everywhere else, library modules stay short, and tests load no script by its path."""

from __future__ import annotations

import importlib
import re
import subprocess
from pathlib import Path

import pytest

import converters
import emu
import hwmodels
import neuroemu
from converters.legacy_paths import moved_modules

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ("converters", "emu", "hwmodels", "neuroemu")
# the files that list the old paths: the packages' tables, their finder and this test
TABLES = {f"{package}/__init__.py" for package in LIBRARY} | {
    "converters/legacy_paths.py",
    "tests/test_layout.py",
}
MAX_MODULE_LINES = 500

assert converters and emu and hwmodels and neuroemu  # each registers its moved modules


def _tracked(*patterns: str) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).exists()]


def test_every_package_keeps_its_moved_modules():
    moves = moved_modules()
    assert {old.split(".")[0] for old in moves} == set(LIBRARY)
    assert moves["emu.trace_store"] == "emu.traces.store"
    assert moves["converters.net_io"] == "converters.chips.files"


@pytest.mark.parametrize("old", sorted(moved_modules()))
def test_an_old_module_path_forwards_to_its_new_module(old):
    new = importlib.import_module(moved_modules()[old])
    with pytest.warns(DeprecationWarning, match=re.escape(moved_modules()[old])):
        module = importlib.reload(importlib.import_module(old))
    public = getattr(new, "__all__", None) or [n for n in dir(new) if not n.startswith("_")]
    assert all(getattr(module, name) is getattr(new, name) for name in public)


def test_nothing_names_an_old_module_path():
    moves = moved_modules()
    pattern = re.compile(r"(?<![\w.])(" + "|".join(re.escape(old) for old in moves) + r")(?![\w])")
    named = [
        f"{path.relative_to(ROOT)}: {match}"
        for path in _tracked("*.py", "*.md", "*.cfg", "*.yml")
        if str(path.relative_to(ROOT)) not in TABLES
        for match in pattern.findall(path.read_text())
    ]
    assert not named


def test_no_library_module_is_over_the_line_limit():
    long = {
        str(path.relative_to(ROOT)): n
        for package in LIBRARY
        for path in (ROOT / package).rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long


def test_tests_load_no_script_by_its_path():
    loading = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").glob("*.py")
        if path.name != Path(__file__).name and "spec_from_file_location" in path.read_text()
    ]
    assert not loading
