"""Every Python and shell code block of the documentation pages runs as written.

A page's blocks run in order in one fresh process, in a temporary directory that links the
repository's ``data/`` and ``scripts/``: Python blocks share one namespace (like a
notebook), shell blocks run with ``bash -euo pipefail``. An HTML comment on the line before
a fence marks the block: ``<!-- docs-test: slow -->`` (the page's test is marked slow),
``<!-- docs-test: requires PATH -->`` (the page is skipped while PATH is not in the tree)
or ``<!-- docs-test: skip REASON -->`` (never run, e.g. installation commands).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RUN = ("python", "bash")
SHOWN = ("text", "json", "toml")  # fences that show output or files, never run
FENCE = re.compile(
    r"^(?:<!-- docs-test: (?P<mark>[^>]*?) -->\n)?```(?P<lang>[\w-]*)[^\n]*\n(?P<code>.*?)^```$",
    re.S | re.M,
)
LINKED = ("data", "scripts")

DRIVER = """
import json, subprocess, sys
ns = {"__name__": "__main__"}
for block in json.load(open(sys.argv[1])):
    print(f"--- {block['where']}", flush=True)
    if block["lang"] == "python":
        exec(compile(block["code"], block["where"], "exec"), ns)
    else:
        subprocess.run(["bash", "-euo", "pipefail", "-c", block["code"]], check=True)
"""


@dataclass
class Block:
    where: str  # page:line
    lang: str
    code: str
    mark: str  # "", "slow", "requires PATH" or "skip REASON"


def pages() -> list[Path]:
    """The pages whose blocks run: every page but the design notes and the generated tables."""
    return sorted(
        p
        for p in DOCS.rglob("*.md")
        if p.name != "design.md" and not {"figures", "hooks"} & set(p.relative_to(DOCS).parts)
    )


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of a page, in order, with their marks."""
    text = page.read_text()
    return [
        Block(
            f"{page.relative_to(ROOT)}:{text[: m.start('code')].count(chr(10)) + 1}",
            m["lang"],
            m["code"],
            (m["mark"] or "").strip(),
        )
        for m in FENCE.finditer(text)
    ]


def _params():
    out = []
    for page in pages():
        found = [b for b in blocks(page) if b.lang in RUN and not b.mark.startswith("skip")]
        if found:
            slow = any(b.mark == "slow" for b in found)
            marks = [pytest.mark.slow] if slow else []
            out.append(pytest.param(page, found, marks=marks, id=str(page.relative_to(DOCS))))
    return out


def test_every_block_is_run_or_shown_and_every_mark_is_known():
    for page in pages():
        for b in blocks(page):
            assert b.lang in RUN + SHOWN, f"{b.where}: fence language {b.lang!r} is never run"
            kind, _, rest = b.mark.partition(" ")
            assert kind in ("", "slow", "requires", "skip"), f"{b.where}: unknown mark {b.mark!r}"
            assert kind not in ("requires", "skip") or rest, f"{b.where}: {kind} needs a reason"


def test_the_guide_pages_have_blocks_to_run():
    ran = {p.id for p in _params()}
    for page in ("getting-started.md", "guide/importing.md", "guide/loihi.md", "guide/akida.md"):
        assert page in ran


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    return env


@pytest.mark.parametrize(("page", "page_blocks"), _params())
def test_page_blocks_run(page: Path, page_blocks: list[Block], tmp_path: Path):
    missing = [
        b.mark.split(" ", 1)[1]
        for b in page_blocks
        if b.mark.startswith("requires ") and not (ROOT / b.mark.split(" ", 1)[1]).exists()
    ]
    if missing:
        pytest.skip(f"{page.name} runs {', '.join(missing)}, which is not in this tree")
    for name in LINKED:
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / "blocks.json").write_text(json.dumps([asdict(b) for b in page_blocks]))
    (tmp_path / "driver.py").write_text(DRIVER)
    done = subprocess.run(
        [sys.executable, "driver.py", "blocks.json"],
        cwd=tmp_path,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert done.returncode == 0, f"{page.name}:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
