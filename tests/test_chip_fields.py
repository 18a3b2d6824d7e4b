"""Chip records declare the range of every numeric field, and library modules import no cycle."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import pkgutil
from pathlib import Path

import numpy as np
import pytest

import converters.chips
from converters.chips.fields import check_ranges, declared_range, declared_ranges
from converters.chips.loihi import LoihiLayer, LoihiProjection

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ("converters", "emu", "hwmodels", "neuroemu")
NOT_RECORDS = {"LayerState", "LimitCheck", "FieldRange"}  # state, a result, a declaration
NUMERIC = ("int", "float", "ndarray")
# cycles through deferred imports that the restructuring of those packages removes
CYCLES_BEING_REMOVED = {
    frozenset({"converters.targets.conv_maps", "converters.targets.populations"}),
    frozenset({"emu.traces", "emu.traces.bounds"}),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The project modules ``path`` imports, anywhere in it (functions included)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    ancestors = {".".join(name.split(".")[:k]) for k in range(1, name.count(".") + 1)}
    return {m for m in found if m in modules and m != name and m not in ancestors}


def _import_graph() -> dict[str, set[str]]:
    paths = [p for package in LIBRARY for p in (ROOT / package).rglob("*.py")]
    modules = {_module_name(p) for p in paths}
    return {_module_name(p): _imports(p, modules) for p in paths}


def _cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The modules of every import cycle: strongly connected components of two or more."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: set[frozenset[str]] = set()

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for target in graph[module]:
            if target not in order:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], order[target])
        if low[module] == order[module]:
            component = {stack.pop()}
            while module not in component:
                component.add(stack.pop())
            if len(component) > 1:
                found.add(frozenset(component))

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return found


def test_the_import_graph_sees_relative_and_deferred_imports():
    graph = _import_graph()
    assert "converters.chips.tree" in graph["converters.chips.loihi"]
    assert "converters.chips.loihi" in graph["converters.chips"]
    assert "converters.resources" in graph["converters.chips.files"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {frozenset("abc")}


def test_library_modules_import_no_cycle():
    assert _cycles(_import_graph()) <= CYCLES_BEING_REMOVED


def _records() -> list[type]:
    modules = [
        importlib.import_module(f"converters.chips.{m.name}")
        for m in pkgutil.iter_modules(converters.chips.__path__)
    ]
    return [
        cls
        for module in modules
        for cls in vars(module).values()
        if isinstance(cls, type)
        and dataclasses.is_dataclass(cls)
        and cls.__module__ == module.__name__
        and cls.__name__ not in NOT_RECORDS
    ]


def _numeric(annotation: str) -> bool:
    return not annotation.startswith(("list", "dict")) and any(t in annotation for t in NUMERIC)


def test_every_numeric_field_of_every_chip_record_declares_a_range():
    records = _records()
    assert {"LoihiNet", "LoihiConv", "AkidaLayer", "AkidaV2Layer"} <= {r.__name__ for r in records}
    undeclared = [
        f"{cls.__name__}.{f.name}"
        for cls in records
        for f in dataclasses.fields(cls)
        if _numeric(str(f.type)) and f.name not in declared_ranges(cls)
    ]
    assert not undeclared


def test_a_declared_range_gives_kind_and_bounds():
    rng = declared_range(LoihiLayer, "refractory")
    assert (rng.kind, rng.low, rng.high) == ("int", 1, 64)
    with pytest.raises(KeyError, match="LoihiLayer.name declares no range"):
        declared_range(LoihiLayer, "name")


def test_construction_names_field_value_and_range():
    projection = LoihiProjection("input", [0], [0], [2])
    projection.weight_exp = 9
    with pytest.raises(ValueError, match=r"weight_exp must be integers in -8\.\.7, got 9"):
        check_ranges(projection)
    with pytest.raises(ValueError, match=r"layer 'h': refractory must be integers in 1\.\.64"):
        LoihiLayer("h", 2, [], 10, np.zeros(2, np.int32), refractory=0)
