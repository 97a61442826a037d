"""Throughput and peak memory of ``personagen sample --transactions`` (Parquet).

Each size runs in a fresh subprocess so its peak RSS is its own; compilation is
excluded by a warm-up run of one chunk in the same process. Besides the end-to-end
figures it times the stages of one 10,000-customer chunk on their own (the JAX
sampler, the line-item expansion, the Arrow batch, the Parquet encoding), which
says where the time goes. Usage:

    python benchmarks/bench_transactions.py               # 10,000 and 100,000 customers
    python benchmarks/bench_transactions.py --n 1000000   # other sizes

Like ``personagen sample --transactions``, each run caps glibc's malloc arenas first
(``personagen._malloc``); without the cap the peak memory grows with the run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
from personagen._malloc import limit_malloc_arenas
limit_malloc_arenas()  # as the CLI does for sample --transactions
import json, resource, sys, time, pathlib, tempfile
import jax
import pyarrow.parquet as pq
from personagen import load_config
from personagen.sample import SampleRequest, sample_to_files
n = int(sys.argv[1])
config = load_config()
out = pathlib.Path(tempfile.mkdtemp())
t0 = time.perf_counter()
sample_to_files(config, SampleRequest(out_dir=out / "warm", n_customers=10_000, seed=1,
                basic_only=True, transactions=True))
warm = time.perf_counter() - t0
t0 = time.perf_counter()
summary = sample_to_files(config, SampleRequest(out_dir=out / "run", n_customers=n, seed=2,
                          basic_only=True, transactions=True))
dt = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
size = (out / "run" / "transactions.parquet").stat().st_size
print(json.dumps({"n": n, "lines": summary.n_lines, "orders": summary.n_orders,
                  "seconds": dt, "customers_per_s": n / dt, "lines_per_s": summary.n_lines / dt,
                  "transactions_mb": size / 1e6, "peak_rss_mb": rss, "warmup_s": warm,
                  "device": jax.devices()[0].device_kind}))
"""

STAGES = r"""
import io, json, time
import jax, numpy as np, pyarrow.parquet as pq
from personagen import load_config
from personagen.config import build_prior_arrays, build_structure, build_timing
from personagen.sample import iter_customer_chunks, run_keys
from personagen.sample._baskets import draw_line_items
from personagen.sample._counter_rng import key_word
from personagen.sample._transaction_table import transactions_batch
from personagen.story import mean_population
config = load_config()
priors, structure = build_prior_arrays(config), build_structure(config)
pop, timing = mean_population(priors, structure), build_timing(config)
_, key = run_keys(3)
word = key_word(np.asarray(jax.random.key_data(jax.random.fold_in(key, 3))))
profile = np.asarray(pop.department_profile)
as_of = int(np.datetime64("2026-01-01", "D").astype(np.int64))
def chunk(seed):
    return next(iter_customer_chunks(pop, priors, structure, key=jax.random.key(seed),
                n_customers=10_000, chunk_size=10_000, enriched=True))
chunk(0)  # compile
times = {}
t = time.perf_counter(); c = chunk(1); times["sample_enriched_s"] = time.perf_counter() - t
t = time.perf_counter()
lines = draw_line_items(c, structure, timing, profile, as_of_day=as_of, word=word)
times["expand_s"] = time.perf_counter() - t
t = time.perf_counter()
batch = transactions_batch(lines, c.core["customer_index"], config.hierarchy)
times["arrow_batch_s"] = time.perf_counter() - t
t = time.perf_counter()
with pq.ParquetWriter(io.BytesIO(), batch.schema, compression="snappy") as w:
    w.write_batch(batch)
times["parquet_s"] = time.perf_counter() - t
times["lines"] = len(lines)
print(json.dumps(times))
"""


def _child(code: str, *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    stages = _child(STAGES)
    print(f"one 10,000-customer chunk, {stages['lines']:,} line items, stage by stage:")
    for name in ("sample_enriched_s", "expand_s", "arrow_batch_s", "parquet_s"):
        rate = stages["lines"] / stages[name]
        print(f"  {name:<18} {stages[name]:7.2f} s  ({rate:>12,.0f} lines/s)")
    print(
        f"{'customers':>10} {'lines':>12} {'s':>7} {'customers/s':>12} {'lines/s':>12}"
        f" {'MB':>7} {'peak RSS MB':>12}"
    )
    for n in args.n:
        r = _child(CHILD, str(n))
        print(
            f"{r['n']:>10,} {r['lines']:>12,} {r['seconds']:>7.1f} {r['customers_per_s']:>12,.0f}"
            f" {r['lines_per_s']:>12,.0f} {r['transactions_mb']:>7.0f} {r['peak_rss_mb']:>12,.0f}"
        )


if __name__ == "__main__":
    main()
