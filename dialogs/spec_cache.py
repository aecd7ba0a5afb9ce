"""The built-in form specs, parsed and validated once per version of the files: a pickle in
the user's cache directory, keyed by the content of the spec files and of the code that
validates them. Parsing and validating the three forms costs ~0.4 s; loading the pickle ~5 ms.

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
from pathlib import Path

from dialogs import spec as spec_module
from dialogs.spec import FORMS_DIR, FormSpec

log = logging.getLogger(__name__)

# The modules whose code decides what a parsed spec is: a change to them is a new cache key.
VALIDATING_CODE = ("spec.py", "expressions.py", "values.py", "text.py")


def cache_dir() -> Path | None:
    configured = os.environ.get("FORMBOT_CACHE_DIR", "").strip()
    if configured.lower() == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "formbot"


def cache_key(directory: Path = FORMS_DIR) -> str:
    """A digest of the spec files, the validating code and the Python and pydantic versions."""
    import pydantic

    digest = hashlib.sha256()
    digest.update(f"{sys.version_info[:2]} {pydantic.VERSION}".encode())
    here = Path(__file__).parent
    for path in [here / name for name in VALIDATING_CODE] + sorted(directory.glob("*.yaml")):
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def builtin_forms() -> dict[str, FormSpec]:
    """``dialogs.spec.all_forms()``, from the cache when it is current (and then also what
    ``all_forms`` returns in this process)."""
    if spec_module._registry is not None:
        return spec_module._registry
    directory = cache_dir()
    if directory is None:
        return spec_module.all_forms()
    key = cache_key()
    path = directory / f"forms-{key[:32]}.pickle"
    forms = _read(path, key)
    if forms is None:
        forms = spec_module.all_forms()
        _write(path, key, forms)
    spec_module._registry = forms
    return forms


def _read(path: Path, key: str) -> dict[str, FormSpec] | None:
    try:
        with path.open("rb") as file:
            stored = pickle.load(file)
    except FileNotFoundError:
        return None
    except Exception as exc:  # corrupt, truncated, from another version: rebuild it
        log.info("ignoring the form cache %s (%s)", path, exc)
        return None
    if not isinstance(stored, dict) or stored.get("key") != key:
        return None
    forms = stored.get("forms")
    if not isinstance(forms, dict) or not all(isinstance(f, FormSpec) for f in forms.values()):
        return None
    return forms


def _write(path: Path, key: str, forms: dict[str, FormSpec]) -> None:
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".forms-")
        with os.fdopen(handle, "wb") as file:
            pickle.dump({"key": key, "forms": forms}, file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except Exception as exc:  # read-only home, full disk, …: work without the cache
        log.info("cannot write the form cache %s (%s)", path, exc)
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
