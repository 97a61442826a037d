"""Start-up time of the personagen commands, with a cold and a warm compilation cache.

Each command runs in a fresh process, as a user runs it: first with an empty cache
directory (cold: everything is compiled), then ``--repeat`` times more with the same
directory (warm: compiled code is loaded). Prints the wall time of each and the median
of the warm runs; the data a command reads are made once beforehand.

    python benchmarks/bench_startup.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "personagen", *argv],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="warm runs per command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION")}
        env["PERSONAGEN_CACHE_DIR"] = str(tmp_path / "cache")
        data = tmp_path / "data"
        setup = ["sample", "--n", "1000", "--out", str(data), "--basic-only", "-q", "--seed", "9"]
        run([*setup, "--no-cache"], env)
        table = str(data / "customer_sales_data_basic.parquet")
        out = str(tmp_path / "out")
        commands = {
            "validate": ["validate"],
            "sample --n 1000": ["sample", "--n", "1000", "--out", out, "-q", "--overwrite"],
            "sample --n 1000 --basic-only": [
                "sample",
                "--n",
                "1000",
                "--out",
                out,
                "-q",
                "--overwrite",
                "--basic-only",
            ],
            "fit 1000 (weights)": ["fit", table, "--out", out + "_fit", "-q", "--overwrite"],
            "assign 1000": [
                "assign",
                table,
                "--posterior",
                out + "_fit/posterior.nc",
                "--out",
                out + "_a.csv",
                "--overwrite",
            ],
        }
        print(f"{'command':<30} {'cold s':>8} {'warm s (median)':>16} {'warm runs':>24}")
        for name, argv in commands.items():
            cold = run(argv, env)
            warm = [run(argv, env) for _ in range(args.repeat)]
            shown = ", ".join(f"{w:.1f}" for w in warm)
            print(f"{name:<30} {cold:>8.1f} {statistics.median(warm):>16.1f} {shown:>24}")
        size = sum(f.stat().st_size for f in (tmp_path / "cache").rglob("*") if f.is_file())
        print(f"cache size after these runs: {size / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
