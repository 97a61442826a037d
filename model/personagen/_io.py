"""Atomic file output: write to a temporary name, rename when complete.

A killed run leaves at most a ``.<name>.<random>.tmp`` file behind, never a
file under the final name that looks complete. Existing files are never
replaced unless the caller says ``overwrite=True``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from personagen.errors import ParameterError, Problem

__all__ = ["atomic_path", "check_writable", "write_text_atomic"]

# The process umask, read once at import (reading it means setting it, which would race
# with the writer threads if done per file).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def check_writable(paths: list[Path], *, overwrite: bool) -> None:
    """Raise if any output exists and ``overwrite`` is false.

    Raises
    ------
    ParameterError
        Naming every existing output and the ``overwrite`` parameter.
    """
    if overwrite:
        return
    existing = [p for p in paths if p.exists()]
    if existing:
        raise ParameterError(
            [
                Problem("", "overwrite", f"{p} exists; it is replaced only if this is set")
                for p in existing
            ]
        )


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    final = Path(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    except OSError as exc:
        raise ParameterError(
            [Problem("", "out", f"cannot write {final} ({exc.strerror or exc})")]
        ) from None
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file normal permissions
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
