"""Side-by-side speed benchmark: the practical's own script vs this lab's engine, same machine, one run.

    python -m benchmarks.speed                # the full setting: Sigmoid, Tanh, ReLU x 5 epochs
    python -m benchmarks.speed --epochs 1     # a quick check
    python -m benchmarks.speed --epochs 1 --diagnostics-every 10 --pairs 5   # what the diagnostics cost: (e)

Parts, each a fresh Python process timed from start to exit (what a user waits for) and, inside, its training:
  (a) ``benchmarks/practical_script.py``, the practical's script as written (``DataLoader`` with per-image
      transforms, a per-parameter ``.item()`` gradient norm, the three plots), run in a scratch folder whose
      ./data is the lab's MNIST; a few marked lines read the clock and measure test accuracy;
  (b) ``python -m helpers.compare``: the same activations, epochs, batch size and optimizer, the same per-iteration
      loss and gradient norm, per-epoch train and test accuracy, its figure and results file;
  (c) (b)'s training with notebook 03's live plot attached (in-process time only);
  (d) (b) while N other CPU-bound processes run (``--competitors``, default 2 and 3; the benchmark starts and
      stops them): how the engine's choice of threads copes with a busy machine.
  (e) with ``--diagnostics-every K``, instead of (a)-(d): (b) without and with the engine's diagnostics every K
      iterations (update ratios and activation histograms, notebook 05 §5), interleaved ``--pairs`` times:
      (b) (e) (b) (e) ... (b); each (e) against the mean of the (b) runs around it, and the medians.
This machine's speed drifts by 10-30 % over minutes (other tenants on the host), so each measurement is
bracketed by quiet runs of (b): (b) (a) (b) (c) (b) (c) (b) (c) (b) (d) (b) (d) (b).  A ratio divides by the
mean of the two (b) runs around it.  Every run is printed, and all runs of (b), (c), (d) must give the same
numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "practical_script.py"
ACTIVATIONS = ["Sigmoid", "Tanh", "ReLU"]  # the practical's script trains these three
ACCURACY_TOLERANCE = 0.015  # |test acc (a) - (b)| allowed: normal seed-to-seed spread at 5 epochs


def timed_process(cmd: list[str], cwd: Path, env: dict | None = None) -> dict:
    """Run ``cmd`` to its end: wall seconds from start to exit, its peak memory (MB), its stdout."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)  # wait4, not wait: it also gives this child's own peak memory
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if child.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{err.read().strip()}")
        return {"wall_seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "stdout": out.read()}


def run_practical(epochs: int, data_root: Path) -> dict:
    """(a): the practical's script in a scratch folder whose ./data is the lab's MNIST (nothing is downloaded)."""
    with tempfile.TemporaryDirectory(prefix="practical-") as folder:
        os.symlink(data_root.resolve(), Path(folder) / "data")
        done = timed_process([sys.executable, str(SCRIPT)], Path(folder),
                             {"PRACTICAL_EPOCHS": str(epochs), "MPLBACKEND": "Agg"})
    report = json.loads(done["stdout"].strip().splitlines()[-1])
    return {**done, "stdout": None, **report}


def run_engine(epochs: int, seed: int, competitors: int = 0, threads: int | None = None,
               diagnostics_every: int = 0) -> dict:
    """(b), (d) with ``competitors`` busy processes, (e) with diagnostics: ``python -m helpers.compare``, timed whole."""
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(competitors)]
    try:
        with tempfile.TemporaryDirectory(prefix="compare-") as out:
            if busy:
                time.sleep(0.5)  # let them take the cores
            done = timed_process([sys.executable, "-m", "helpers.compare", "--activations", *ACTIVATIONS,
                                  "--epochs", str(epochs), "--seed", str(seed), "--out", out, "--no-progress",
                                  "--diagnostics-every", str(diagnostics_every)], ROOT,
                                 {"LAB_THREADS": str(threads)} if threads else None)
            runs = json.loads((Path(out) / "results.json").read_text())["runs"]
    finally:
        for process in busy:
            process.kill()
            process.wait()
    first = runs[ACTIVATIONS[0]]
    return {**done, "stdout": None, "train_seconds": first["seconds"], "threads": first["threads"],
            "test_acc": {a: r["test_acc"][-1] for a, r in runs.items()},
            "iterations": {a: len(r["loss"]) for a, r in runs.items()}, "competitors": competitors,
            "fixed_threads": threads, "records": len(first.get("diagnostics", {}).get("iterations", []))}


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def diagnostics_cost(epochs: int, seed: int, every: int, pairs: int, say) -> dict:
    """(e): (b) without and with diagnostics every ``every`` iterations, interleaved; the cost as medians."""
    quiet, watched = [say("(b)", run_engine(epochs, seed))], []
    for _ in range(pairs):
        watched.append(say(f"(e) diagnostics every {every}", run_engine(epochs, seed, diagnostics_every=every)))
        quiet.append(say("(b)", run_engine(epochs, seed)))
    if any(r["test_acc"] != quiet[0]["test_acc"] for r in quiet + watched):
        raise SystemExit("recording the diagnostics changed the numbers: "
                         + "; ".join(str(r["test_acc"]) for r in quiet + watched))
    report = {"every": every, "records_per_run": watched[0]["records"], "pairs": pairs}
    for key in ("train_seconds", "wall_seconds"):
        costs = [e[key] / ((quiet[i][key] + quiet[i + 1][key]) / 2) - 1 for i, e in enumerate(watched)]
        report[key] = {"without": [r[key] for r in quiet], "with": [r[key] for r in watched], "costs": costs,
                       "median_without": _median([r[key] for r in quiet]),
                       "median_with": _median([r[key] for r in watched]), "median_cost": _median(costs)}
        print(f"{key.replace('_', ' '):<14}: without {report[key]['median_without']:6.2f} s, with "
              f"{report[key]['median_with']:6.2f} s (medians of {len(quiet)} and {len(watched)}); cost "
              f"{100 * report[key]['median_cost']:+.1f} % (median of {pairs}, each against the runs around it: "
              f"{', '.join(f'{100 * c:+.1f}' for c in costs)} %)", flush=True)
    return report


def part_live(epochs: int, seed: int) -> dict:
    """(c), in a child process: the engine's training with the live plot attached."""
    import helpers
    from helpers.plots import LivePlot

    plot = LivePlot()
    runs = helpers.train_together(ACTIVATIONS, epochs=epochs, seed=seed, progress=False, callback=plot)
    first = runs[ACTIVATIONS[0]]
    return {"train_seconds": first.seconds, "threads": first.threads,
            "test_acc": {a: h.test_acc[-1] for a, h in runs.items()},
            "plot_updates": plot.updates, "plot_seconds": plot.draw_seconds}


def run_live(epochs: int, seed: int) -> dict:
    done = timed_process([sys.executable, "-m", "benchmarks.speed", "--part", "live", "--epochs", str(epochs),
                          "--seed", str(seed)], ROOT, {"MPLBACKEND": "Agg"})
    return {**done, "stdout": None, **json.loads(done["stdout"].strip().splitlines()[-1])}


def _threads(used: dict) -> str:
    return ", ".join(f"{k} thread{'s' if k != '1' else ''}: {v} it" for k, v in used.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed", description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--pairs", type=int, default=3, help="runs of (c), each followed by a run of (b) (default 3)")
    parser.add_argument("--competitors", type=int, nargs="*", default=[2, 3],
                        help="(d): run (b) while this many busy processes compete, for each number given "
                             "(default: 2 3; none: skip (d))")
    parser.add_argument("--also-fixed", type=int, metavar="N",
                        help="(d) also with LAB_THREADS=N (e.g. 2: PyTorch's default count, never changed)")
    parser.add_argument("--diagnostics-every", type=int, metavar="K",
                        help="only (e): (b) without and with diagnostics every K iterations, interleaved --pairs times")
    parser.add_argument("--part", choices=["live"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pairs < 1 or args.epochs < 1 or any(k < 1 for k in args.competitors) or (args.diagnostics_every or 1) < 1:
        parser.error("--pairs, --epochs, --competitors and --diagnostics-every must be at least 1")

    if args.part:  # child process of (c): one JSON line
        print(json.dumps(part_live(args.epochs, args.seed)))
        return 0

    import torch

    from helpers.data import ensure_mnist

    data_root = ensure_mnist()  # unpacked and checked once, here, for every part
    from helpers._machinery.threads import MKL_MODE_VARIABLE, processor_name

    print(f"benchmark: {' '.join(ACTIVATIONS)} x {args.epochs} epoch(s), batch 64, Adam 1e-3, seed {args.seed}, "
          f"torch {torch.__version__}, {os.cpu_count()} CPUs ({processor_name()}), PyTorch's default "
          f"{torch.get_num_threads()} threads, {MKL_MODE_VARIABLE}={os.environ.get(MKL_MODE_VARIABLE, '')}, "
          f"{'CUDA ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU'}", flush=True)
    def say(label: str, run: dict) -> dict:  # every run, as it ends
        print(f"  {label:<26} whole {run['wall_seconds']:6.1f} s   training {run['train_seconds']:6.1f} s"
              + (f"   {_threads(run['threads'])}" if "threads" in run else ""), flush=True)
        return run

    if args.diagnostics_every:
        report = {"e": diagnostics_cost(args.epochs, args.seed, args.diagnostics_every, args.pairs, say),
                  "epochs": args.epochs, "activations": ACTIVATIONS}
        if args.json:
            from helpers._machinery.files import atomic_write_text
            atomic_write_text(args.json, json.dumps(report, indent=1))
        return 0
    quiet = [say("(b)", run_engine(args.epochs, args.seed))]
    a = say("(a)", run_practical(args.epochs, data_root))
    quiet.append(say("(b)", run_engine(args.epochs, args.seed)))
    live, contended = [], []
    for _ in range(args.pairs):
        live.append(say("(c)", run_live(args.epochs, args.seed)))
        quiet.append(say("(b)", run_engine(args.epochs, args.seed)))
    for k in args.competitors:
        for fixed in [None, args.also_fixed] if args.also_fixed else [None]:
            contended.append(say(f"(d) {k} busy processes" + (f", {fixed} fixed" if fixed else ""),
                                 run_engine(args.epochs, args.seed, competitors=k, threads=fixed)))
            quiet.append(say("(b)", run_engine(args.epochs, args.seed)))
    if any(r["test_acc"] != quiet[0]["test_acc"] for r in quiet + live + contended):
        raise SystemExit("the engine gave different numbers on rerun: "
                         + "; ".join(str(r["test_acc"]) for r in quiet + live + contended))

    def around(i: int, key: str) -> float:  # the mean of the quiet (b) runs just before and after measurement i
        return (quiet[i][key] + quiet[i + 1][key]) / 2

    b = {"wall_seconds": around(0, "wall_seconds"), "train_seconds": around(0, "train_seconds"),
         "peak_rss_mb": max(r["peak_rss_mb"] for r in quiet), "test_acc": quiet[0]["test_acc"],
         "iterations": quiet[0]["iterations"], "threads": quiet[0]["threads"],
         "runs_wall_seconds": [r["wall_seconds"] for r in quiet],
         "runs_train_seconds": [r["train_seconds"] for r in quiet]}
    ratio_whole, ratio_train = a["wall_seconds"] / b["wall_seconds"], a["train_seconds"] / b["train_seconds"]
    overheads = [c["train_seconds"] / around(i + 1, "train_seconds") - 1 for i, c in enumerate(live)]
    overhead = sorted(overheads)[len(overheads) // 2]  # the median (for an even count, the upper one)
    c = live[overheads.index(overhead)]
    live_seconds = ", ".join(f"{r['train_seconds']:.1f}" for r in live)
    print(f"{'':24}{'whole process':>14}{'training':>10}{'peak RSS':>10}")
    print(f"(a) practical's script  {a['wall_seconds']:12.1f} s{a['train_seconds']:8.1f} s{a['peak_rss_mb']:7.0f} MB"
          f"   (figure drawn after {a['seconds_to_figure']:.1f} s)")
    print(f"(b) lab engine          {b['wall_seconds']:12.1f} s{b['train_seconds']:8.1f} s{b['peak_rss_mb']:7.0f} MB"
          f"   (mean of the runs just before and after (a); {_threads(b['threads'])})")
    print(f"    all quiet runs of (b): whole {', '.join(f'{t:.1f}' for t in b['runs_wall_seconds'])} s; "
          f"training {', '.join(f'{t:.1f}' for t in b['runs_train_seconds'])} s")
    print(f"(c) (b) + live plot     {'':>14}{c['train_seconds']:8.1f} s{c['peak_rss_mb']:7.0f} MB"
          f"   ({c['plot_updates']} redraws, {c['plot_seconds']:.2f} s drawing; all runs: "
          f"{live_seconds} s)")
    print(f"speed-up (a)/(b)        : {ratio_whole:8.1f}x whole process, {ratio_train:.1f}x training")
    print(f"live-plot overhead      : {100 * overhead:+8.1f} %   (median of {len(overheads)}, each (c) against the (b) "
          f"runs around it: {', '.join(f'{100 * o:+.1f}' for o in overheads)} %)")
    rows = []
    for i, d in enumerate(contended):
        reference = around(args.pairs + 1 + i, "wall_seconds")
        rows.append({**d, "quiet_wall_seconds": reference, "slowdown": d["wall_seconds"] / reference})
        label = f"(d) {d['competitors']} busy" + (f", LAB_THREADS={d['fixed_threads']}" if d["fixed_threads"] else " processes")
        print(f"{label:<24}{d['wall_seconds']:12.1f} s{d['train_seconds']:8.1f} s"
              f"{d['peak_rss_mb']:7.0f} MB   {d['wall_seconds'] / reference:.2f}x the quiet runs around it "
              f"({reference:.1f} s); {_threads(d['threads'])}")
    print("test accuracy           :   (a)       (b)      diff")
    worst = 0.0
    for name in ACTIVATIONS:
        diff = b["test_acc"][name] - a["test_acc"][name]
        worst = max(worst, abs(diff))
        print(f"  {name:<21}: {100 * a['test_acc'][name]:6.2f}%  {100 * b['test_acc'][name]:6.2f}%  {100 * diff:+6.2f}")
    agree = worst <= ACCURACY_TOLERANCE
    print(f"accuracies agree within {100 * ACCURACY_TOLERANCE:.1f} points: {'yes' if agree else 'NO'}")
    report = {"a": a, "b": b, "c": dict(c, overheads=overheads), "d": rows, "ratio": ratio_whole,
              "ratio_training": ratio_train, "live_overhead": overhead, "accuracies_agree": agree,
              "epochs": args.epochs, "activations": ACTIVATIONS}
    if args.json:
        from helpers._machinery.files import atomic_write_text
        atomic_write_text(args.json, json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
