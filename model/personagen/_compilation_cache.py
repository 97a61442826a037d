"""JAX's persistent compilation cache, on by default, in the user's cache directory.

Compiling the sampler and the fits takes most of a small run's time (about 17 s of a
1,000-customer ``personagen sample`` on 2 cores); JAX can keep compiled executables on
disk and load them in the next process. personagen turns that on the first time one
of its functions is about to compile (:func:`use_compilation_cache`), unless:

* JAX's own cache setting is already given (``JAX_COMPILATION_CACHE_DIR`` or
  ``jax.config.update("jax_compilation_cache_dir", ...)``): that one is used as it is;
* ``PERSONAGEN_CACHE_DIR`` is ``off`` (or ``0``, ``false``, ``none``), or the command line
  says ``--no-cache``: no cache.

Where: ``PERSONAGEN_CACHE_DIR`` or ``--cache-dir DIR`` if given, else the platform's user
cache directory (``platformdirs.user_cache_dir("personagen")``, ``~/.cache/personagen`` on
Linux), in a subdirectory named after the personagen, jax and jaxlib versions and the JAX
backend, so that no other version or backend ever reads an entry. Each such directory is
bounded (least recently used entries evicted) at ``PERSONAGEN_CACHE_MAX_MB`` megabytes,
1,024 by default. A directory that cannot be written turns the cache off with one
warning. JAX never replaces an entry it cannot read (a half-written file from a killed
run would be compiled again on every run), so entries written since the last check are
checked when the cache is switched on (decompressed: a few milliseconds for a run's
entries); unreadable ones are removed with one warning and compiled again. Never an
error. This module imports JAX only when the cache is switched on.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
import warnings
import zlib
from importlib.metadata import version
from pathlib import Path

__all__ = [
    "CACHE_ENV",
    "DEFAULT_MAX_MB",
    "MAX_MB_ENV",
    "cache_directory",
    "disable_compilation_cache",
    "use_compilation_cache",
]

log = logging.getLogger("personagen")

CACHE_ENV = "PERSONAGEN_CACHE_DIR"
MAX_MB_ENV = "PERSONAGEN_CACHE_MAX_MB"
DEFAULT_MAX_MB = 1024
#: Compilations shorter than this are not written (JAX's default is 1 s). Every one is
#: kept: the eager operations numpyro runs while it sets up a fit compile in 0.01-0.2 s
#: each and there are hundreds of them, and loading an entry takes about a millisecond.
MIN_COMPILE_SECONDS = 0.0
_OFF = {"off", "0", "false", "no", "none"}

_lock = threading.Lock()
_state: dict[str, object] = {"done": False, "directory": None}


def _version_key(backend: str) -> str:
    parts = (
        f"personagen-{version('personagen')}",
        f"jax-{version('jax')}",
        f"jaxlib-{version('jaxlib')}",
        backend,
    )
    return "_".join(parts)


def _writable(directory: Path) -> str:
    """Return ``""`` if ``directory`` can hold cache entries, else why not."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return ""


#: Entries younger than this are left for the next check: JAX writes an entry in place
#: (not under a temporary name), so another process may be writing it right now.
FRESH_SECONDS = 120.0
#: The entries already checked (name and size), in each cache directory.
_CHECKED = ".personagen-checked.json"


def _decompress(data: bytes) -> None:
    """Raise unless ``data`` is an entry JAX can decompress (zstd where JAX has it, else zlib)."""
    try:
        from compression import zstd  # Python 3.14+
    except ImportError:
        zstd = None
    if zstd is not None:
        zstd.decompress(data)
        return
    try:
        import zstandard
    except ImportError:
        zlib.decompress(data)
        return
    zstandard.ZstdDecompressor().decompress(data)


