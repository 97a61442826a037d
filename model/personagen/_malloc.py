"""Keep glibc's malloc from fragmenting memory across the line-item threads.

glibc gives each new thread that contends for the heap an arena of its own (up to
eight per core) and rarely hands an arena's freed pages back: the hundreds of
megabytes of temporary arrays that the transactions' threads allocate and free per
part then pile up as resident memory that grows with the run (1.4 GB at 100,000
customers, 1.9 GB at 300,000; docs/benchmarks.md). One arena keeps the peak flat in N
(1.2 GB at 300,000 customers and 41 million line items) and costs no speed there,
because NumPy allocates few, large blocks. It must be set before NumPy starts its BLAS
threads, so ``personagen sample --transactions`` sets it when the CLI is imported;
library users with long runs can set ``MALLOC_ARENA_MAX=1`` in the environment.
Elsewhere (macOS, musl, Windows) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["limit_malloc_arenas"]

_M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def limit_malloc_arenas(arenas: int = 1) -> bool:
    """Cap glibc's malloc arenas for threads created from now on; return whether it did."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_ARENA_MAX, arenas))
