"""Writing files so that a crash or Ctrl-C never leaves half a file behind, and so that two programs
writing the same file take turns (``locked``, on ``filelock``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Iterator

import filelock


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place in one step.

    A symbolic link is followed: the file it points to is replaced, the link stays."""
    path = Path(path)
    target = path.resolve() if path.is_symlink() else path
    tmp = write_temporary(target, data)
    try:
        os.replace(tmp, target)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise _naming(err, target) from err
        raise
    return path


def write_temporary(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a new temporary file beside ``path`` (ordinary permissions, on disk); returns its path.
    An error names ``path``, never the temporary file."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        os.chmod(tmp, file_mode())  # mkstemp makes owner-only files; use the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException as err:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise _naming(err, path) from err
        raise
    return Path(tmp)


def _naming(err: OSError, path: Path) -> OSError:
    """The same error, naming the file the student asked for (not a hidden temporary file beside it)."""
    if err.errno is None or err.filename == str(path):
        return err
    return type(err)(err.errno, err.strerror, str(path))


def remove_leftovers(path: str | Path) -> None:
    """Remove the temporary files (``.<name>.*.part``) that writes of ``path`` killed half-way left beside it.
    Call it only while holding ``locked(path)``: every writer of ``path`` then has finished."""
    path = Path(path)
    for part in path.parent.glob(f".{glob_escape(path.name)}.*.part"):
        with contextlib.suppress(OSError):
            part.unlink()


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters made literal."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """``atomic_write_bytes`` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


class IncompleteWrite(OSError):
    """Some of several files were replaced and others not; the message names the stale ones."""


def atomic_write_files(contents: dict[Path, bytes]) -> None:
    """Write files that belong together: all to temporary files first (a full disk changes nothing), then rename."""
    temporary: dict[Path, Path] = {}
    try:
        for path, data in contents.items():
            temporary[Path(path)] = write_temporary(path, data)
        replaced: list[Path] = []
        for path, tmp in temporary.items():
            try:
                os.replace(tmp, path)
            except OSError as err:
                raise _incomplete(replaced, path, err, [p for p in temporary if p not in replaced]) from err
            replaced.append(path)
    finally:
        for tmp in temporary.values():
            tmp.unlink(missing_ok=True)


def _incomplete(replaced: list[Path], failed: Path, err: OSError, left: list[Path]) -> IncompleteWrite:
    """Set aside the earlier versions of the files not replaced (``<name>.stale``) and say which ones they are."""
    notes = []
    for path in filter(Path.exists, left):
        try:
            path.replace(path.with_name(path.name + ".stale"))
            notes.append(f"the earlier run's {path.name} was renamed {path.name}.stale")
        except OSError:
            notes.append(f"{path} is from an earlier run (stale)")
    wrote = f"wrote {', '.join(p.name for p in replaced)} but " if replaced else ""
    return IncompleteWrite(f"{wrote}could not put {failed} in place ({err.strerror or err})"
                           + "".join(f"; {note}" for note in notes))


def file_mode() -> int:
    """The mode a new file gets from ``open``: rw for everyone, less the umask (mkstemp's 0600 is too private)."""
    umask = os.umask(0)  # reading the umask means setting it: put it straight back
    os.umask(umask)
    return 0o666 & ~umask


def keep_older(target: Path) -> Path | None:
    """If ``target`` exists, copy it to ``<stem> (<its date and time>)<suffix>`` beside it (never overwritten)."""
    if not target.exists():
        return None
    stamp = datetime.fromtimestamp(target.stat().st_mtime)
    names = [f"{stamp:%Y-%m-%d %H-%M}", f"{stamp:%Y-%m-%d %H-%M-%S}", *(f"{stamp:%Y-%m-%d %H-%M-%S} {n}" for n in
                                                                         range(2, 1000))]
    older = next(p for n in names if not (p := target.with_name(f"{target.stem} ({n}){target.suffix}")).exists())
    shutil.copy2(target, older)
    return older


# ----------------------------------------------------------------------------- taking turns

LOCK_TIMEOUT = 2.0  # seconds to wait for another program's lock: a save on every keystroke must never hang


class Busy(TimeoutError):
    """Another program held the lock for longer than the timeout; nothing was written."""


@contextlib.contextmanager
def locked(path: str | Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold a ``FileLock`` on ``.<name>.lock`` beside ``path`` so writers take turns; ``Busy`` after ``timeout``."""
    path = Path(path)
    lock_path = path.with_name(f".{path.name}.lock")
    lock = filelock.FileLock(lock_path)
    try:
        lock.acquire(timeout=timeout, poll_interval=0.005)
    except filelock.Timeout:
        raise Busy(f"another program held {lock_path.name} for over {timeout:g} s") from None
    try:
        yield
    finally:
        # removed while held, so none is left: filelock >= 3.29.5 leaves it on Unix, and retries if it vanishes
        if not isinstance(lock, filelock.SoftFileLock):  # a soft lock (no flock here) is that file: filelock removes it
            with contextlib.suppress(OSError):  # Windows cannot remove an open file: filelock removes it after release
                lock_path.unlink()
        lock.release()
