#!/usr/bin/env bash
# personagen developer entry point: sets up .venv (once, and again when
# pyproject.toml changes), then runs the main job or the test suite.
#   ./dev.sh sample [personagen sample options]   sample customers with the shipped priors
#   ./dev.sh test [pytest options]                ruff, mypy and the test suite
#   ./dev.sh notebooks                            re-run the notebooks in place (committed outputs)
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

setup() {
    local stamp=.venv/.personagen-installed
    if [ ! -x .venv/bin/python ]; then
        "$PYTHON" -m venv .venv
    fi
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet -e ".[test]"
        touch "$stamp"
    fi
}

ensure_chromium() {
    # The report's browser test opens pages in Debian's headless Chromium.
    if command -v chromium >/dev/null 2>&1; then
        return
    fi
    local sudo=""
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo -n"
    if command -v apt-get >/dev/null 2>&1; then
        echo "installing Debian's chromium for the report's browser test ..." >&2
        $sudo apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
    else
        echo "note: no chromium and no apt-get: the report's browser test will be skipped" >&2
    fi
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
    sample)
        setup
        exec .venv/bin/personagen sample --n "${PERSONAGEN_N:-100000}" --out data --overwrite "$@"
        ;;
    test)
        setup
        ensure_chromium
        .venv/bin/ruff check .
        .venv/bin/ruff format --check .
        .venv/bin/mypy
        exec .venv/bin/python -m pytest -n 2 --dist loadscope "$@"
        ;;
    notebooks)
        # Re-run every notebook in place on realistic parameters (their defaults).
        setup
        for nb in notebooks/*.ipynb; do
            .venv/bin/papermill --cwd . "$nb" "$nb"
        done
        ;;
    *)
        echo "usage: ./dev.sh sample [options] | ./dev.sh test [pytest options] | ./dev.sh notebooks" >&2
        exit 2
        ;;
esac
