"""Make the report screenshots of the docs: a sample run and a fit, in headless Chromium.

Samples 20,000 customers (enriched, seed 0), fits the persona weights of 2,000 of
them by NUTS with 50 posterior predictive data sets, samples 2,000 look-alikes from
that posterior, writes both reports and screenshots them into ``docs/images/``.

    python benchmarks/report_screenshots.py [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def personagen(*argv: str) -> None:
    subprocess.run([sys.executable, "-m", "personagen", *argv, "-q"], cwd=ROOT, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        personagen("sample", "--n", "20000", "--out", str(t / "sample"), "--seed", "0",
                   "--report")  # fmt: skip
        personagen("sample", "--n", "2000", "--out", str(t / "data"), "--basic-only",
                   "--seed", "1")  # fmt: skip
        personagen("fit", str(t / "data" / "customer_sales_data_basic.parquet"),
                   "--out", str(t / "fit"), "--predictive", "50")  # fmt: skip
        personagen("sample", "--n", "2000", "--out", str(t / "lookalike"), "--basic-only",
                   "--posterior", str(t / "fit" / "posterior.nc"))  # fmt: skip
        subprocess.run([sys.executable, "-m", "personagen", "report", str(t / "fit"),
                        "--lookalike", str(t / "lookalike")], cwd=ROOT, check=True)  # fmt: skip
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            for kind in ("sample", "fit"):
                page.goto((t / kind / "report.html").as_uri(), wait_until="load")
                out = ROOT / "docs" / "images" / f"report_{kind}.png"
                page.screenshot(path=str(out), full_page=True)
                print(out)
            browser.close()


if __name__ == "__main__":
    main()
