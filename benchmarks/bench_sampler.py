"""Throughput of the JAX sampler alone (no Arrow, no Parquet), on JAX's default device.

Times ``iter_customer_chunks``: the jitted chunk sampler plus the copy of its
arrays to host memory, i.e. what the writer receives. Compilation is timed
separately (the first chunk). Runs on the CPU, or on a GPU where JAX has one
(``JAX_PLATFORMS=cuda``). Usage:

    python benchmarks/bench_sampler.py
    python benchmarks/bench_sampler.py --basic-chunks 100000 1000000 --enriched-chunks 10000 100000
"""

from __future__ import annotations

import argparse
import time

import jax

from personagen import load_config
from personagen.config import build_prior_arrays, build_structure
from personagen.sample import iter_customer_chunks, run_keys
from personagen.story import mean_population


def rate(
    priors, structure, pop, key, chunk: int, chunks: int, enriched: bool
) -> tuple[float, float]:
    """Return (compile-and-first-chunk seconds, customers/s over ``chunks`` further chunks)."""
    t0 = time.perf_counter()
    for _ in iter_customer_chunks(
        pop, priors, structure, key=key, n_customers=chunk, chunk_size=chunk, enriched=enriched
    ):
        pass
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in iter_customer_chunks(
        pop,
        priors,
        structure,
        key=key,
        n_customers=chunk * chunks,
        chunk_size=chunk,
        enriched=enriched,
        start=chunk,
    ):
        pass
    return first, chunk * chunks / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--basic-chunks", type=int, nargs="*", default=[100_000])
    parser.add_argument("--enriched-chunks", type=int, nargs="*", default=[10_000])
    parser.add_argument("--chunks", type=int, default=5, help="timed chunks per row")
    args = parser.parse_args()
    config = load_config()
    priors, structure = build_prior_arrays(config), build_structure(config)
    pop = mean_population(priors, structure)
    _, key = run_keys(0)
    print(
        f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), jax {jax.__version__}"
    )
    print(f"{'table':<9} {'chunk':>10} {'first chunk s':>14} {'customers/s':>14}")
    runs = [(c, False) for c in args.basic_chunks] + [(c, True) for c in args.enriched_chunks]
    for chunk, enriched in runs:
        first, cps = rate(priors, structure, pop, key, chunk, args.chunks, enriched)
        table = "enriched" if enriched else "basic"
        print(f"{table:<9} {chunk:>10,} {first:>14.1f} {cps:>14,.0f}", flush=True)


if __name__ == "__main__":
    main()
