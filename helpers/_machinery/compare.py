"""The practical's whole experiment without a notebook.

    python -m helpers.compare --activations Sigmoid Tanh ReLU --epochs 5 --seed 0 --out results/

prints a table and writes ``results.json`` and ``comparison.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Mapping, Sequence

from ..activations import ACTIVATIONS, PRACTICAL_ACTIVATIONS, activation_name
from ..history import History, TrainingDiverged, TrainingUnstable
from ..report import summary_rows
from ..practical import pick_device
from ..train import TrainConfig, train_together
from .mnist_files import DataError
from .files import IncompleteWrite, atomic_write_files, write_temporary
from .threads import fixed_threads

RESULT_FILES = ("results.json", "comparison.png")  # written into --out as a pair


def format_table(rows: list[dict], unstable: Sequence[str] = ()) -> str:
    """The summary as a fixed-width text table; the rows of ``unstable`` runs are marked."""
    header = f"{'activation':<11} {'train acc':>9} {'test acc':>9} {'grad norm (last epoch)':>23} {'seconds':>8}"
    lines = [header, "-" * len(header)]
    for r in rows:
        mark = "  unstable (see below)" if r["activation"] in unstable else ""
        lines.append(f"{r['activation']:<11} {100 * r['train_acc']:>8.2f}% {100 * r['test_acc']:>8.2f}% "
                     f"{r['mean_grad_norm_last_epoch']:>23.4f} {r['seconds']:>8.1f}{mark}")
    return "\n".join(lines)


def results_json(runs: Mapping[str, History]) -> dict:
    """The shape written to results.json: the shared config, then one entry per activation."""
    plain = {name: h.to_dict() for name, h in runs.items()}
    config = next(iter(plain.values()))["config"]
    return {"config": config, "summary": summary_rows(runs),
            "runs": {name: {k: v for k, v in d.items() if k != "config"} for name, d in plain.items()}}


def _activation(text: str) -> str:
    try:
        return activation_name(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


class _Once(argparse.Action):
    """Store a flag's value, refusing the flag if it is given twice (argparse would keep the last silently)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        given = namespace.__dict__.setdefault("_given", {})
        if self.dest in given:
            parser.error(f"argument {option_string}: given twice ({given[self.dest]}, then {values}); give each "
                         f"setting once")
        given[self.dest] = values
        setattr(namespace, self.dest, values)


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag gives one line (what is wrong, and where help is), not the usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = _Parser(prog="python -m helpers.compare", description=__doc__.split("\n")[1])
    parser.add_argument("--activations", nargs="+", action="extend", type=_activation, default=None,
                        metavar="NAME", help=f"any of {', '.join(ACTIVATIONS)} (default: Sigmoid Tanh ReLU)")
    parser.add_argument("--epochs", type=int, default=5, action=_Once)
    parser.add_argument("--seed", type=int, default=0, action=_Once)
    parser.add_argument("--batch-size", type=int, default=64, action=_Once)
    parser.add_argument("--lr", type=float, default=1e-3, action=_Once)
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam", action=_Once)
    parser.add_argument("--device", default=None, action=_Once,
                        help="cpu, cuda or mps, any case (default: the fastest available)")
    parser.add_argument("--out", type=Path, default=Path("results"), action=_Once,
                        help="folder for results.json and comparison.png")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--diagnostics-every", type=int, default=0, metavar="K",
                        help="record update ratios and activation histograms every K iterations (default 0: none)")
    args = parser.parse_args(argv)
    vars(args).pop("_given", None)
    # --activations ReLU --activations Tanh: both; a name given twice is trained once
    args.activations = list(dict.fromkeys(args.activations or PRACTICAL_ACTIVATIONS))
    try:
        fixed_threads()  # a bad LAB_THREADS is said now, not after MNIST has loaded
    except ValueError as err:
        parser.error(str(err))
    try:
        args.device = str(pick_device(args.device))
    except (ValueError, RuntimeError) as err:
        parser.error(f"argument --device: {err}")
    try:  # TrainConfig checks the settings; its message becomes the one-line error
        args.config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                  optimizer=args.optimizer, seed=args.seed, device=args.device,
                                  diagnostics_every=args.diagnostics_every)
    except ValueError as err:
        parser.error(str(err))
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"argument --out: {args.out} is a file, not a folder")
    for name in RESULT_FILES:  # a folder where a result file goes: found now, not after training
        if (args.out / name).is_dir():
            parser.error(f"argument --out: {args.out / name} is a folder, but the results are written to a file of "
                         f"that name; move or delete that folder, or choose another --out")
    try:  # a test file written and removed: an unwritable --out must not cost the whole training
        args.out.mkdir(parents=True, exist_ok=True)
        write_temporary(args.out / "results.json", b"{}").unlink()
    except OSError as err:
        parser.error(f"argument --out: cannot write into {args.out} ({err.strerror or err})")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Train, print the table (and any run that blew up), write results.json and comparison.png."""
    args = parse_args(argv)
    try:
        with warnings.catch_warnings():  # said below, beside the table, instead of as a Python warning
            warnings.simplefilter("ignore", TrainingUnstable)
            runs = train_together(args.activations, args.config, progress=not args.no_progress)
    except (DataError, TrainingDiverged) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:
        print(f"error: {_interrupted(err)} Nothing was written to {args.out}; run the command again to start "
              f"over.", file=sys.stderr)
        return 130
    unstable = [name for name, h in runs.items() if h.warnings]
    print(format_table(summary_rows(runs), unstable))
    print(f"(trained together in one pass on {args.device}: 'seconds' is the shared wall clock)")
    for name in unstable:
        print(f"warning: {' '.join(runs[name].warnings)}", file=sys.stderr)
    return _write(args.out, runs)


def _interrupted(err: KeyboardInterrupt) -> str:
    """What was done when Ctrl-C stopped the command, in a terminal user's words."""
    runs = getattr(err, "runs", None)
    if not runs:
        return "Interrupted (Ctrl-C) before training started."
    h = next(iter(runs.values()))
    return f"Training was interrupted (Ctrl-C) after {len(h.train_acc)} full epoch(s) and {len(h.loss)} iterations."


