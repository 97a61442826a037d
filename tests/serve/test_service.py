"""The persona service, started as a user starts it: a real uvicorn server on a localhost port."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pandas as pd
import pytest

from personagen import load_config
from personagen.cli import main

from tests.helpers import ROOT, dominant_weights, fake_fit, write_posterior

TOKEN = "s3cret-token"
#: The server compiles its functions at start-up; a cold compilation cache takes ~30 s.
READY_TIMEOUT_S = 240
MAX_BATCH = 500


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Customers sampled by the CLI, and the posterior.nc of a fake fit to them."""
    root = tmp_path_factory.mktemp("serve")
    assert main(["sample", "--n", "300", "--out", str(root / "data"), "--basic-only", "-q"]) == 0
    customers = root / "data" / "customer_sales_data_basic.parquet"
    write_posterior(fake_fit(load_config(), dominant_weights()), customers, root / "posterior.nc")
    (root / "token").write_text(TOKEN + "\n")
    return root, customers


@pytest.fixture(scope="module")
def server(files):
    root, _ = files
    port = free_port()
    args = ["serve", "--posterior", str(root / "posterior.nc"), "--port", str(port)]
    args += ["--token-file", str(root / "token"), "--max-batch", str(MAX_BATCH)]
    log = root / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "personagen", *args],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not get ready"
            time.sleep(0.5)
        yield url
        # every bad request was answered: the server is alive and logged no traceback
        assert proc.poll() is None
        assert "Traceback" not in log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class client:
    """One request at a time with the token (httpx's functional API closes each connection)."""

    def __init__(self, url: str, token: str | None = TOKEN):
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, **kwargs) -> httpx.Response:
        return httpx.get(self.url + path, headers=self.headers, timeout=60, **kwargs)

    def post(self, path: str, headers: dict | None = None, **kwargs) -> httpx.Response:
        merged = {**self.headers, **(headers or {})}
        return httpx.post(self.url + path, headers=merged, timeout=60, **kwargs)


def records(table: pd.DataFrame) -> list[dict]:
    return json.loads(table.to_json(orient="records", date_format="iso"))


def test_health_is_open_and_everything_else_needs_the_token(server):
    assert httpx.get(f"{server}/healthz").json() == {"status": "alive"}
    assert httpx.get(f"{server}/readyz").json() == {"status": "ready"}
    for path in ("/v1/model", "/docs", "/openapi.json"):
        assert client(server, token=None).get(path).status_code == 401
        assert client(server, token="wrong").get(path).status_code == 401
        assert client(server).get(path).status_code == 200
    assert client(server, token=None).post("/v1/assign", json=[]).status_code == 401


def test_model_info(server):
    info = client(server).get("/v1/model").json()
    names = [p["name"] for p in info["personas"]]
    assert names == list(load_config().persona_names)
    girl = info["personas"][0]
    assert girl["interval_90"][0] < girl["weight"] < girl["interval_90"][1]
    assert abs(girl["weight"] - 0.5) < 0.02  # the fake posterior's draws scatter by 1%
    assert info["mode"] == "weights" and info["config_hash"] == load_config().config_hash()


def cli_assign(files, tmp_path) -> pd.DataFrame:
    root, customers = files
    out = tmp_path / "assigned.csv"
    assert main(["assign", str(customers), "--posterior", str(root / "posterior.nc"),
                 "--out", str(out)]) == 0  # fmt: skip
    return pd.read_csv(out)


@pytest.mark.parametrize("body", ["json", "csv", "parquet"])
def test_assign_equals_the_cli_exactly(server, files, tmp_path, body):
    _, customers = files
    table = pd.read_parquet(customers)
    if body == "json":
        answer = client(server).post("/v1/assign", json=records(table))
    else:
        buffer = io.BytesIO()
        if body == "csv":
            table.to_csv(buffer, index=False)
        else:
            table.to_parquet(buffer)
        kind = "text/csv" if body == "csv" else "application/vnd.apache.parquet"
        answer = client(server).post(
            "/v1/assign", content=buffer.getvalue(), headers={"content-type": kind}
        )
    assert answer.status_code == 200, answer.text
    got = answer.json()["customers"]
    want = cli_assign(files, tmp_path)
    names = list(load_config().persona_names)
    assert [c["customer_id"] for c in got] == want["customer_id"].tolist()
    assert [c["most_likely_persona"] for c in got] == want["most_likely_persona"].tolist()
    for column, pick in (
        ("p_", lambda c, n: c["probabilities"][n]),
        ("q05_", lambda c, n: c["interval_90"][n][0]),
        ("q95_", lambda c, n: c["interval_90"][n][1]),
    ):
        served = np.array([[pick(c, n) for n in names] for c in got], np.float32)
        written = want[[f"{column}{n}" for n in names]].to_numpy(np.float32)
        assert np.array_equal(served, written), column


def test_one_customer_gets_the_same_numbers_as_in_a_batch(server, files, tmp_path):
    _, customers = files
    table = pd.read_parquet(customers)
    one = client(server).post("/v1/assign", json=records(table.iloc[[7]])).json()["customers"]
    want = cli_assign(files, tmp_path).iloc[7]
    names = list(load_config().persona_names)
    assert [np.float32(one[0]["probabilities"][n]) for n in names] == [
        np.float32(want[f"p_{n}"]) for n in names
    ]


