"""Run the notebooks that make claims about their runs under several seeds, and report every claim's margin.

    python -m tools.claims --seeds 10 --threads 1            # notebooks 03-07, seeds 0-9 (about 30 minutes)
    python -m tools.claims --seeds 3 --notebooks 06          # a quicker look

Each notebook is executed with its seed setting changed (``config = TrainConfig(seed=S)`` in 03 and 04,
``SEED = S`` in 05, 06 and 07), claims not strict (``LAB_STRICT_CLAIMS=0``, so one that fails does not hide
the rest), every ``helpers.report.claim`` (``helpers/_machinery/claims.py``) logged with its margin (``LAB_CLAIMS_LOG``), and a fresh cache.
The report lists, per claim, how often it held and its smallest margin: a claim that fails for some seed
must be reworded as what the run measured, or its bound changed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SEED_SETTING = {"03": ("config = TrainConfig()", "config = TrainConfig(seed={seed})"),
                "04": ("config = TrainConfig()", "config = TrainConfig(seed={seed})"),
                "05": ("SEED = 0", "SEED = {seed}"), "06": ("SEED = 0", "SEED = {seed}"),
                "07": ("SEED = 0", "SEED = {seed}")}


def run(notebook: Path, seed: int, workdir: Path) -> list[dict]:
    """Execute one notebook with one seed; return its logged claims (an "error" entry if a cell failed)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    old, new = SEED_SETTING[notebook.name[:2]]
    cell = next(c for c in nb.cells if c.cell_type == "code" and old in c.source)
    cell.source = cell.source.replace(old, new.format(seed=seed))
    log = workdir / f"{notebook.stem}-{seed}.jsonl"
    os.environ.update(LAB_STRICT_CLAIMS="0", LAB_CLAIMS_LOG=str(log), LAB_CACHE_DIR=str(workdir / "cache"),
                      LAB_ANSWERS=str(workdir / "answers.json"))
    try:
        NotebookClient(nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
        error = None
    except Exception as err:  # noqa: BLE001 - reported as a result, the other seeds go on
        error = str(err).strip().splitlines()[-1][:200]
    claims = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return claims + ([{"claim": f"(the notebook stopped: {error})", "holds": False, "margin": None, "bound": None}]
                     if error else [])


def report(results: dict[tuple[str, str], list[dict]], seeds: int) -> str:
    """Markdown table: per claim, how often it held and its smallest margin (absolute and relative to the bound)."""
    lines = ["| notebook | claim | held | smallest margin | relative to the bound |", "| --- | --- | ---: | ---: | ---: |"]
    for (notebook, what), entries in results.items():
        margins = [e["margin"] for e in entries if e["margin"] is not None]
        low = min(margins) if margins else None
        bound = next((e["bound"] for e in entries if e["margin"] == low), None)
        relative = f"{low / abs(bound):+.0%}" if low is not None and bound else "–"
        lines.append(f"| {notebook} | {what} | {sum(e['holds'] for e in entries)} of {len(entries)} | "
                     f"{'–' if low is None else f'{low:+.3g}'} | {relative} |")
    return f"{seeds} seed(s)\n\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.claims", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0 .. N-1 (default 10)")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch threads in the kernels (default 1)")
    parser.add_argument("--notebooks", nargs="+", default=sorted(SEED_SETTING), help="numbers, e.g. 04 06")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    os.environ.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    results: dict[tuple[str, str], list[dict]] = defaultdict(list)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for number in args.notebooks:
            notebook = next(NOTEBOOKS.glob(f"{number}_*.ipynb"))
            for seed in range(args.seeds):
                began = time.perf_counter()
                for entry in run(notebook, seed, Path(tmp)):
                    results[(number, entry["claim"])].append(entry)
                print(f"{notebook.name} seed {seed}: {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
    text = report(results, args.seeds) + f"\n\n(took {time.perf_counter() - start:.0f} s, {args.threads} thread(s))\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0 if all(e["holds"] for entries in results.values() for e in entries) else 1


if __name__ == "__main__":
    sys.exit(main())
