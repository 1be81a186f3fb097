"""Authoring tool: the lab plan, how long each notebook takes and which session it belongs to.

    python -m tools.lab_plan              print the plan (a Markdown table, as the README shows it)
    python -m tools.lab_plan --measure    run every notebook from an empty cache, timed; writes RUN_TIMES
    python -m tools.lab_plan --readme     write the table into README.md (between its lab-plan markers)

The estimate for one notebook, in minutes (README, "Lab plan"):

    prose words / 150  +  code words / 100  +  10 per exercise  +  3 per viva question or observation box
    +  its run time from an empty cache, measured on a 2-core laptop CPU (``--measure``)

Prose: the Markdown cells, without the generated viva appendix, the sources list and the plan line itself.
Code: the code cells, without the generated setup cell.  A part under a heading "### Optional ..." (an exercise
for students who finish early) is not counted.  ``tools/notebooks.py --sync`` writes each notebook's
plan line into its first cell from these numbers; ``tests/test_notebooks.py`` checks the limits below.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
RUN_TIMES = Path(__file__).with_name("run_times.json")
SESSIONS = {"the practical": ("01", "02", "03", "04"), "the deep dive": ("05", "06", "07")}
SESSION_LIMIT, NOTEBOOK_LIMIT = 150, 50  # minutes: the practical fits a 3-hour lab session with slack
PROSE_WPM, CODE_WPM, EXERCISE_MIN, ANSWER_MIN = 150, 100, 10, 3
PLAN_START = "_Lab plan:"  # the plan line in each notebook's first cell starts with this
OPTIONAL = "### Optional"  # a part under such a heading is for students who finish early: not counted
ASKED = re.compile(r"\bviva\.ask\(\s*\[([^\]]*)\]")  # viva questions and observation boxes
QUOTED = re.compile(r"""["']([^"']+)["']""")


@dataclass(frozen=True)
class Estimate:
    """One notebook's share of the plan, in words, counts and minutes."""

    notebook: str
    session: str
    prose_words: int
    code_words: int
    exercises: int
    answers: int  # viva questions and observation boxes
    run_minutes: float
    optional_exercises: int = 0

    @property
    def minutes(self) -> float:
        return (self.prose_words / PROSE_WPM + self.code_words / CODE_WPM + EXERCISE_MIN * self.exercises
                + ANSWER_MIN * self.answers + self.run_minutes)


def session_of(name: str) -> str:
    return next((session for session, numbers in SESSIONS.items() if name[:2] in numbers), "")


def _counted(cells: list[dict]) -> list[tuple[dict, int]]:
    """The cells a student works through: not the generated ones, nor an optional exercise (to the next heading)."""
    kept, optional = [], False
    for index, cell in enumerate(cells):
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and text.startswith("#"):
            optional = text.startswith(OPTIONAL)
        generated = text.startswith(("<!-- viva-appendix -->", "## Sources")) or index == 1  # 1: the setup cell
        if not (optional or generated):
            kept.append((cell, index))
    return kept


def _words(cell: dict) -> int:
    lines = [line for line in "".join(cell["source"]).splitlines() if not line.startswith(PLAN_START)]
    return len(" ".join(lines).split())


