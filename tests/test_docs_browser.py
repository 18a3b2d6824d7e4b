"""The built site opens in a real browser: pages render, images load, internal links resolve.

Serves ``site/`` (``mkdocs build --strict``; built here when absent) on 127.0.0.1 and drives
Debian's chromium headless through playwright.
"""

from __future__ import annotations

import functools
import subprocess
import threading
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "site"
CHROMIUM = Path("/usr/bin/chromium")
PAGES = (
    "index.html",
    "getting-started.html",
    "guide/importing.html",
    "guide/loihi.html",
    "guide/knobs.html",
    "guide/akida.html",
    "examples/digits.html",
    "models.html",
    "reference/cli.html",
    "reference/api.html",
    "reference/traces.html",
    "reliability.html",
    "performance.html",
)

pytestmark = pytest.mark.slow


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="the docs extra installs playwright")
    if not (SITE / "index.html").exists():
        subprocess.run(["mkdocs", "build", "--strict"], cwd=ROOT, check=True, timeout=900)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=SITE))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_its_images_and_links(server, browser, page):
    tab = browser.new_page()
    response = tab.goto(server + page, wait_until="load")
    assert response is not None and response.status == 200
    assert tab.locator("article h1").count() >= 1, f"{page} has no heading"
    assert len(tab.locator("article").inner_text()) > 200, f"{page} rendered almost nothing"
    broken = tab.evaluate(
        "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
        ".map(i => i.src)"
    )
    assert not broken, f"{page}: images that did not load: {broken}"
    links = tab.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    tab.close()
    internal = {urldefrag(u)[0] for u in links if urlparse(u).netloc == urlparse(server).netloc}
    bad = {u: s for u in sorted(internal) if (s := _status(u)) != 200}
    assert not bad, f"{page}: internal links that do not resolve: {bad}"
    assert internal, f"{page} has no internal links"


def test_the_knob_page_shows_every_knob_figure(server, browser):
    tab = browser.new_page()
    tab.goto(server + "guide/knobs.html", wait_until="load")
    sources = tab.evaluate("Array.from(document.images).map(i => i.naturalWidth > 0 && i.src)")
    tab.close()
    for knob in ("percentile", "reset", "encoding", "timesteps", "cores"):
        assert any(s and s.endswith(f"knob_digits_{knob}.png") for s in sources), knob
