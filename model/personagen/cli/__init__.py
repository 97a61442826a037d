"""Command-line interface: parsing and printing only, delegating to the library.

``personagen validate``, ``sample``, ``fit``, ``assign`` and ``hierarchy parse``
(:mod:`._parser` defines the flags, :mod:`._commands` the commands). Bad input
(:class:`~personagen.errors.ConfigError`, :class:`~personagen.errors.DataError`,
:class:`~personagen.errors.ParameterError`, the last printed with the flags that
set its parameters) prints the problems on stderr and exits with code 2,
without a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable

from personagen._malloc import limit_malloc_arenas

# ``personagen sample --transactions``: before NumPy and its BLAS threads start, so
# that the line-item threads share one malloc arena (flat peak memory, _malloc.py);
# other commands, and the library, keep glibc's default
if "sample" in sys.argv[1:2] and "--transactions" in sys.argv:
    limit_malloc_arenas()

from personagen._compilation_cache import CACHE_ENV, disable_compilation_cache
from personagen.cli._parser import FLAGS, build_parser
from personagen.errors import ConfigError, DataError, ParameterError

__all__ = ["build_parser", "main"]


def _one_device_per_core() -> None:
    """One XLA CPU device per core, for parallel NUTS chains (before jax is imported)."""
    if "jax" in sys.modules:
        return
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        count = max(1, min(os.cpu_count() or 1, 8))
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={count}".strip()


def main(argv: list[str] | None = None) -> int:
    """Run the ``personagen`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 2 on bad input (problems printed on stderr).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    _one_device_per_core()
    if getattr(args, "no_cache", False):
        disable_compilation_cache()
    elif getattr(args, "cache_dir", None) is not None:
        os.environ[CACHE_ENV] = str(args.cache_dir)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (ConfigError, DataError, ParameterError) as exc:
        sys.stderr.write(f"error: {exc.render(FLAGS)}\n")
        return 2
