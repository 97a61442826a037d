"""Throughput and peak memory of ``personagen sample`` (basic and enriched, Parquet).

Each measurement runs in a fresh subprocess so its peak RSS is its own.
Compilation is excluded by a warm-up run of one chunk in the same process
(reported separately). Usage:

    python benchmarks/bench_sample.py                 # default sizes
    python benchmarks/bench_sample.py --basic 1000000 10000000 --enriched 100000 1000000
    python benchmarks/bench_sample.py --repeat 3      # median of three runs per row

The machine's speed varies from minute to minute (a shared virtual machine),
so ``--repeat`` reports the median run and the range of customers/s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

from personagen.sample import BASIC_CHUNK, ENRICHED_CHUNK

CHILD = r"""
import json, resource, sys, time, pathlib, tempfile
import jax
from personagen import load_config
from personagen.sample import SampleRequest, sample_to_files
n, enriched, chunk = int(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3])
config = load_config()
out = pathlib.Path(tempfile.mkdtemp())
t0 = time.perf_counter()
sample_to_files(config, SampleRequest(out_dir=out / "warm", n_customers=chunk, seed=1,
                chunk_size=chunk, basic_only=not enriched))
warm = time.perf_counter() - t0
t0 = time.perf_counter()
sample_to_files(config, SampleRequest(out_dir=out / "run", n_customers=n, seed=2,
                chunk_size=chunk, basic_only=not enriched))
dt = time.perf_counter() - t0
size = sum(p.stat().st_size for p in (out / "run").iterdir())
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"n": n, "table": "enriched" if enriched else "basic", "chunk": chunk,
                  "seconds": dt, "customers_per_s": n / dt, "mb_written": size / 1e6,
                  "mb_per_s": size / 1e6 / dt, "peak_rss_mb": rss, "warmup_s": warm,
                  "device": jax.devices()[0].device_kind}))
"""


def measure(n: int, enriched: bool, chunk: int) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(n), "1" if enriched else "0", str(chunk)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--basic", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--enriched", type=int, nargs="*", default=[20_000, 100_000])
    parser.add_argument("--basic-chunk", type=int, default=BASIC_CHUNK)
    parser.add_argument("--enriched-chunk", type=int, default=ENRICHED_CHUNK)
    parser.add_argument("--repeat", type=int, default=1, help="runs per row (median reported)")
    args = parser.parse_args()
    print(
        f"{'table':<9} {'N':>11} {'chunk':>8} {'seconds':>8} {'cust/s':>10} {'MB':>9} "
        f"{'MB/s':>7} {'peak RSS MB':>12} {'warm-up s':>10} {'cust/s range':>20}"
    )
    runs = [(n, False, args.basic_chunk) for n in args.basic]
    runs += [(n, True, args.enriched_chunk) for n in args.enriched]
    devices = set()
    for n, enriched, chunk in runs:
        runs_here = sorted(
            (measure(n, enriched, min(chunk, n)) for _ in range(args.repeat)),
            key=lambda r: r["customers_per_s"],
        )
        r = runs_here[len(runs_here) // 2]
        devices.update(x["device"] for x in runs_here)
        spread = f"{runs_here[0]['customers_per_s']:,.0f}-{runs_here[-1]['customers_per_s']:,.0f}"
        print(
            f"{r['table']:<9} {r['n']:>11,} {r['chunk']:>8,} {r['seconds']:>8.2f} "
            f"{r['customers_per_s']:>10,.0f} {r['mb_written']:>9.1f} {r['mb_per_s']:>7.1f} "
            f"{r['peak_rss_mb']:>12.0f} {r['warmup_s']:>10.1f} {spread:>20}",
            flush=True,
        )
    print(f"JAX device: {', '.join(sorted(devices))}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
