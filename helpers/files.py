"""Writing files so that a crash or Ctrl-C never leaves half a file behind, and so that two programs
writing the same file take turns (``locked``)."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Iterator

try:  # POSIX (Linux, macOS)
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt

LOCK_TIMEOUT = 30.0  # seconds to wait for another program's lock before giving up


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place in one step."""
    path = Path(path)
    tmp = write_temporary(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_temporary(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a new temporary file beside ``path`` (ordinary permissions, on disk); returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        os.chmod(tmp, file_mode())  # mkstemp makes owner-only files; use the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """``atomic_write_bytes`` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


class IncompleteWrite(OSError):
    """Some of several files were replaced and others not; the message names the stale ones."""


def atomic_write_files(contents: dict[Path, bytes]) -> None:
    """Write several files that belong together: all to temporary files first (a full disk changes nothing),
    then each renamed into place; if a rename still fails, earlier versions left beside new ones are set aside."""
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
    for path in left:
        if not path.exists():
            continue
        try:
            path.replace(path.with_name(path.name + ".stale"))
            notes.append(f"the earlier run's {path.name} was renamed {path.name}.stale")
        except OSError:
            notes.append(f"{path} is from an earlier run (stale)")
    wrote = f"wrote {', '.join(p.name for p in replaced)} but " if replaced else ""
    return IncompleteWrite(f"{wrote}could not put {failed} in place ({err.strerror or err})"
                           + ("; " + "; ".join(notes) if notes else ""))


def file_mode() -> int:
    """The mode a new file gets from ``open``: rw for everyone, less the umask (mkstemp's 0600 is too private)."""
    return 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ----------------------------------------------------------------------------- taking turns

@contextlib.contextmanager
def locked(path: str | Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold an exclusive lock for ``path`` (on ``.<name>.lock`` beside it) so programs that read, change
    and rewrite the file take turns; the lock file is removed afterwards. A TimeoutError after ``timeout``."""
    path = Path(path)
    lock = path.with_name(f".{path.name}.lock")
    deadline = time.monotonic() + timeout
    fd = _acquire(lock, deadline)
    try:
        yield
    finally:
        if fcntl is not None:  # removed while still held: a waiter then finds a stale file and retries
            lock.unlink(missing_ok=True)
        _release(fd)
        if fcntl is None:  # Windows cannot remove an open file: try after closing (fails if another waits)
            with contextlib.suppress(OSError):
                lock.unlink()


def _acquire(lock: Path, deadline: float) -> int:
    """Open ``lock`` and lock it, retrying until ``deadline``; the file descriptor of a lock still in place."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, file_mode())
        try:
            if _try_lock(fd) and _still_there(fd, lock):
                return fd
        except BaseException:
            os.close(fd)
            raise
        _release(fd)
        if time.monotonic() > deadline:
            raise TimeoutError(f"another program has kept {lock} locked for too long; close other notebooks "
                               f"that use this file, or delete {lock.name} if none is running")
        time.sleep(0.005)


def _try_lock(fd: int) -> bool:
    """Lock ``fd`` without waiting: True if it is now ours, False if another program holds it."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return True
    except (BlockingIOError, PermissionError):  # flock: EWOULDBLOCK; msvcrt: EACCES
        return False


def _still_there(fd: int, lock: Path) -> bool:
    """Whether the locked file is still the one at ``lock`` (its holder may have removed it meanwhile)."""
    try:
        here, there = os.fstat(fd), os.stat(lock)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _release(fd: int) -> None:
    """Unlock and close ``fd`` (whether or not it was locked)."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        else:
            with contextlib.suppress(OSError):
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    finally:
        os.close(fd)
