"""MkDocs hook: pages' generated sections, the CLI help and the constants table, from the code.

A page asks for a section with a marker line ``<!-- generated: NAME -->``; the hook replaces
it at build time, so the site always describes the checked-out tree.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["on_page_markdown", "cli_reference", "constants_table"]

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- generated: {} -->"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def cli_reference() -> str:
    """Markdown: ``neuroemu --help`` and every subcommand's help, as the parsers print them."""
    from neuroemu.commands import build_parser

    os.environ["COLUMNS"] = "96"  # argparse wraps help to the terminal width
    parser = build_parser()
    parts = ["## neuroemu\n", "```text\n" + parser.format_help() + "```\n"]
    for name, sub in _subcommands(parser).items():
        parts += [f"## neuroemu {name}\n", "```text\n" + sub.format_help() + "```\n"]
    return "\n".join(parts)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def _records_table(records, noun: str) -> str:
    """Markdown: name, value, unit, meaning and source of each record, then their count."""
    lines = ["| name | value | unit | meaning | source |", "|---|---|---|---|---|"]
    for r in records:
        lines.append(
            f"| `{r.name}` | {r.value:.4g} | {_cell(r.unit)} | {_cell(r.description)} "
            f"| {_cell(r.source)} |"
        )
    return "\n".join(lines) + f"\n\n{len(lines) - 2} {noun}.\n"


def constants_table() -> str:
    """Markdown: every registered hardware constant with its value, unit, meaning and source."""
    from hwmodels.constants import REGISTRY

    return _records_table(REGISTRY.values(), "constants")


def measurements_table() -> str:
    """Markdown: every published measurement the models are checked against, with its source."""
    from hwmodels.published import MEASUREMENTS

    return _records_table(MEASUREMENTS.values(), "measurements")


SECTIONS = {"cli": cli_reference, "constants": constants_table, "measurements": measurements_table}


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replace every generated-section marker of a page by its section."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    for name, make in SECTIONS.items():
        marker = MARKER.format(name)
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown
