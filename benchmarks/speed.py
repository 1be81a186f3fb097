"""Side-by-side speed benchmark: the practical's own script vs this lab's engine, same machine, one run.

    python -m benchmarks.speed                       # the full setting: 3 activations x 5 epochs
    python -m benchmarks.speed --epochs 1 --activations ReLU   # a quick check

Parts, each in a fresh Python process (clean memory and thread state):
  (a) helpers.practical.train_plain, the practical's loop: DataLoader + per-image transforms + per-parameter
      .item() norms (the same function notebook 03 shows and runs);
  (b) helpers.train_together: the same activations, epochs, batch size, optimizer and
      recorded metrics (per-iteration loss and gradient norm, per-epoch train and test accuracy);
  (c) (b) with notebook 03's live plot attached.
Each part's seconds include building its data tensors or datasets, not the Python imports.

This machine's speed drifts by 10-30 % over minutes (other tenants on the host), so each
measurement is bracketed by runs of (b): the order is (b) (a) (b) (c) (b) (c) (b) ... .
The ratio divides (a) by the mean of the two (b) runs around it.  The live plot's overhead is
small next to that noise, so (c) runs ``--pairs`` times (default 3), each compared with the
mean of the two (b) runs around it, and the median of those overheads is reported.  Every run
is printed, and all runs of (b) and (c) must give the same numbers.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCURACY_TOLERANCE = 0.015  # |test acc (a) - (b)| allowed: normal seed-to-seed spread at 5 epochs


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def part_practical(activations: list[str], epochs: int, seed: int, flush_denormal: bool = False) -> dict:
    """(a): the practical's loop, ``helpers.practical.train_plain``, once per activation."""
    import torch

    import helpers.practical

    # Importing helpers switches on flush-to-zero for denormal floats, an engineering choice of ours that
    # the practical's script does not make: switched back here, before PyTorch starts its threads.
    # (a') keeps it on, to show what it alone is worth.
    torch.set_flush_denormal(flush_denormal)
    start = time.perf_counter()
    runs = {a: helpers.practical.train_plain(a, epochs, seed=seed) for a in activations}
    return {"seconds": time.perf_counter() - start, "test_acc": {a: h.test_acc[-1] for a, h in runs.items()},
            "iterations": {a: len(h.loss) for a, h in runs.items()}}


def part_engine(activations: list[str], epochs: int, seed: int, live: bool) -> dict:
    import helpers
    from helpers.plots import LivePlot

    helpers.ensure_mnist()
    plot = LivePlot() if live else None
    start = time.perf_counter()
    data = helpers.load_mnist()
    runs = helpers.train_together(activations, epochs=epochs, seed=seed, progress=False, data=data, callback=plot)
    out = {"seconds": time.perf_counter() - start, "test_acc": {a: h.test_acc[-1] for a, h in runs.items()},
           "iterations": {a: len(h.loss) for a, h in runs.items()}}
    if plot is not None:
        out.update(plot_updates=plot.updates, plot_seconds=plot.draw_seconds)
    return out


def run_part(name: str, args: argparse.Namespace) -> dict:
    """Run one part in a child process and return its JSON report (with its peak memory)."""
    cmd = [sys.executable, "-m", "benchmarks.speed", "--part", name, "--epochs", str(args.epochs),
           "--seed", str(args.seed), "--activations", *args.activations]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"part {name} failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed", description=__doc__.split("\n")[0])
    parser.add_argument("--activations", nargs="+", default=["Sigmoid", "Tanh", "ReLU"])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--pairs", type=int, default=3, help="runs of (c), each followed by a run of (b) (default 3)")
    parser.add_argument("--with-ftz-baseline", action="store_true",
                        help="also time (a') the practical's script with denormals flushed to zero")
    parser.add_argument("--part", choices=["practical", "practical_ftz", "engine", "live"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")

    if args.part:  # child process: do one part, print one JSON line
        if args.part.startswith("practical"):
            report = part_practical(args.activations, args.epochs, args.seed,
                                    flush_denormal=args.part == "practical_ftz")
        else:
            report = part_engine(args.activations, args.epochs, args.seed, live=args.part == "live")
        report["peak_rss_mb"] = _peak_rss_mb()
        print(json.dumps(report))
        return 0

    import torch

    from helpers.data import ensure_mnist
    from helpers.model import activation_name

    args.activations = [activation_name(a) for a in args.activations]
    ensure_mnist()  # unpacked and checked once, here, for every part
    print(f"benchmark: {' '.join(args.activations)} x {args.epochs} epoch(s), batch 64, Adam 1e-3, "
          f"seed {args.seed}, torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    engine_runs, a = [run_part("engine", args)], run_part("practical", args)
    engine_runs.append(run_part("engine", args))
    live_runs = []
    for _ in range(args.pairs):
        live_runs.append(run_part("live", args))
        engine_runs.append(run_part("engine", args))
    if any(r["test_acc"] != engine_runs[0]["test_acc"] for r in engine_runs + live_runs):
        raise SystemExit("the engine gave different numbers on rerun: "
                         + "; ".join(str(r["test_acc"]) for r in engine_runs + live_runs))
    runs = [r["seconds"] for r in engine_runs]
    b = dict(engine_runs[0], seconds=(runs[0] + runs[1]) / 2, runs_seconds=runs,
             peak_rss_mb=max(r["peak_rss_mb"] for r in engine_runs))
    ratio = a["seconds"] / b["seconds"]
    overheads = [c_run["seconds"] / ((runs[i + 1] + runs[i + 2]) / 2) - 1 for i, c_run in enumerate(live_runs)]
    overhead = sorted(overheads)[len(overheads) // 2]  # the median (for an even count, the upper one)
    c = dict(live_runs[overheads.index(overhead)], runs_seconds=[r["seconds"] for r in live_runs],
             overheads=overheads, peak_rss_mb=max(r["peak_rss_mb"] for r in live_runs))
    print(f"(a) practical's script : {a['seconds']:8.1f} s   peak RSS {a['peak_rss_mb']:6.0f} MB")
    if args.with_ftz_baseline:
        a2 = run_part("practical_ftz", args)
        print(f"(a') (a) + flush denormals: {a2['seconds']:6.1f} s   peak RSS {a2['peak_rss_mb']:6.0f} MB"
              f"   (speed-up over it: {a2['seconds'] / b['seconds']:.1f}x)")
    print(f"(b) lab engine          : {b['seconds']:8.1f} s   peak RSS {b['peak_rss_mb']:6.0f} MB"
          f"   (mean of the runs just before and after (a); all runs: {', '.join(f'{t:.1f}' for t in runs)} s)")
    print(f"(c) engine + live plot  : {c['seconds']:8.1f} s   peak RSS {c['peak_rss_mb']:6.0f} MB"
          f"   ({c['plot_updates']} redraws, {c['plot_seconds']:.2f} s drawing; "
          f"all runs: {', '.join(f'{t:.1f}' for t in c['runs_seconds'])} s)")
    print(f"speed-up (a)/(b)        : {ratio:8.1f}x")
    print(f"live-plot overhead      : {100 * overhead:+8.1f} %   (median of {len(overheads)}, each (c) against the (b) "
          f"runs around it: {', '.join(f'{100 * o:+.1f}' for o in overheads)} %; drawing alone: "
          f"{100 * c['plot_seconds'] / c['seconds']:.1f} % of (c))")
    print("test accuracy           :   (a)       (b)      diff")
    worst = 0.0
    for name in args.activations:
        diff = b["test_acc"][name] - a["test_acc"][name]
        worst = max(worst, abs(diff))
        print(f"  {name:<21}: {100 * a['test_acc'][name]:6.2f}%  {100 * b['test_acc'][name]:6.2f}%  {100 * diff:+6.2f}")
    agree = worst <= ACCURACY_TOLERANCE
    print(f"accuracies agree within {100 * ACCURACY_TOLERANCE:.1f} points: {'yes' if agree else 'NO'}")
    report = {"a": a, "a_ftz": a2 if args.with_ftz_baseline else None, "b": b, "c": c, "ratio": ratio,
              "live_overhead": overhead, "accuracies_agree": agree, "epochs": args.epochs,
              "activations": args.activations}
    if args.json:
        from helpers.files import atomic_write_text
        atomic_write_text(args.json, json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
