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


def constants_table() -> str:
    """Markdown: every registered hardware constant with its value, unit, meaning and source."""
    from hwmodels.constants import REGISTRY

    lines = ["| name | value | unit | meaning | source |", "|---|---|---|---|---|"]
    for c in REGISTRY.values():
        lines.append(
            f"| `{c.name}` | {c.value:.4g} | {_cell(c.unit)} | {_cell(c.description)} "
            f"| {_cell(c.source)} |"
        )
    return "\n".join(lines) + f"\n\n{len(REGISTRY)} constants.\n"


SECTIONS = {"cli": cli_reference, "constants": constants_table}


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replace every generated-section marker of a page by its section."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    for name, make in SECTIONS.items():
        marker = MARKER.format(name)
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown
