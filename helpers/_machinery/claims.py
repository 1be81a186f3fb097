"""The claim harness: every statement a notebook's text makes about its run is checked beside it.

Machinery: notebooks call it as ``helpers.report.claim``.  Strict in the test run, a visible note in a student's
session; ``tools/claims.py`` logs every claim's margin over many seeds.
"""

from __future__ import annotations

import json
import os
import warnings

STRICT_VARIABLE = "LAB_STRICT_CLAIMS"  # "1" in the test run (conftest.py): a claim that does not hold is an error
CLAIMS_LOG_VARIABLE = "LAB_CLAIMS_LOG"  # a file: every claim and its margin is appended to it (tools/claims.py)
_COMPARE = {"<": lambda v, b: v < b, ">": lambda v, b: v > b}
_SWITCH = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False,
           "": False}
_LOG_WARNED: set[str] = set()  # claims logs already said to be unwritable in this process


def strict() -> bool:
    """Whether ``LAB_STRICT_CLAIMS`` asks for errors: 1/true/yes/on or 0/false/no/off (any case; empty: off)."""
    value = os.environ.get(STRICT_VARIABLE, "")
    if value.strip().lower() not in _SWITCH:
        raise ValueError(f"{STRICT_VARIABLE} must be 1, true, yes or on (strict), or 0, false, no, off or empty (not "
                         f"strict), in any case; got {value!r}. Set it to one of those, or unset it.")
    return _SWITCH[value.strip().lower()]


def _log(log: str, entry: dict) -> None:
    """Append one claim to the log file; if it cannot be written, warn once per file and go on."""
    try:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
    except OSError as err:
        if log not in _LOG_WARNED:
            _LOG_WARNED.add(log)
            warnings.warn(f"The claims log {log} (set by {CLAIMS_LOG_VARIABLE}) cannot be written "
                          f"({err.strerror or err}); claims are checked but not logged. Set {CLAIMS_LOG_VARIABLE} to a "
                          f"file you can write, or unset it.", stacklevel=3)


def claim(what: str, value: object, op: str | None = None, bound: float | None = None) -> None:
    """Check a statement the text makes about this run: ``value`` itself, or ``value op bound`` ("<" or ">").

    A student's settings may differ from the defaults the text describes: there a claim that does not hold is a
    note, never an error that stops the notebook.  Returns None, so a cell that ends with a claim prints nothing more.
    """
    is_strict = strict()
    holds = bool(value) if op is None else _COMPARE[op](value, bound)
    margin = None if op is None else (bound - value if op == "<" else value - bound)
    log = os.environ.get(CLAIMS_LOG_VARIABLE, "").strip()
    if log:
        _log(log, {"claim": what, "holds": holds, "margin": margin, "bound": bound})
    if holds:
        return
    if is_strict:
        raise AssertionError(f"Claim does not hold: {what}" + (f" ({value!r} {op} {bound!r} is false)" if op else ""))
    rest = (f"{what}. The text around it describes the lab's default settings; with yours the numbers tell a "
            f"different story — read them.")
    try:
        from IPython import get_ipython
        kernel = getattr(get_ipython(), "kernel", None)
    except ImportError:
        kernel = None
    if kernel is None:  # plain Python or a terminal: the note as text, not a Markdown object's repr
        print(f"Note: in your run this does not hold: {rest}")
        return
    from IPython.display import Markdown, display

    display(Markdown(f"> **Note: in your run this does not hold:** {rest}"))
