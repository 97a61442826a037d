#!/usr/bin/env bash
# Same seed, same data? Samples fixed seeds with an earlier revision and with the working
# tree and compares the files byte for byte (and the tables column by column).
#   benchmarks/compare_versions.sh [REV]     (default 4a5fdb5, before the 0.2 redesign)
# The earlier revision runs from a temporary git worktree with this checkout's .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${1:-4a5fdb5}
PY=.venv/bin/python
WORK=$(mktemp -d)
trap 'git worktree remove --force "$WORK/old" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
git worktree add --detach "$WORK/old" "$REV" >/dev/null 2>&1

run() {  # run NAME ROOT ARGS...: personagen from ROOT's model/ into $WORK/NAME
    local name=$1 root=$2
    shift 2
    (cd "$root" && PYTHONPATH="$root/model" "$OLDPWD/$PY" -m personagen sample \
        --out "$WORK/$name" -q --overwrite "$@" >/dev/null)
}
for side in old new; do
    root=$([ $side = old ] && echo "$WORK/old" || pwd)
    run "$side-enriched" "$root" --n 3000 --seed 11 --chunk-size 1000
    run "$side-basic" "$root" --n 20000 --seed 11 --basic-only
    run "$side-counts" "$root" --personas teenage_girl=500,budget_shopper=300 --seed 3
    run "$side-gb" "$root" --n 1500 --seed 2 --locale en_GB
done
status=0
for case in enriched basic counts gb; do
    for f in "$WORK/old-$case"/customer_sales_data_*.parquet; do
        name=$(basename "$f")
        if cmp -s "$f" "$WORK/new-$case/$name"; then
            echo "$case/$name: identical bytes"
        else
            echo "$case/$name: DIFFERENT"
            status=1
        fi
    done
done
exit $status
