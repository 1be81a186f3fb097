"""MNIST on disk: the official files' checksums, the bundled copy unpacked where torchvision looks, clear errors.

Machinery: you never need to open this file to follow a notebook (``helpers/data.py`` is what notebook 02 uses).
"""

from __future__ import annotations

import hashlib
import lzma
import os
from pathlib import Path

import torch

from .files import atomic_write_bytes

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DATA_DIR_VARIABLE = "LAB_DATA_DIR"
DEFAULT_DATA_DIR = REPO_ROOT / "data"
BUNDLE_DIR = REPO_ROOT / "data" / "bundled" / "MNIST"

# The official uncompressed files: name -> (bytes, md5).  Published checksums.
MNIST_FILES: dict[str, tuple[int, str]] = {
    "train-images-idx3-ubyte": (47040016, "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte": (60008, "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte": (7840016, "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte": (10008, "27ae3e4e09519cfbb04c329615203637"),
}


class DataError(RuntimeError):
    """MNIST could not be made available; the message says what to do."""


def data_dir() -> Path:
    """The torchvision ``root`` for MNIST: ``$LAB_DATA_DIR`` if set, else ``<repo>/data``."""
    value = os.environ.get(DATA_DIR_VARIABLE, "").strip()
    return Path(value).expanduser() if value else DEFAULT_DATA_DIR


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_VERIFIED: set[tuple] = set()  # (path, mtime, size, md5) already checked in this process


def _check_file(path: Path, size: int, md5: str) -> None:
    """Raise DataError if an unpacked MNIST file is not byte-identical to the official one."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, md5)
    if key in _VERIFIED:
        return
    if stat.st_size != size:
        problem = f"it has {stat.st_size} bytes instead of {size} (truncated or not MNIST)"
    elif (actual := _readable_md5(path)) != md5:
        problem = f"its md5 is {actual} instead of {md5} (corrupt)"
    else:
        _VERIFIED.add(key)
        return
    raise DataError(f"MNIST file {path} is damaged: {problem}. Delete it and run again; it will be restored from the "
                    f"bundled copy or downloaded.")


def _readable_md5(path: Path) -> str:
    """The md5 of an MNIST file; a DataError saying what to do if this user may not read it (shared folders)."""
    try:
        return _md5(path)
    except OSError as err:
        raise DataError(f"Cannot read MNIST file {path} ({err.strerror or err}): it is there, but this user may not "
                        f"read it (a shared data folder filled by someone else?). Ask its owner to run `chmod a+r "
                        f"{path.parent}/*`, or set {DATA_DIR_VARIABLE} to a folder of your own: it is filled from the "
                        f"bundled copy.") from None


def _private(raw: Path, err: OSError) -> DataError:
    """A DataError for an MNIST folder this user may not look into: who can fix it, and how to go around it."""
    return DataError(f"Cannot look into the MNIST folder {raw} ({err.strerror or err}): it belongs to another user "
                     f"who keeps it private (a shared data folder?). Ask its owner to run `chmod -R a+rX "
                     f"{raw.parent}`, or set {DATA_DIR_VARIABLE} to a folder of your own: it is filled from the "
                     f"bundled copy.")


def _unpack_bundled(bundle: Path, target: Path, size: int, md5: str) -> None:
    """Decompress one bundled file into ``target`` atomically, checking size and md5 first."""
    try:
        with lzma.open(bundle, "rb") as src:
            data = src.read()
    except (lzma.LZMAError, EOFError) as err:
        raise _damaged(bundle, f"is truncated or not an .xz file ({err})") from None
    digest = hashlib.md5(data).hexdigest()
    if (len(data), digest) != (size, md5):
        raise _damaged(bundle, f"is corrupt: it unpacks to {len(data)} bytes with md5 {digest}, "
                               f"expected {size} bytes with md5 {md5}")
    try:
        atomic_write_bytes(target, data)
    except OSError as err:
        raise DataError(f"Cannot write MNIST into {target.parent} ({err.strerror or err}). "
                        f"Set {DATA_DIR_VARIABLE} to a writable folder.") from None


def _damaged(bundle: Path, problem: str) -> DataError:
    shown = bundle.relative_to(REPO_ROOT) if bundle.is_relative_to(REPO_ROOT) else bundle
    return DataError(f"The bundled copy {bundle} {problem}. Restore it with `git checkout -- "
                     f"{shown}` (or delete it to let torchvision download MNIST).")


def _download(root: Path, raw: Path, missing: list[str]) -> None:
    """torchvision's own download, for anyone without the bundled copy; cleans up on failure."""
    before = set(raw.glob("*"))
    try:
        from torchvision import datasets  # imported when needed: torchvision takes a second to import

        datasets.MNIST(root, train=True, download=True)
        datasets.MNIST(root, train=False, download=True)
    except Exception as err:  # torchvision raises RuntimeError/URLError/OSError, all meaning "no data"
        for leftover in set(raw.glob("*")) - before:
            if leftover.is_file():
                leftover.unlink(missing_ok=True)
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"MNIST is not in {raw} (missing: {', '.join(missing)}; the bundled copy has no such file) "
                        f"and downloading it failed ({reason}). If you are offline: restore the bundled copy (`git "
                        f"checkout -- data/bundled`), or set {DATA_DIR_VARIABLE} to a folder that holds MNIST/raw/ "
                        f"with the four files, or connect to the internet and run again.") from None


def ensure_mnist(root: Path | None = None, bundle_dir: Path = BUNDLE_DIR,
                 files: dict[str, tuple[int, str]] = MNIST_FILES) -> Path:
    """Make ``root/MNIST/raw`` hold the four verified files (checked, else unpacked, else downloaded); return root."""
    root = Path(root) if root is not None else data_dir()
    if root.exists() and not root.is_dir():
        raise DataError(f"The data directory {root} is a file, not a folder. Set {DATA_DIR_VARIABLE} to a folder.")
    raw = root / "MNIST" / "raw"
    missing = []
    for name, (size, md5) in files.items():
        target = raw / name
        try:
            present = target.is_file()
        except PermissionError as err:  # a folder on the way another user keeps to themselves (0700)
            raise _private(raw, err) from None
        if present:
            _check_file(target, size, md5)
        elif (bundle := bundle_dir / f"{name}.xz").is_file():
            _unpack_bundled(bundle, target, size, md5)
        else:
            missing.append(name)
    if missing:
        _download(root, raw, missing)
        for name in missing:
            if not (raw / name).is_file():
                raise DataError(f"torchvision's download did not produce {raw / name}.")
            _check_file(raw / name, *files[name])
    return root


def read_idx(path: Path) -> torch.Tensor:
    """An IDX file as a uint8 tensor: a 4-byte code ending in the number of dimensions, big-endian sizes, the bytes."""
    raw = bytearray(path.read_bytes())
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return torch.frombuffer(raw, dtype=torch.uint8, offset=4 + 4 * ndim).view(shape)
