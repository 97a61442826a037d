"""A real browser opens the reports: headless Chromium from Debian, driven by Playwright.

``./dev.sh test`` installs Debian's ``chromium`` when it is missing; the test is
skipped only where there is no Chromium and no apt-get to install it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from personagen.report import write_report

from tests.report.test_report import FIT_CHARTS, SAMPLE_CHARTS

#: Chromium's flags on a machine with no network and no GPU (docs/report.md).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: A laptop's viewport: the page must fit its width.
VIEWPORT = {"width": 1280, "height": 800}
#: A screenshot is blank if its grey levels barely vary or almost every pixel is white.
MIN_GREY_SD = 10.0
MIN_INK = 0.02


def chromium() -> str:
    found = os.environ.get("PERSONAGEN_CHROMIUM") or shutil.which("chromium")
    if found:
        return found
    if shutil.which("apt-get"):
        pytest.fail("Chromium is missing: ./dev.sh test installs it (apt-get install chromium)")
    pytest.skip("no Chromium and no apt-get to install it: the browser test cannot run here")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium(), args=FLAGS)
        yield b
        b.close()


def open_report(browser, path: Path, screenshot: Path) -> dict:
    page = browser.new_page(viewport=VIEWPORT)
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else 0)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    charts = page.eval_on_selector_all(
        "figure.chart",
        """els => els.map(f => {
            const svg = f.querySelector('svg'); const r = svg.getBoundingClientRect();
            return {name: f.dataset.chart, width: r.width, height: r.height,
                    marks: svg.querySelectorAll('path, rect, use, image').length};
        })""",
    )
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    page.screenshot(path=str(screenshot), full_page=True)
    pdf = page.pdf(format="A4")
    page.close()
    return {
        "problems": problems,
        "requests": requests,
        "charts": charts,
        "scroll_width": scroll_width,
        "pdf": pdf,
    }


def assert_not_blank(path: Path) -> None:
    from PIL import Image

    grey = np.asarray(Image.open(path).convert("L"), np.float64)
    assert grey.std() > MIN_GREY_SD, "the screenshot is blank"
    assert (grey < 200).mean() > MIN_INK, "the screenshot has almost nothing drawn"


@pytest.mark.parametrize(("kind", "expected"), [("sample", SAMPLE_CHARTS), ("fit", FIT_CHARTS)])
def test_the_report_renders_in_a_browser(browser, kind, expected, request, tmp_path):
    source = request.getfixturevalue(f"{kind}_dir")
    run = tmp_path / kind
    shutil.copytree(source, run)
    path = write_report(run)
    shot = tmp_path / f"report_{kind}.png"
    seen = open_report(browser, path, shot)
    assert seen["problems"] == []
    assert seen["requests"] == [path.as_uri()]  # the page itself, nothing else
    assert {c["name"] for c in seen["charts"]} == expected
    for chart in seen["charts"]:
        assert chart["width"] > 300 and chart["height"] > 100, chart
        assert chart["marks"] > 10, chart  # axes, ticks and data were drawn
    assert seen["scroll_width"] <= VIEWPORT["width"]  # no sideways scrolling on a laptop
    assert seen["pdf"].startswith(b"%PDF") and len(seen["pdf"]) > 20_000
    assert_not_blank(shot)
