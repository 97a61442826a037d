#!/usr/bin/env bash
# Check and time personagen on a GPU (docs/sampling.md, "GPU"; docs/benchmarks.md).
#
# Needs personagen installed with a CUDA jaxlib (pip install -e ".[cuda13]") and the test
# extras. Runs from the repository root:
#   1. the sampling tests on the GPU (exact invariants, chunk-size invariance, same seed
#      same bytes, sampler laws);
#   2. the sampler alone (benchmarks/bench_sampler.py);
#   3. end to end to Parquet with two host cores (taskset), the budget of the targets;
#   4. line items (--transactions): their tests (exact roll-up, chunk invariance, the
#      calendar and baskets) with the customers drawn on the GPU, and their throughput.
# PYTHON picks the interpreter (default .venv/bin/python, else python3); OUT, if set, gets
# the logs.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
OUT=${OUT:-$(mktemp -d)}
export JAX_PLATFORMS=${JAX_PLATFORMS:-cuda}
# several test workers share the GPU: allocate on demand, not 75% each
export XLA_PYTHON_CLIENT_PREALLOCATE=false
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-$PWD/.jax_cache}
status=0

echo "== tests on $JAX_PLATFORMS"
# -p no:benchmark: a pytest-benchmark plugin, where installed, warns under xdist, and the
# suite turns warnings into errors.
"$PYTHON" -m pytest -q -n 4 -p no:benchmark tests/sample/test_sample.py tests/story/test_samplers.py \
    tests/story/test_model.py 2>&1 | tee "$OUT/pytest.txt" | tail -15 || status=1

echo "== sampler alone"
"$PYTHON" benchmarks/bench_sampler.py --basic-chunks 100000 1000000 \
    --enriched-chunks 10000 50000 --chunks 5 2>&1 | tee "$OUT/bench_sampler.txt" || status=1

echo "== end to end, two host cores"
taskset -c 0,1 "$PYTHON" benchmarks/bench_sample.py --basic 2000000 --enriched 200000 \
    --repeat 3 2>&1 | tee "$OUT/bench_sample.txt" || status=1
echo "== line items: tests and throughput, customers drawn on the GPU"
"$PYTHON" -m pytest -q -n 2 -p no:benchmark tests/sample/test_transactions.py \
    tests/sample/test_missions.py 2>&1 | tee "$OUT/pytest_transactions.txt" | tail -15 || status=1
taskset -c 0,1 "$PYTHON" benchmarks/bench_transactions.py --n 10000 100000 2>&1 \
    | tee "$OUT/bench_transactions.txt" || status=1
echo "logs in $OUT"
exit $status
