"""The answers file: a student's typed viva answers, exercise statuses and predictions, in one JSON object.

It knows nothing of questions or exercises, only keys (a question id, ``exercise:<name>``, ``prediction:<id>``)
and texts; ``AnswerStore`` merges each change into the file under a lock, so several notebooks may share it.
"""

from __future__ import annotations

import json
import os
import re
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from .files import LOCK_TIMEOUT, Busy, atomic_write_text, locked, remove_leftovers

ANSWERS_VARIABLE = "LAB_ANSWERS"  # names the answers file instead of ./answers.json
DEFAULT_ANSWERS = "answers.json"
# Where the notebooks save by default (their kernels run in notebooks/): the command line looks there too.
NOTEBOOK_ANSWERS = Path(__file__).resolve().parents[2] / "notebooks" / DEFAULT_ANSWERS
MAX_ANSWERS_BYTES = 5_000_000  # typed answers take a few kB: a larger file is not an answers file
RETRY_SECONDS = 1.0  # a save that found the file locked tries again this often, in the background


def answers_file(answers_path: str | Path | None = None) -> Path:
    """Where typed answers are saved: ``answers_path``, else $LAB_ANSWERS, else ./answers.json."""
    if answers_path is None:
        answers_path = os.environ.get(ANSWERS_VARIABLE) or DEFAULT_ANSWERS
    return Path(answers_path).expanduser().absolute()


def find_answers_file(answers_path: str | Path | None = None) -> tuple[Path | None, list[Path]]:
    """(the file found or None, the places looked): ``answers_file``'s, else where the notebooks save (--export)."""
    if answers_path is not None or os.environ.get(ANSWERS_VARIABLE):
        places = [answers_file(answers_path)]
    else:
        places = list(dict.fromkeys([answers_file(), NOTEBOOK_ANSWERS]))  # one place when run in notebooks/
    return next((p for p in places if p.exists()), None), places


def read_answers(path: str | Path, everything: bool = False) -> tuple[dict[str, Any], str | None]:
    """(answers, problem): the saved answers (``everything``: non-strings too), or {} and why they can't be read."""
    path = Path(path)
    if (size := _too_large(path)) is not None:
        return {}, (f"{path} is {size / 1e6:.0f} MB, far larger than an answers file can be (at most "
                    f"{MAX_ANSWERS_BYTES / 1e6:.0f} MB), so it is not read as one")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, None
    except (OSError, UnicodeDecodeError) as err:
        return {}, f"could not read {path}: {err}"
    except json.JSONDecodeError as err:
        found = salvage(path.read_text(encoding="utf-8", errors="replace"))
        return ({k: v for k, v in found.items() if everything or isinstance(v, str)},
                f"{path} is not valid JSON ({err})" + (f"; {len(found)} entries were recovered from it" if found else ""))
    if not isinstance(data, dict):
        return {}, f"{path} does not hold a JSON object of answers"
    return {str(k): v for k, v in data.items() if everything or isinstance(v, str)}, None


_ENTRY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*')


def salvage(text: str) -> dict[str, Any]:
    """The ``"key": value`` entries still readable in a damaged answers file (a cut-off end, a stray comma)."""
    found: dict[str, Any] = {}
    decoder = json.JSONDecoder()
    for match in _ENTRY.finditer(text):
        try:
            key = json.loads(f'"{match[1]}"')
            value, _end = decoder.raw_decode(text, match.end())
        except ValueError:
            continue
        if isinstance(value, (str, int, float, bool)) or value is None:
            found[key] = value
    return found


