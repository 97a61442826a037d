"""The persistent compilation cache: used when present, harmless when broken, same data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT

#: Run in a fresh interpreter: counts JAX's compile requests and persistent-cache hits
#: (jax.monitoring events) around one personagen command, and prints them as JSON.
SCRIPT = """
import json, sys
import jax.monitoring
counts = {"requests": 0, "hits": 0, "misses": 0}
names = {
    "/jax/compilation_cache/compile_requests_use_cache": "requests",
    "/jax/compilation_cache/cache_hits": "hits",
    "/jax/compilation_cache/cache_misses": "misses",
}
def listen(event, **kwargs):
    if event in names:
        counts[names[event]] += 1
jax.monitoring.register_event_listener(listen)
from personagen.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, **counts}))
"""


def run(args: list[str], cache: Path | str, tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    env.pop("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", None)
    env["PERSONAGEN_CACHE_DIR"] = str(cache)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["stderr"] = proc.stderr
    return result


def sample_args(out: Path) -> list[str]:
    # the legacy 3-department configuration: its sampler compiles in a few seconds, and
    # what is cached (and how a broken cache is handled) does not depend on the config
    legacy = ["--priors", "priors/legacy.yml", "--hierarchy", "priors/legacy_hierarchy.yml"]
    return ["sample", "--n", "60", "--out", str(out), "--basic-only", "-q", "--seed", "5", *legacy]


def test_a_second_run_compiles_nothing_and_writes_the_same_bytes(tmp_path):
    cache = tmp_path / "cache"
    first = run(sample_args(tmp_path / "a"), cache, tmp_path)
    assert first["code"] == 0 and first["requests"] > 0 and first["hits"] == 0
    entries = list(cache.rglob("*-cache"))
    assert entries, "the first run wrote no cache entry"
    # one subdirectory per personagen, jax and jaxlib version and backend
    (key,) = {p.relative_to(cache).parts[0] for p in entries}
    assert key.startswith("personagen-") and "_jax-" in key and key.endswith("_cpu")
    second = run(sample_args(tmp_path / "b"), cache, tmp_path)
    assert second["requests"] == first["requests"]
    assert second["hits"] == second["requests"]  # every compilation loaded from disk
    assert second["misses"] == 0  # and nothing new written
    off = run(sample_args(tmp_path / "c"), "off", tmp_path)
    assert off["hits"] == off["misses"] == 0  # PERSONAGEN_CACHE_DIR=off: no cache at all
    name = "customer_sales_data_basic.parquet"
    data = [(tmp_path / d / name).read_bytes() for d in "abc"]
    assert data[0] == data[1] == data[2]


def test_a_cache_full_of_garbage_does_not_break_a_run(tmp_path):
    cache = tmp_path / "cache"
    first = run(sample_args(tmp_path / "a"), cache, tmp_path)
    entries = list(cache.rglob("*-cache"))
    for entry in entries[::2]:  # garbage in half of them, a truncated file in the rest
        entry.write_bytes(b"not an executable" * 10)
    for entry in entries[1::2]:
        entry.write_bytes(entry.read_bytes()[:100])
    old = time.time() - 3_600  # entries younger than FRESH_SECONDS wait for the next check
    for entry in entries:
        os.utime(entry, (old, old))
    again = run(sample_args(tmp_path / "b"), cache, tmp_path)
    assert again["code"] == 0 and again["hits"] == 0  # every entry compiled again
    assert again["stderr"].count("compilation cache: removed") == 1
    assert f"removed {len(entries)} unreadable entries" in again["stderr"]
    assert "Traceback" not in again["stderr"]
    name = "customer_sales_data_basic.parquet"
    assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # the bad entries were replaced: a third run loads everything, and says nothing
    third = run(sample_args(tmp_path / "c"), cache, tmp_path)
    assert third["hits"] == third["requests"] == first["requests"]
    assert "compilation cache" not in third["stderr"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to a read-only directory anyway")
def test_an_unwritable_cache_directory_is_one_warning_not_an_error(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o500)
    try:
        result = run(sample_args(tmp_path / "a"), cache, tmp_path)
    finally:
        cache.chmod(0o700)
    assert result["code"] == 0 and result["hits"] == result["misses"] == 0
    assert result["stderr"].count("compilation cache off: cannot write to") == 1


def test_a_cache_path_that_is_a_file_is_one_warning_not_an_error(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file, not a directory")
    result = run(sample_args(tmp_path / "a"), blocker, tmp_path)
    assert result["code"] == 0 and result["hits"] == result["misses"] == 0
    assert result["stderr"].count("compilation cache off: cannot write to") == 1
    assert (tmp_path / "a" / "customer_sales_data_basic.parquet").is_file()


def test_the_no_cache_flag_and_jaxs_own_setting_win(tmp_path):
    result = run([*sample_args(tmp_path / "a"), "--no-cache"], tmp_path / "cache", tmp_path)
    assert result["hits"] == result["misses"] == 0 and not (tmp_path / "cache").exists()
    from personagen._compilation_cache import cache_directory, use_compilation_cache

    assert cache_directory("off") is None
    assert cache_directory(tmp_path).parent == tmp_path
    # this test process has JAX's own JAX_COMPILATION_CACHE_DIR (conftest): it is kept
    assert use_compilation_cache(tmp_path / "ignored") == Path(
        os.environ["JAX_COMPILATION_CACHE_DIR"]
    )
    assert not (tmp_path / "ignored").exists()
