"""A pickle of parsed files in the user's cache directory, keyed by their content: parsing
and validating the three built-in forms costs ~0.4 s, loading the pickle ~5 ms, and every
CLI command would pay the parse.

The cache is derived data: several workers may write it at once (each writes a temporary file
and renames it into place), and a missing, stale, unreadable or corrupt file is ignored and
rebuilt. ``FORMBOT_CACHE_DIR`` (else ``$XDG_CACHE_HOME/formbot``, else ``~/.cache/formbot``)
says where; ``FORMBOT_CACHE_DIR=off`` turns it off. The directory must be the user's own
(a pickle is code).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


def cache_dir() -> Path | None:
    configured = os.environ.get("FORMBOT_CACHE_DIR", "").strip()
    if configured.lower() == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "formbot"


def cache_key(sources: Iterable[Path]) -> str:
    """A digest of ``sources`` (the parsed files and the code that parses them) and of the
    Python and pydantic versions."""
    import pydantic

    digest = hashlib.sha256()
    digest.update(f"{sys.version_info[:2]} {pydantic.VERSION}".encode())
    for path in sources:
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def cached(name: str, sources: list[Path], build: Callable[[], T]) -> T:
    """``build()``, or what it returned before for the same ``sources``."""
    directory = cache_dir()
    if directory is None:
        return build()
    key = cache_key(sources)
    path = directory / f"{name}-{key[:32]}.pickle"
    value = _read(path, key)
    if value is None:
        value = build()
        _write(path, key, value)
    return value


def _read(path: Path, key: str):
    try:
        with path.open("rb") as file:
            stored = pickle.load(file)
    except FileNotFoundError:
        return None
    except Exception as exc:  # corrupt, truncated, from another version: rebuild it
        log.info("ignoring the cache %s (%s)", path, exc)
        return None
    if not isinstance(stored, dict) or stored.get("key") != key:
        return None
    return stored.get("value")


def _write(path: Path, key: str, value) -> None:
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-")
        with os.fdopen(handle, "wb") as file:
            pickle.dump({"key": key, "value": value}, file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except Exception as exc:  # read-only home, full disk, …: work without the cache
        log.info("cannot write the cache %s (%s)", path, exc)
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