def unused_name(path: Path, label: str) -> Path:
    """``<stem> (<label> <date time>)<suffix>`` beside ``path``, a name no file has yet: each backup keeps its own."""
    stamp = datetime.now().strftime("%Y-%m-%d %H-%M-%S")
    for n in range(1, 1000):
        candidate = path.with_name(f"{path.stem} ({label} {stamp}{f' {n}' if n > 1 else ''}){path.suffix}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(f"no free backup name beside {path}")


def _too_large(path: Path) -> int | None:
    """The size of ``path`` if it is far larger than an answers file could be (a stat, no reading), else None."""
    try:
        size = path.stat().st_size
    except OSError:
        return None
    return size if size > MAX_ANSWERS_BYTES else None


class AnswerStore:
    """A student's typed answers, merged into a JSON file after every change, by several notebooks at once.

    The file is written where a symbolic link points.  A save kept waiting by another notebook's lock (over
    ``LOCK_TIMEOUT`` s) says so once; the answer stays in memory and is saved in the background when the lock is
    free (``on_saved`` is then called).  A file that cannot be read is renamed (its own name, never overwritten),
    what could be read from it is kept, and ``notice`` says so.
    """

    def __init__(self, path: str | Path | None = None):
        self.path = answers_file(path)
        self.answers, self.problem = read_answers(self.path)
        self.refused = _too_large(self.path) is not None  # never read, never overwritten
        self.backup: Path | None = None
        self.notice: str | None = None  # what happened to an unreadable file, for the cell to show
        self.waiting = False  # the last save found the file locked by another notebook for too long
        self.on_saved: Callable[[], None] | None = None  # called when a background retry has saved
        self._unsaved: dict[str, str] = {}  # changes not yet in the file: written with the next save
        self._mutex = threading.RLock()
        self._retry: threading.Timer | None = None

    @property
    def target(self) -> Path:
        """The file actually written: the answers file, or the file its symbolic link points to."""
        return self.path.resolve() if self.path.is_symlink() else self.path

    def save(self, qid: str, text: str) -> str | None:
        """Save one answer atomically; returns None, or a message saying why it could not be saved."""
        with self._mutex:
            self.answers[qid] = text
            self._unsaved[qid] = text
            if _too_large(self.path) is not None:
                return (f"{self.path} is far larger than an answers file and was left alone: move it away, or set "
                        f"{ANSWERS_VARIABLE} to another file")
            return self._flush(timeout=0 if self.waiting else LOCK_TIMEOUT)

    def _flush(self, timeout: float) -> str | None:
        """Write the unsaved changes under the lock; on a held lock, keep them and retry in the background."""
        try:
            with locked(self.target, timeout):
                self._merge()
        except Busy:
            self.waiting = True
            self._schedule_retry()
            return (f"another notebook (or a stuck kernel) has held the lock on {self.path.name} for over "
                    f"{LOCK_TIMEOUT:g} s; your answers are kept here and saved as soon as it is free")
        except Exception as err:  # a read-only folder, a full disk...: report, never crash
            return f"could not save to {self.path}: {err}"
        self.waiting = False
        self._unsaved.clear()
        self.problem = None
        return None

    def _schedule_retry(self) -> None:
        if self._retry is None or not self._retry.is_alive():
            self._retry = threading.Timer(RETRY_SECONDS, self._retry_save)
            self._retry.daemon = True
            self._retry.start()

    def _retry_save(self) -> None:
        with self._mutex:
            if not self._unsaved or self._flush(timeout=0) is not None:
                return  # nothing left, or still locked (rescheduled) or failing (the next change reports it)
        if self.on_saved is not None:
            self.on_saved()

    def _merge(self) -> None:
        """Under the lock: re-read the file, add this store's changes to what it holds, write it back atomically."""
        target = self.target
        remove_leftovers(target)  # temporary files of saves that were killed half-way
        on_disk, problem = read_answers(target, everything=True)
        if problem is not None and target.exists():  # never overwritten: renamed, and what it held is kept
            self.backup = unused_name(target, "unreadable")
            os.replace(target, self.backup)
            self.notice = (f"{self.path.name} could not be read ({problem}). It was kept, unchanged, as "
                           f"{self.backup.name}; the new {self.path.name} holds what could be read from it and your "
                           f"new answers. Check your older answers, and copy back any that are missing.")
        merged = {**on_disk, **self._unsaved}
        atomic_write_text(target, json.dumps(merged, indent=1, ensure_ascii=False) + "\n")