@pytest.mark.parametrize(
    ("spec", "table", "fmt"),
    [({"n_customers": 450}, "basic", "jsonl"), ({"n_customers": 120}, "enriched", "parquet"),
     ({"persona_counts": {"teenage_boy": 40, "mature_shopper": 25}}, "basic", "parquet")],
)  # fmt: skip
def test_sample_equals_the_cli_exactly(server, files, tmp_path, spec, table, fmt):
    root, _ = files
    answer = client(server).post(
        "/v1/sample", json={**spec, "seed": 11, "table": table, "format": fmt}
    )
    assert answer.status_code == 200, answer.text
    if fmt == "parquet":
        got = pd.read_parquet(io.BytesIO(answer.content))
    else:
        got = pd.read_json(io.StringIO(answer.text), lines=True, dtype=False)
    out = tmp_path / "look"
    args = ["sample", "--out", str(out), "--posterior", str(root / "posterior.nc"), "-q"]
    args += ["--seed", "11"] + (["--basic-only"] if table == "basic" else [])
    if "persona_counts" in spec:
        args += ["--personas", ",".join(f"{k}={v}" for k, v in spec["persona_counts"].items())]
    else:
        args += ["--n", str(spec["n_customers"])]
    assert main(args) == 0
    want = pd.read_parquet(out / f"customer_sales_data_{table}.parquet")
    if fmt == "jsonl":  # JSON has no date or int32 types: compare as text and numbers
        got["signup_date"] = pd.to_datetime(got["signup_date"]).dt.date
        got = got.astype(want.dtypes.to_dict())
    pd.testing.assert_frame_equal(got, want)


def test_bad_customers_are_a_4xx_naming_the_field_and_row(server, files):
    _, customers = files
    table = pd.read_parquet(customers).head(5)
    c = client(server)
    missing = records(table.rename(columns={"total_revenue": "total_revenu"}))
    answer = c.post("/v1/assign", json=missing)
    assert answer.status_code == 422
    assert "total_revenue: missing column; did you mean 'total_revenu'?" in answer.text
    negative = records(table)
    negative[3]["recency_days"] = -2
    negative[1]["total_purchases"] = "many"
    answer = c.post("/v1/assign", json=negative)
    assert answer.status_code == 422
    assert "recency_days: negative values at row 3 (C0000000003)" in answer.text
    assert "total_purchases: non-numeric" in answer.text and "row 1 (C0000000001)" in answer.text
    assert c.post("/v1/assign", content=b"{oops", headers={"content-type": "application/json"})\
        .status_code == 400  # fmt: skip
    assert c.post("/v1/assign", content=b"a,b\n1,2", headers={"content-type": "text/plain"})\
        .status_code == 415  # fmt: skip
    assert c.post("/v1/assign", json={"not": "a list"}).status_code == 422
    assert c.post("/v1/assign", json=[]).status_code == 422
    garbage = c.post("/v1/assign", content=b"PAR1garbage",
                     headers={"content-type": "application/vnd.apache.parquet"})  # fmt: skip
    assert garbage.status_code == 400


def test_limits_are_a_413_before_the_work(server, files):
    _, customers = files
    c = client(server)
    big = pd.concat([pd.read_parquet(customers)] * 2, ignore_index=True)  # 600 > MAX_BATCH
    big["customer_id"] = [f"X{i}" for i in range(len(big))]
    answer = c.post("/v1/assign", json=records(big))
    assert answer.status_code == 413 and "limit is 500" in answer.text
    assert c.post("/v1/sample", json={"n_customers": MAX_BATCH + 1}).status_code == 413
    huge = b"[" + b" " * (40 * 1024 * 1024) + b"]"  # over the 32 MiB body limit
    answer = c.post("/v1/assign", content=huge, headers={"content-type": "application/json"})
    assert answer.status_code == 413 and "over the limit" in answer.text


def test_bad_sample_requests_name_the_field(server):
    c = client(server)
    answer = c.post("/v1/sample", json={"persona_counts": {"teenage_gril": 3}})
    assert answer.status_code == 422 and "did you mean 'teenage_girl'" in answer.text
    assert c.post("/v1/sample", json={"n_customers": 5, "colour": "red"}).status_code == 422
    assert c.post("/v1/sample", json={"n_customers": 0}).status_code == 422
    assert c.post("/v1/sample", json={}).status_code == 422
    assert c.post("/v1/sample", json={"n_customers": 5, "locale": "fr_FR"}).status_code == 422
    assert httpx.get(f"{server}/healthz").status_code == 200  # and the server is still up


def test_concurrent_clients_get_consistent_answers(server, files):
    _, customers = files
    body = records(pd.read_parquet(customers).head(50))

    def ask(_: int) -> str:
        return client(server).post("/v1/assign", json=body).text

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(16)))
    assert len(set(answers)) == 1 and '"customers"' in answers[0]


def test_the_service_binds_to_localhost_by_default():
    from personagen.cli import build_parser

    args = build_parser().parse_args(["serve", "--posterior", "p.nc"])
    assert args.host == "127.0.0.1" and args.port == 8000 and args.token_file is None


def test_serve_refuses_a_missing_posterior_and_an_empty_token(tmp_path, capsys):
    assert main(["serve", "--posterior", str(tmp_path / "none.nc")]) == 2
    assert "none.nc" in capsys.readouterr().err
    empty = tmp_path / "token"
    empty.write_text("\n")
    assert main(["serve", "--posterior", str(tmp_path / "x.nc"), "--token-file", str(empty)]) == 2
    assert "the token file is empty" in capsys.readouterr().err


def test_the_openapi_schema_lists_the_routes(server):
    paths = set(client(server).get("/openapi.json").json()["paths"])
    assert {"/v1/assign", "/v1/sample", "/v1/model", "/healthz", "/readyz"} <= paths
