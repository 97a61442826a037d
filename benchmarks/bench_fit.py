"""Fit time and memory of the ``weights`` mode against the number of customers.

Simulates customers with known weights (teenage_girl 0.25, woman_with_baby 0.02),
fits them, and prints seconds (simulation excluded, compilation included), the
largest absolute error of the posterior mean weights against the truth, and peak
RSS. Each row runs in a fresh process. Usage:

    python benchmarks/bench_fit.py                       # NUTS 2,000 and 20,000; SVI 100,000
    python benchmarks/bench_fit.py --nuts 2000 --svi 100000 1000000   # 1M: subsampled SVI
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import os, sys
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
import json, resource, time
import jax, jax.numpy as jnp, numpy as np
from personagen import load_config
from personagen.checks import observations_from_chunks
from personagen.config import build_structure
from personagen.infer import fit_persona_weights, fit_priors
from personagen.sample import iter_customer_chunks, run_keys
from personagen.story import mean_population
n, method = int(sys.argv[1]), sys.argv[2]
priors, structure = fit_priors(load_config()), build_structure(load_config())
w = np.array(priors.weights, dtype=np.float64); w[0], w[4] = 0.25, 0.02
rest = [i for i in range(len(w)) if i not in (0, 4)]; w[rest] *= 0.73 / w[rest].sum()
pop = mean_population(priors, structure)._replace(persona_weights=jnp.asarray(w, jnp.float32))
_, key = run_keys(2024)
chunks = list(iter_customer_chunks(pop, priors, structure, key=key, n_customers=n,
                                   chunk_size=min(n, 50_000), enriched=False))
obs = observations_from_chunks(chunks)
t0 = time.perf_counter()
fit = fit_persona_weights(priors, structure, obs, key=jax.random.key(0), method=method)
dt = time.perf_counter() - t0
err = float(np.abs(fit.draws["persona_weights"].reshape(-1, len(w)).mean(0) - w).max())
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"n": n, "method": method, "seconds": dt, "max_abs_error": err,
                  "peak_rss_mb": rss}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nuts", type=int, nargs="*", default=[2_000, 20_000])
    parser.add_argument("--svi", type=int, nargs="*", default=[100_000])
    args = parser.parse_args()
    print(f"{'method':<6} {'N':>9} {'seconds':>8} {'max |error|':>12} {'peak RSS MB':>12}")
    for method, sizes in (("nuts", args.nuts), ("svi", args.svi)):
        for n in sizes:
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, str(n), method],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(
                f"{r['method']:<6} {r['n']:>9,} {r['seconds']:>8.1f} {r['max_abs_error']:>12.4f} "
                f"{r['peak_rss_mb']:>12.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
