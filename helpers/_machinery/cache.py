"""The disk cache of notebooks 05 and 06: a training is stored under its full configuration and reused.

Machinery: ``helpers/sweeps.py`` calls ``cached``.  A file stores a format version, the key and a checksum; a file
for another key, an older format, or a partial or corrupt file is never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import warnings
from pathlib import Path
from typing import Any, Callable, TypeVar

from .files import atomic_write_bytes

T = TypeVar("T")
CACHE_VARIABLE = "LAB_CACHE_DIR"
DEFAULT_CACHE_DIR = Path(__file__).resolve().parent.parent.parent / "notebooks" / "cache"
CACHE_FORMAT = 6  # bump when what a cache file holds, or how it was trained, changes: older files are recomputed
_MAGIC = b"activation-lab-cache\n"


def cache_dir() -> Path:
    """Where cached runs live: ``$LAB_CACHE_DIR`` if set, else ``notebooks/cache`` (git-ignored)."""
    value = os.environ.get(CACHE_VARIABLE, "").strip()
    return Path(value).expanduser() if value else DEFAULT_CACHE_DIR


def key_json(key: dict) -> str:
    """The canonical JSON of a cache key (sorted keys, no spaces): what is hashed and stored."""
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, set)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cache keys must be plain JSON (numbers, strings, lists, dicts), got {type(value).__name__}")


def cache_path(key: dict, folder: str | Path | None = None) -> Path:
    """The file that holds the result for ``key``: named by the SHA-256 of its canonical JSON."""
    digest = hashlib.sha256(key_json(key).encode("utf-8")).hexdigest()[:24]
    return Path(folder if folder is not None else cache_dir()) / f"{digest}.pkl"


def load_cached(key: dict, folder: str | Path | None = None) -> tuple[bool, Any]:
    """(True, value) if a complete, intact file for exactly this key exists; else (False, None)."""
    try:
        magic, head, payload = cache_path(key, folder).read_bytes().split(b"\n", 2)
        header = json.loads(head) if magic + b"\n" == _MAGIC else {}
        if (header.get("format") != CACHE_FORMAT or header.get("key") != key_json(key)
                or header.get("length") != len(payload)
                or header.get("sha256") != hashlib.sha256(payload).hexdigest()):
            return False, None
        return True, pickle.loads(payload)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        return False, None


def cached(key: dict, compute: Callable[[], T], folder: str | Path | None = None, retrain: bool = False) -> T:
    """``compute()``'s result, from disk when a valid file for exactly ``key`` (the FULL configuration) exists."""
    if not retrain:
        found, value = load_cached(key, folder)
        if found:
            return value
        kept = _IN_MEMORY.get(str(cache_path(key, folder)))
        if kept is not None and kept[0] == key_json(key):  # could not be written earlier in this session
            return pickle.loads(kept[1])
    value = compute()
    _store(key, value, folder)
    return value


class CacheNotSaved(UserWarning):
    """A result could not be written to the disk cache; it is kept in memory for this session only."""


_UNWRITABLE: set[str] = set()  # cache folders already warned about in this session
_IN_MEMORY: dict[str, tuple[str, bytes]] = {}  # cache file -> (key JSON, pickled result), for those not written


def _store(key: dict, value: Any, folder: str | Path | None) -> None:
    """Write ``value``'s cache file; if that fails, warn (once per folder) instead: the result is not lost."""
    path = cache_path(key, folder)
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    header = {"format": CACHE_FORMAT, "key": key_json(key), "length": len(payload),
              "sha256": hashlib.sha256(payload).hexdigest()}
    try:
        atomic_write_bytes(path, _MAGIC + json.dumps(header).encode("utf-8") + b"\n" + payload)
        _IN_MEMORY.pop(str(path), None)
    except OSError as err:
        _IN_MEMORY[str(path)] = (header["key"], payload)
        if str(path.parent) in _UNWRITABLE:
            return
        _UNWRITABLE.add(str(path.parent))
        reason = f"{path} is a folder" if path.is_dir() else f"{type(err).__name__}: {err.strerror or err}"
        warnings.warn(CacheNotSaved(
            f"The result could not be saved in the cache folder {path.parent} ({reason}). It is kept in memory "
            f"for this session (the same run is not trained again until the kernel restarts), and will be trained "
            f"again after that. To keep results, set {CACHE_VARIABLE} to a "
            f"folder you can write to, or make this one writable."), stacklevel=3)
