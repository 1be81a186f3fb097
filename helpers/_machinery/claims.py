"""The claim harness: every statement a notebook's text makes about its run is checked beside it.

Machinery: notebooks call it as ``helpers.report.claim``.  Strict in the test run, a visible note in a student's
session; ``tools/claims.py`` logs every claim's margin over many seeds.
"""

from __future__ import annotations

import json
import os

STRICT_VARIABLE = "LAB_STRICT_CLAIMS"  # "1" in the test run (conftest.py): a claim that does not hold is an error
CLAIMS_LOG_VARIABLE = "LAB_CLAIMS_LOG"  # a file: every claim and its margin is appended to it (tools/claims.py)
_COMPARE = {"<": lambda v, b: v < b, ">": lambda v, b: v > b}


def claim(what: str, value: object, op: str | None = None, bound: float | None = None) -> None:
    """Check a statement the text makes about this run: ``value`` itself, or ``value op bound`` ("<" or ">").

    A student's settings may differ from the defaults the text describes: there a claim that does not hold is a
    note, never an error that stops the notebook.  Returns None, so a cell that ends with a claim prints nothing more.
    """
    holds = bool(value) if op is None else _COMPARE[op](value, bound)
    margin = None if op is None else (bound - value if op == "<" else value - bound)
    log = os.environ.get(CLAIMS_LOG_VARIABLE, "").strip()
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"claim": what, "holds": holds, "margin": margin, "bound": bound}) + "\n")
    if holds:
        return
    if os.environ.get(STRICT_VARIABLE, "").strip() == "1":
        raise AssertionError(f"Claim does not hold: {what}" + (f" ({value!r} {op} {bound!r} is false)" if op else ""))
    from IPython.display import Markdown, display

    display(Markdown(f"> **Note: in your run this does not hold:** {what}. The text around it describes the lab's "
                     "default settings; with yours the numbers tell a different story — read them."))
