"""The persona service: memberships and look-alike customers over HTTP (``personagen serve``).

Needs the optional extra ``personagen[serve]`` (FastAPI and uvicorn). The service
answers from one fitted model with the numbers the command line writes
(``docs/serve.md``).
"""

from personagen.serve._app import MAX_BODY_BYTES, SampleBody, create_app
from personagen.serve._engine import (
    Service,
    assign_records,
    make_service,
    model_info,
    sample_rows,
    warm_up,
)

__all__ = [
    "MAX_BODY_BYTES",
    "SampleBody",
    "Service",
    "assign_records",
    "create_app",
    "make_service",
    "model_info",
    "sample_rows",
    "warm_up",
]
