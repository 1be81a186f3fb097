"""The answers file: a student's typed viva answers, exercise statuses and predictions, in one JSON object.

It knows nothing of questions or exercises, only keys (a question id, ``exercise:<name>``, ``prediction:<id>``)
and texts; ``AnswerStore`` merges each change into the file under a lock, so several notebooks may share it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from .files import LOCK_TIMEOUT, Busy, atomic_write_text, locked

ANSWERS_VARIABLE = "LAB_ANSWERS"  # names the answers file instead of ./answers.json
DEFAULT_ANSWERS = "answers.json"
# Where the notebooks save by default (their kernels run in notebooks/): the command line looks there too.
NOTEBOOK_ANSWERS = Path(__file__).resolve().parents[2] / "notebooks" / DEFAULT_ANSWERS
MAX_ANSWERS_BYTES = 5_000_000  # typed answers take a few kB: a larger file is not an answers file


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
        return {}, f"{path} is not valid JSON ({err})"
    if not isinstance(data, dict):
        return {}, f"{path} does not hold a JSON object of answers"
    return {str(k): v for k, v in data.items() if everything or isinstance(v, str)}, None


def _too_large(path: Path) -> int | None:
    """The size of ``path`` if it is far larger than an answers file could be (a stat, no reading), else None."""
    try:
        size = path.stat().st_size
    except OSError:
        return None
    return size if size > MAX_ANSWERS_BYTES else None


class AnswerStore:
    """A student's typed answers, merged into a JSON file after every change, by several notebooks at once.

    A save kept waiting over ``LOCK_TIMEOUT`` s by another notebook gives up (``waiting``): the next save writes it.
    """

    def __init__(self, path: str | Path | None = None):
        self.path = answers_file(path)
        self.answers, self.problem = read_answers(self.path)
        self.refused = _too_large(self.path) is not None  # never read, never overwritten
        self.backup: Path | None = None
        self.waiting = False  # the last save found the file locked by another notebook for too long
        self._unsaved: dict[str, str] = {}  # changes not yet in the file: written with the next save

    def save(self, qid: str, text: str) -> str | None:
        """Save one answer atomically; returns None, or a message saying why it could not be saved."""
        self.answers[qid] = text
        self._unsaved[qid] = text
        self.waiting = False
        if _too_large(self.path) is not None:
            return (f"{self.path} is far larger than an answers file and was left alone: move it away, or set "
                    f"{ANSWERS_VARIABLE} to another file")
        try:
            with locked(self.path, LOCK_TIMEOUT):
                self._merge()
        except Busy:
            self.waiting = True
            return f"another notebook was saving to {self.path.name} for over {LOCK_TIMEOUT:g} s"
        except Exception as err:  # a read-only folder, a full disk...: report, never crash
            return f"could not save to {self.path}: {err}"
        self._unsaved.clear()
        self.problem = None
        return None

    def _merge(self) -> None:
        """Under the lock: re-read the file, add this store's changes to what it holds, write it back atomically."""
        on_disk, problem = read_answers(self.path, everything=True)
        if problem is not None and self.path.exists():  # keep the unreadable file before replacing it
            self.backup = self.path.with_name(self.path.name + ".bak")
            shutil.copy2(self.path, self.backup)
            on_disk = dict(self.answers)
        merged = {**on_disk, **self._unsaved}
        atomic_write_text(self.path, json.dumps(merged, indent=1, ensure_ascii=False) + "\n")