def estimate(path: Path, run_times: dict[str, float] | None = None) -> Estimate:
    """Count one notebook's prose, code, exercises and answers; its run time comes from RUN_TIMES."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    kept = _counted(cells)
    code = [c for c, _ in kept if c["cell_type"] == "code"]
    sources = ["".join(c["source"]) for c in code]
    times = read_run_times() if run_times is None else run_times
    return Estimate(path.name, session_of(path.name),
                    sum(_words(c) for c, _ in kept if c["cell_type"] == "markdown"), sum(_words(c) for c in code),
                    sum(s.startswith("# Your turn:") for s in sources),
                    sum(len(QUOTED.findall(m.group(1))) for s in sources for m in ASKED.finditer(s)),
                    times.get(path.name, 0.0) / 60,
                    sum("".join(c["source"]).startswith("# Your turn:") for c in cells) - sum(
                        s.startswith("# Your turn:") for s in sources))


def read_run_times() -> dict[str, float]:
    return json.loads(RUN_TIMES.read_text(encoding="utf-8"))["seconds"] if RUN_TIMES.exists() else {}


def plan(paths: list[Path] | None = None) -> list[Estimate]:
    times = read_run_times()
    return [estimate(p, times) for p in (paths or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")))]


def plan_line(e: Estimate, estimates: list[Estimate]) -> str:
    """The line each notebook's first cell carries (written by ``tools/notebooks.py --sync``)."""
    same = [x for x in estimates if x.session == e.session]
    total, reading = sum(x.minutes for x in same), e.prose_words / PROSE_WPM + e.code_words / CODE_WPM
    return (f"{PLAN_START} {e.session}, notebook {same.index(e) + 1} of {len(same)} (about {total:.0f} minutes in "
            f"all). This notebook: about **{e.minutes:.0f} minutes** (reading {reading:.0f}, "
            f"exercises {EXERCISE_MIN * e.exercises}, answers {ANSWER_MIN * e.answers}, running {e.run_minutes:.0f})"
            + (", and an optional exercise for those who finish early" if e.optional_exercises else "")
            + "; how it is estimated: README, \"Lab plan\"._")


def plan_table(estimates: list[Estimate]) -> str:
    """The README's table: one row per notebook, a total per session."""
    rows = ["| notebook | session | prose words | code words | exercises | viva questions and observation boxes "
            "| run time (min) | estimate (min) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for session in SESSIONS:
        same = [e for e in estimates if e.session == session]
        rows += [f"| {e.notebook} | {session} | {e.prose_words:,} | {e.code_words:,} | {e.exercises} | {e.answers} | "
                 f"{e.run_minutes:.1f} | **{e.minutes:.0f}** |" for e in same]
        rows.append(f"| **{session}, in all** | | | | | | | **{sum(e.minutes for e in same):.0f}** |")
    return "\n".join(rows)


README = ROOT / "README.md"
TABLE_START, TABLE_END = "<!-- lab-plan -->", "<!-- /lab-plan -->"


def readme_with_plan(text: str, estimates: list[Estimate]) -> str:
    """The README's text with the plan table between its markers."""
    head, rest = text.split(TABLE_START, 1)
    return head + TABLE_START + "\n" + plan_table(estimates) + "\n" + TABLE_END + rest.split(TABLE_END, 1)[1]


def measure(paths: list[Path]) -> dict[str, float]:
    """Run each notebook (nbclient) from an empty cache and a fresh answers file; seconds per notebook."""
    import nbformat
    from nbclient import NotebookClient

    seconds = {}
    for path in paths:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ.update(LAB_CACHE_DIR=tmp, LAB_ANSWERS=str(Path(tmp) / "answers.json"))
            nb = nbformat.read(path, as_version=4)
            began = time.perf_counter()
            NotebookClient(nb, timeout=3600, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
            seconds[path.name] = round(time.perf_counter() - began, 1)
        print(f"{path.name}: {seconds[path.name]} s", flush=True)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", action="store_true", help="time every notebook and write RUN_TIMES")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    args = parser.parse_args(argv)
    if args.measure:
        paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "") if Path("/proc/cpuinfo").exists() else ""
        RUN_TIMES.write_text(json.dumps({"machine": f"{os.cpu_count()} CPUs, {sys.platform}, {cpu}".rstrip(", "),
                                         "measured": time.strftime("%Y-%m-%d"), "seconds": measure(paths)},
                                        indent=1) + "\n", encoding="utf-8")
    if args.readme:
        README.write_text(readme_with_plan(README.read_text(encoding="utf-8"), plan()), encoding="utf-8")
    print(plan_table(plan()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
