"""How long a report takes, whatever the size of the run, and what the digest costs.

1. Samples ``--n`` basic customers (default 10 million) with ``personagen sample``
   into a temporary directory, then times ``personagen report`` on it in a fresh
   process (``--repeat`` times): the report reads only metadata.json and summary.json.
2. Times :meth:`personagen.sample.RunDigest.update` alone on chunks of 100,000
   customers, against the time ``sample`` spends per chunk, to show the digest's share.

    python benchmarks/bench_report.py [--n 10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "personagen", *argv], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - t0


def digest_cost(n_chunks: int = 5, chunk: int = 100_000) -> tuple[float, float]:
    """Seconds per chunk of the digest update and of the basic table build."""
    from personagen.config import load_config
    from personagen.sample import (
        DEFAULT_AS_OF,
        RunDigest,
        SampleRequest,
        basic_batch,
        plan_run,
        table_layout,
    )

    config = load_config()
    request = SampleRequest(out_dir=Path("."), n_customers=n_chunks * chunk, seed=0)
    chunks = list(plan_run(config, request).chunks(chunk_size=chunk, enriched=False))
    layout = table_layout(config.hierarchy)
    segments = list(config.segments.segments)
    digest = RunDigest(config)
    t_basic = t_digest = 0.0
    for c in chunks:
        t0 = time.perf_counter()
        basic = basic_batch(c, layout, segments, DEFAULT_AS_OF)
        t1 = time.perf_counter()
        digest.update(c, basic)
        t2 = time.perf_counter()
        t_basic += t1 - t0
        t_digest += t2 - t1
    return t_digest / n_chunks, t_basic / n_chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="customers to sample")
    parser.add_argument("--repeat", type=int, default=3, help="report runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        t_sample = timed(["sample", "--n", str(args.n), "--out", str(out), "--basic-only", "-q"])
        print(f"sample {args.n:,} basic customers: {t_sample:.1f} s")
        times = [timed(["report", str(out), "--overwrite"]) for _ in range(args.repeat)]
        size = (out / "report.html").stat().st_size / 1e3
        print(f"report: {', '.join(f'{t:.2f}' for t in times)} s "
              f"(median {statistics.median(times):.2f} s, {size:.0f} kB page)")  # fmt: skip
    d, b = digest_cost()
    print(f"per 100,000-customer chunk: digest {1e3 * d:.0f} ms, basic table {1e3 * b:.0f} ms")


if __name__ == "__main__":
    main()
