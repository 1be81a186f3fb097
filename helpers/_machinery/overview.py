"""The lecturer's overview: a folder of hand-ins (HTML) read into one table, with what needs a second look.

``python -m helpers.viva --overview FOLDER [--out overview.html|.md]``.  Each hand-in carries its data in
``<script type="application/json" id="lab-record">`` (``handin.py``); only that is read, never the page's text.
"""

from __future__ import annotations

import html
import json
import re
import sys
from itertools import combinations
from pathlib import Path
from typing import Any, Mapping

from .checking import DONE
from .files import atomic_write_text, keep_older

_DATA = re.compile(r'<script type="application/json" id="lab-record">(.*?)</script>', re.S)
ACTIVATIONS = ("Sigmoid", "Tanh", "ReLU")


def read_handin(path: Path) -> dict[str, Any] | None:
    """A hand-in's embedded data, or None if the file is not a hand-in."""
    try:
        found = _DATA.search(path.read_text(encoding="utf-8"))
        return json.loads(found.group(1)) if found else None
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def mismatches(data: Mapping[str, Any]) -> list[str]:
    """Results that do not match their settings: epochs run ≠ epochs set, results filed under another activation,
    one comparison with several seeds."""
    found = []
    for nb, part in (data.get("runs") or {}).items():
        runs = (part or {}).get("runs", {})
        if len(seeds := {r["config"].get("seed") for r in runs.values()}) > 1:
            found.append(f"notebook {nb}: one comparison with different seeds {sorted(map(str, seeds))}")
        for name, r in runs.items():
            config, epochs = r["config"], r["epochs_done"]
            if r.get("activation") != name or name not in config.get("trained_together", [name]):
                found.append(f"notebook {nb}: the results of {r.get('activation')} are filed under {name}")
            if epochs != config.get("epochs") or len(r["train_acc"]) != epochs:
                found.append(f"notebook {nb} {name}: {epochs} epochs recorded, the settings say {config.get('epochs')}")
    return found


def row(name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """One student's line: who, how much is done, test accuracies, settings, and their own flags."""
    qs, ex = data["questions"], data["exercises"]
    runs = {nb: (part or {}).get("runs", {}) for nb, part in data["runs"].items()}
    merged = {**runs.get("03", {}), **runs.get("04", {})}  # the comparison's numbers first, else notebook 03's
    first = runs.get("04") or runs.get("03") or {}
    config = next(iter(first.values()))["config"] if first else {}
    flags = [f"not run yet: notebook {nb}" for nb, r in runs.items() if not r] + mismatches(data)
    if unanswered := [q["id"] for q in qs if not q["answer"]]:
        flags.append(f"{len(unanswered)} questions unanswered: {', '.join(unanswered)}")
    if not_done := [e["name"] for e in ex if e["status"] != DONE]:
        flags.append(f"exercises not done: {', '.join(not_done)}")
    return {"file": name, "student": data["student"].get("name") or "(no name)",
            "number": data["student"].get("number") or "–",
            "answered": f"{len(qs) - len(unanswered)}/{len(qs)}", "exercises": f"{len(ex) - len(not_done)}/{len(ex)}",
            "predictions": str(len(data["predictions"])),
            **{a: f"{100 * merged[a]['test_acc'][-1]:.2f} %" if merged.get(a, {}).get("test_acc") else "–"
               for a in ACTIVATIONS},
            "settings": (f"seed {config['seed']}, {config['epochs']} epochs, batch {config['batch_size']}, "
                         f"{config['optimizer']} lr {config['lr']:g}, {config.get('device', '?')}")
            if config else "–",
            "flags": flags}


def copied_answers(handins: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Pairs of hand-ins with the same non-empty answer to the same question (spaces and case aside)."""
    norm = lambda text: " ".join(text.split()).casefold()  # noqa: E731
    found = []
    for (a, da), (b, db) in combinations(handins.items(), 2):
        theirs = {q["id"]: norm(q["answer"]) for q in db["questions"] if q["answer"].strip()}
        same = [q["id"] for q in da["questions"] if q["answer"].strip() and theirs.get(q["id"]) == norm(q["answer"])]
        if same:
            found.append(f"identical answers: {a} and {b}, to {', '.join(same)}")
    return found


def overview(folder: str | Path) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """(a row per hand-in, the copied-answer pairs, the files skipped as not hand-ins) for ``folder``'s *.html."""
    handins, skipped = {}, []
    for path in sorted(Path(folder).glob("*.html")):
        data = read_handin(path)
        if data is None:
            skipped.append(path.name)
        else:
            handins[path.name] = data
    return [row(n, d) for n, d in handins.items()], copied_answers(handins), skipped


COLUMNS = ("file", "student", "number", "answered", "exercises", "predictions", *ACTIVATIONS, "settings")


def render(rows: list[dict[str, Any]], pairs: list[str], markdown: bool) -> str:
    """The overview as Markdown or as one HTML page: the table, then each student's flags, then the copied pairs."""
    flags = [f"{r['student']} ({r['file']}): {flag}" for r in rows for flag in r["flags"]] + pairs
    if markdown:
        return "\n".join(["# Hand-ins: overview", "", "| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS),
                          *("| " + " | ".join(str(r[c]).replace("|", "/") for c in COLUMNS) + " |" for r in rows),
                          "", "## Flags", "", *(f"- {f}" for f in flags or ["none"])]) + "\n"
    cells = lambda values, tag: "".join(f"<{tag}>{html.escape(str(v))}</{tag}>" for v in values)  # noqa: E731
    return ('<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Hand-ins: overview</title><style>'
            "body{font-family:system-ui,sans-serif}table{border-collapse:collapse}td,th{border:1px solid #bbb;"
            "padding:.2rem .5rem}</style></head><body><h1>Hand-ins: overview</h1><table>"
            f"<tr>{cells(COLUMNS, 'th')}</tr>"
            + "".join(f"<tr>{cells([r[c] for c in COLUMNS], 'td')}</tr>" for r in rows)
            + "</table><h2>Flags</h2><ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in flags or ["none"])
            + "</ul></body></html>\n")


def main(folder: str | Path, out: str | Path) -> int:
    """The command line's ``--overview``: write the table, say how many hand-ins it read."""
    if not Path(folder).is_dir():
        print(f"{folder} is not a folder of hand-ins.", file=sys.stderr)
        return 1
    target = Path(out).expanduser().absolute()
    if target.suffix.lower() not in (".html", ".htm", ".md"):  # never onto answers.json, or any other data file
        print(f"The overview is HTML or Markdown: name it e.g. overview.html or overview.md, not {target.name}.",
              file=sys.stderr)
        return 1
    rows, pairs, skipped = overview(folder)
    keep_older(target)
    atomic_write_text(target, render(rows, pairs, target.suffix.lower() == ".md"))
    print(f"Wrote {target}: {len(rows)} hand-ins, {sum(len(r['flags']) for r in rows) + len(pairs)} flags"
          + (f"; skipped (not hand-ins): {', '.join(skipped)}" if skipped else ""))
    return 0