def _write(out: Path, runs: Mapping[str, History]) -> int:
    """Write results.json and comparison.png as a pair: both new, or (disk full) both as they were."""
    from ..plots import plot_comparison  # matplotlib only once there is something to draw
    from .figure_style import figure_png

    contents: dict[Path, bytes] = {}
    try:
        contents = {out / "results.json": json.dumps(results_json(runs), indent=1).encode("utf-8"),
                    out / "comparison.png": figure_png(plot_comparison(runs), dpi=100)}
        atomic_write_files(contents)
    except KeyboardInterrupt:
        return _interrupted_writing(out, contents)
    except IncompleteWrite as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: cannot write results into {out}: {err.strerror or err}. The files there (if any, from an "
              f"earlier run) are as they were.", file=sys.stderr)
        return 1
    print(f"wrote {out / 'results.json'} and {out / 'comparison.png'}")
    return 0


def _interrupted_writing(out: Path, contents: dict[Path, bytes]) -> int:
    """Ctrl-C while the results were made or written: never one new file beside an old one; say so (exit 130)."""
    new = [path for path, data in contents.items() if _holds(path, data)]
    state = "the files there (if any, from an earlier run) are as they were. Run the command again to write them"
    if len(new) == len(contents) == len(RESULT_FILES):
        state = "both files were written in full"
    elif new:
        old = [path for path in contents if path not in new and path.exists()]
        try:
            for path in old:  # an earlier run's file must not pass for this run's partner
                path.replace(path.with_name(path.name + ".stale"))
            aside = f"; the earlier run's {old[0].name} was renamed {old[0].name}.stale" if old else ""
        except OSError:
            aside = f"; {old[0].name} beside it is from an earlier run"
        state = f"only {new[0].name} is from this run{aside}. Run the command again to write both"
    print(f"error: Interrupted (Ctrl-C) while writing the results into {out}: {state}.", file=sys.stderr)
    return 130


def _holds(path: Path, data: bytes) -> bool:
    """Whether the file at ``path`` holds exactly ``data``."""
    try:
        return path.read_bytes() == data
    except OSError:
        return False
