"""Latency and throughput of ``personagen serve`` on this machine.

Samples customers, fits the weights mode to them (short chains), starts the service on a
free localhost port and measures: one customer per request (p50/p99 over 300 requests),
batches of 1,000 (p50/p99 over 30 requests), and customers/s with 8 concurrent clients
sending batches of 1,000 for 20 s.

    python benchmarks/bench_serve.py
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def personagen(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "personagen", *args],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentiles(seconds: list[float]) -> str:
    ms = np.asarray(seconds) * 1e3
    return f"p50 {np.percentile(ms, 50):.1f} ms, p99 {np.percentile(ms, 99):.1f} ms"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        personagen("sample", "--n", "5000", "--out", str(root / "data"), "--basic-only", "-q")
        table = root / "data" / "customer_sales_data_basic.parquet"
        personagen(
            "fit",
            str(table),
            "--out",
            str(root / "fit"),
            "-q",
            "--num-warmup",
            "200",
            "--num-samples",
            "200",
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "personagen",
                "serve",
                "--posterior",
                str(root / "fit" / "posterior.nc"),
                "--port",
                str(port),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                try:
                    if httpx.get(f"{url}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            print(f"start-up to ready: {time.perf_counter() - t0:.1f} s")
            customers = json.loads(pd.read_parquet(table).to_json(orient="records"))
            with httpx.Client(base_url=url, timeout=60) as c:
                one = []
                for i in range(300):
                    t = time.perf_counter()
                    c.post("/v1/assign", json=[customers[i]]).raise_for_status()
                    one.append(time.perf_counter() - t)
                print(f"one customer: {percentiles(one)}")
                batch = []
                for i in range(30):
                    part = customers[(i % 5) * 1000 : (i % 5 + 1) * 1000]
                    t = time.perf_counter()
                    c.post("/v1/assign", json=part).raise_for_status()
                    batch.append(time.perf_counter() - t)
                print(
                    f"batches of 1,000: {percentiles(batch)} "
                    f"({1000 / np.median(batch):,.0f} customers/s one client)"
                )

            def client(k: int) -> int:
                done, end = 0, time.perf_counter() + 20
                with httpx.Client(base_url=url, timeout=120) as c:
                    while time.perf_counter() < end:
                        part = customers[(k % 5) * 1000 : (k % 5 + 1) * 1000]
                        c.post("/v1/assign", json=part).raise_for_status()
                        done += len(part)
                return done

            t = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                total = sum(pool.map(client, range(8)))
            print(f"8 concurrent clients: {total / (time.perf_counter() - t):,.0f} customers/s")
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