def _drop_unreadable_entries(directory: Path) -> int:
    """Remove the entries written since the last check that cannot be read; return how many."""
    index = directory / _CHECKED
    try:
        checked = set(json.loads(index.read_text()))
    except (OSError, ValueError, TypeError):
        checked = set()
    seen, dropped = set(), 0
    now = time.time()
    for entry in directory.glob("*-cache"):
        try:
            stat = entry.stat()
            stamp = f"{entry.name}:{stat.st_size}"
            if now - stat.st_mtime < FRESH_SECONDS:
                continue  # another process may still be writing it: check it next time
            if stamp not in checked:
                _decompress(entry.read_bytes())
            seen.add(stamp)
        except Exception:  # unreadable, truncated or garbage: compiled again
            entry.unlink(missing_ok=True)
            entry.with_name(entry.name.removesuffix("-cache") + "-atime").unlink(missing_ok=True)
            dropped += 1
    if seen != checked:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".checked-")
        with os.fdopen(fd, "w") as f:
            json.dump(sorted(seen), f)
        os.replace(tmp, index)
    return dropped


def cache_directory(base: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the directory the cache would use, or ``None`` where it is off.

    Parameters
    ----------
    base : path, optional
        The cache root; default ``PERSONAGEN_CACHE_DIR``, else the user cache directory.
    """
    configured = os.environ.get(CACHE_ENV) if base is None else os.fspath(base)
    if configured is not None and configured.strip().lower() in _OFF:
        return None
    if configured:
        root = Path(configured).expanduser()
    else:
        import platformdirs

        root = Path(platformdirs.user_cache_dir("personagen")) / "jax"
    import jax

    return root / _version_key(jax.default_backend())


def disable_compilation_cache() -> None:
    """Keep this process off the persistent cache (``--no-cache``), before it compiles."""
    with _lock:
        _state["done"] = True
        _state["directory"] = None


def _max_bytes() -> int:
    """Return the bound of ``PERSONAGEN_CACHE_MAX_MB`` (a bad value: a warning, the default)."""
    text = os.environ.get(MAX_MB_ENV, str(DEFAULT_MAX_MB))
    try:
        value = int(text)
        if value < 1:
            raise ValueError(text)
    except ValueError:
        log.warning("%s=%r is not a positive number of megabytes; using %d", MAX_MB_ENV, text,
                    DEFAULT_MAX_MB)  # fmt: skip
        value = DEFAULT_MAX_MB
    return value * 1024 * 1024


def use_compilation_cache(base: str | os.PathLike[str] | None = None) -> Path | None:
    """Switch JAX's persistent compilation cache on (once per process) and return its directory.

    Called by personagen's sampling and fitting functions before they compile; call it
    yourself first (with ``base``, or after setting ``PERSONAGEN_CACHE_DIR``) to choose
    the directory. JAX reads its cache setting at the first compilation of a process:
    what is compiled before this call is not cached.

    Returns
    -------
    Path or None
        The directory in use, or ``None`` when the cache is off.
    """
    with _lock:
        if _state["done"]:
            return _state["directory"]  # type: ignore[return-value]
        _state["done"] = True
        try:
            return _switch_on(base)
        except Exception as exc:  # the cache is an optimisation: never an error
            log.warning("compilation cache off: %s: %s", type(exc).__name__, exc)
            return None


def _switch_on(base: str | os.PathLike[str] | None) -> Path | None:
    """Configure JAX's cache (under ``_lock``); see :func:`use_compilation_cache`."""
    import jax

    own = getattr(jax.config, "jax_compilation_cache_dir", None)
    if own:  # the user's own setting wins
        _state["directory"] = Path(own)
        return _state["directory"]  # type: ignore[return-value]
    directory = cache_directory(base)
    if directory is None:
        return None
    problem = _writable(directory)
    if problem:
        log.warning(
            "compilation cache off: cannot write to %s (%s); set %s to another "
            "directory, or to 'off'",
            directory,
            problem,
            CACHE_ENV,
        )
        return None
    try:
        dropped = _drop_unreadable_entries(directory)
    except OSError as exc:
        log.warning("compilation cache off: cannot check %s (%s)", directory, exc)
        return None
    if dropped:
        log.warning(
            "compilation cache: removed %d unreadable entries from %s; they are compiled again",
            dropped,
            directory,
        )
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_compilation_cache_max_size", _max_bytes())
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    # an entry that goes bad while this process runs is compiled again by JAX, which
    # warns once per entry; the next start removes it (above) with one warning
    warnings.filterwarnings(
        "ignore", message=r"Error (reading|writing) persistent compilation cache entry"
    )
    _state["directory"] = directory
    return directory
