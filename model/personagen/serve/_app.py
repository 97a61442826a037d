"""The HTTP service: FastAPI routes over one fitted model.

Routes: ``POST /v1/assign``, ``POST /v1/sample``, ``GET /v1/model``, ``GET /healthz``
(alive), ``GET /readyz`` (ready once every compiled function is), and FastAPI's
``/docs`` and ``/openapi.json``. With a token every route but the two health checks
needs ``Authorization: Bearer <token>`` (compared in constant time). Bad input is a
4xx answer naming the field and rows, with the messages of the command line's errors;
bodies larger than the limit are refused before they are read whole.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import io
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal

import pyarrow.parquet as pq
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from personagen.errors import ConfigError, DataError, ParameterError
from personagen.sample import DEFAULT_AS_OF
from personagen.serve._bodies import BodyError, customers_frame
from personagen.serve._engine import Service, assign_records, model_info, sample_rows, warm_up

__all__ = ["MAX_BODY_BYTES", "SampleBody", "create_app"]

#: Largest request body read (bytes): about 20,000 customers of the basic schema as JSON.
MAX_BODY_BYTES = 32 * 1024 * 1024
OPEN_PATHS = ("/healthz", "/readyz")


class SampleBody(BaseModel):
    """``POST /v1/sample``: how many look-alike customers, from which seed, in what form.

    Attributes
    ----------
    n_customers : int, optional
        Customers to draw (or give ``persona_counts``).
    persona_counts : dict of str to int, optional
        Exact customers per persona.
    seed : int
        The run seed (the same rows as ``personagen sample --posterior --seed``).
    table : {"basic", "enriched"}
        Which table's rows.
    format : {"jsonl", "parquet"}
        JSON lines (one customer a line) or a Parquet file.
    locale : str
        Locale of the enriched table's fake profiles.
    as_of : datetime.date
        The date the data describe.
    """

    model_config = ConfigDict(extra="forbid")
    n_customers: int | None = Field(default=None, ge=1)
    persona_counts: dict[str, int] | None = None
    seed: int = Field(default=0, ge=0, lt=2**32)
    table: Literal["basic", "enriched"] = "basic"
    format: Literal["jsonl", "parquet"] = "jsonl"
    locale: str = "en_US"
    as_of: dt.date = DEFAULT_AS_OF


def _problems(exc: ConfigError | DataError | ParameterError) -> list[str]:
    return [str(p) for p in exc.problems]


async def _read_body(request: Request, limit: int) -> bytes:
    """Read at most ``limit`` bytes of a streamed body.

    A declared ``Content-Length`` over the limit is refused unread by the ``guard`` middleware.
    """
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise BodyError(413, f"body is over the limit of {limit:,} bytes")
    return bytes(body)


def _rows(service: Service, n: int, what: str) -> None:
    if n > service.max_batch:
        raise BodyError(413, f"{n:,} {what} in one request; the limit is {service.max_batch:,}")


def create_app(
    service: Service, *, token: str | None = None, max_body_bytes: int = MAX_BODY_BYTES
) -> FastAPI:
    """Return the FastAPI application of a fitted model.

    Parameters
    ----------
    service : Service
        The fitted model and its limits (:func:`personagen.serve.make_service`).
    token : str, optional
        Bearer token every route but the health checks requires.
    max_body_bytes : int
        Largest request body read.
    """
    ready = threading.Event()
    failure: list[BaseException] = []

    def compile_all() -> None:
        try:
            warm_up(service)
        except BaseException as exc:  # reported by /readyz, never a crash
            failure.append(exc)
        finally:
            ready.set()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # compile in the background: /healthz answers at once, /readyz once compiled
        threading.Thread(target=compile_all, name="personagen-warm-up", daemon=True).start()
        yield

    app = FastAPI(
        title="personagen persona service",
        version=model_info(service)["personagen_version"],
        description="Persona memberships and look-alike customers from a fitted posterior.",
        lifespan=lifespan,
    )

    @app.exception_handler(BodyError)
    async def body_error(_: Request, exc: BodyError) -> JSONResponse:
        return JSONResponse({"detail": [exc.message]}, status_code=exc.status)

    async def input_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ConfigError | DataError | ParameterError)
        return JSONResponse({"detail": _problems(exc)}, status_code=422)

    for kind in (ConfigError, DataError, ParameterError):
        app.add_exception_handler(kind, input_error)

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if token is not None and request.url.path not in OPEN_PATHS:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return JSONResponse(
                    {"detail": ["missing or wrong bearer token"]},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        if request.url.path.startswith("/v1/") and not ready.is_set():
            return JSONResponse({"detail": ["warming up: compiling; retry shortly"]}, 503)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_body_bytes:  # every route, unread
            message = f"body of {int(declared):,} bytes is over the limit of {max_body_bytes:,}"
            return JSONResponse({"detail": [message]}, status_code=413)
        return await call_next(request)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Say that the service is alive."""
        return {"status": "alive"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Say whether the assignment and sampling functions are compiled."""
        if failure:
            return JSONResponse({"status": "failed", "detail": [repr(failure[0])]}, 500)
        if not ready.is_set():
            return JSONResponse({"status": "compiling"}, 503)
        return JSONResponse({"status": "ready"})

    @app.get("/v1/model")
    def model() -> dict[str, Any]:
        """Return the personas, their weights with 90% intervals, mode and config hash."""
        return model_info(service)

    @app.post("/v1/assign")
    async def assign(request: Request) -> JSONResponse:
        """Return persona probabilities (with 90% intervals) of customers (basic schema).

        Body: JSON records (``[{...}, ...]`` or ``{"customers": [...]}``), or a CSV
        (``text/csv``) or Parquet (``application/vnd.apache.parquet``) table.
        """
        body = await _read_body(request, max_body_bytes)
        table = customers_frame(body, request.headers.get("content-type", ""))
        _rows(service, len(table), "customers")
        # the work runs in a worker thread: the event loop (and /healthz) stays responsive
        answer = await run_in_threadpool(assign_records, service, table)
        return JSONResponse({"customers": answer})

    @app.post("/v1/sample")
    def sample(spec: SampleBody) -> Response:  # plain def: FastAPI runs it in a thread
        """Return look-alike customers: the rows ``personagen sample --posterior`` writes."""
        if spec.persona_counts is None and spec.n_customers is None:
            raise BodyError(422, "n_customers: give a number of customers or persona_counts")
        n = sum(spec.persona_counts.values()) if spec.persona_counts else spec.n_customers
        _rows(service, int(n or 0), "customers")
        rows = sample_rows(
            service,
            n_customers=spec.n_customers,
            persona_counts=spec.persona_counts,
            seed=spec.seed,
            table=spec.table,
            locale=spec.locale,
            as_of=spec.as_of,
        )
        if spec.format == "parquet":
            buffer = io.BytesIO()
            pq.write_table(rows, buffer)
            return Response(buffer.getvalue(), media_type="application/vnd.apache.parquet")
        lines = rows.to_pandas().to_json(orient="records", lines=True, date_format="iso")
        return Response(lines, media_type="application/x-ndjson")

    return app
