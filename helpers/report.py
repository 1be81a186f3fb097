"""Turning a run into sentences and tables: every number a notebook states comes from here, computed."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import mean
from typing import Mapping

import torch

from ._machinery.claims import claim  # noqa: F401 - notebooks check their sentences with report.claim
from .history import History

# The practical's "expected results" table: a textbook expectation, quoted, not a measurement.
EXPECTED_TEST_ACC: dict[str, tuple[float, float]] = {
    "Sigmoid": (0.90, 0.92),
    "Tanh": (0.94, 0.95),
    "ReLU": (0.97, 0.98),
}


def pct(x: float, digits: int = 2) -> str:
    """0.97123 -> '97.12 %' (all notebooks)."""
    return f"{100 * x:.{digits}f} %"


def smooth(values: list[float], window: int = 50) -> list[float]:
    """Moving average over the last ``window`` values (shorter at the start): makes trends readable (notebooks 03-06)."""
    if not values:
        return []
    x = torch.tensor(values, dtype=torch.float64)
    sums = torch.cat([torch.zeros(1, dtype=torch.float64), x.cumsum(0)])
    idx = torch.arange(1, len(x) + 1)
    lo = (idx - window).clamp(min=0)
    return ((sums[idx] - sums[lo]) / (idx - lo)).tolist()


def summary_rows(runs: Mapping[str, History]) -> list[dict]:
    """One row per activation: final train/test accuracy, mean gradient norm of the last epoch, seconds (notebook 04, the command line)."""
    return [{"activation": name, "train_acc": h.train_acc[-1], "test_acc": h.test_acc[-1],
             "mean_grad_norm_last_epoch": _last_epoch_mean(h.grad_norm, h.iterations_per_epoch),
             "seconds": h.seconds} for name, h in runs.items()]


def _table(header: str, align: str, rows: list[list]) -> str:
    """A Markdown table: ``header`` and ``align`` with cells split by "|", then one line per row."""
    return "\n".join([f"| {header} |", f"| {align} |", *("| " + " | ".join(map(str, row)) + " |" for row in rows)])


def ranking(values: Mapping[str, float]) -> list[str]:
    """Names from the highest value to the lowest (notebooks 04, 05, 06)."""
    return sorted(values, key=values.get, reverse=True)


def results_table(runs: Mapping[str, History]) -> str:
    """Markdown table: final train and test accuracy, mean gradient norm of the last epoch, seconds (notebook 04)."""
    return _table("activation | final train accuracy | test accuracy | mean gradient norm, last epoch | seconds",
                  "--- | ---: | ---: | ---: | ---:",
                  [[r["activation"], pct(r["train_acc"]), pct(r["test_acc"]), f"{r['mean_grad_norm_last_epoch']:.3f}",
                    f"{r['seconds']:.1f}"] for r in summary_rows(runs)])


def verdict(measured: float, expected: tuple[float, float]) -> str:
    """'within the range', 'above the range by 1.23 points' or 'below the range by 0.50 points' (notebooks 04, 05)."""
    low, high = expected
    if measured < low:
        return f"below the range by {100 * (low - measured):.2f} points"
    if measured > high:
        return f"above the range by {100 * (measured - high):.2f} points"
    return "within the range"


def expected_vs_measured(runs: Mapping[str, History]) -> str:
    """Markdown table: the practical's expected range beside this run's test accuracy (notebook 04)."""
    return _table("activation | practical's expectation | measured test accuracy | measured vs expected",
                  "--- | :---: | ---: | ---",
                  [[name, f"{100 * low:.0f}–{100 * high:.0f} %", pct(h.test_acc[-1]),
                    verdict(h.test_acc[-1], (low, high))]
                   for name, h in runs.items() if name in EXPECTED_TEST_ACC for low, high in [EXPECTED_TEST_ACC[name]]])


def momentum_sentence(sgd: Mapping[str, float], momentum: Mapping[str, float]) -> str:
    """Notebook 05 §4: what momentum did to each activation's test accuracy, and to the ReLU − Sigmoid gap."""
    gain = {n: momentum[n] - sgd[n] for n in sgd}
    before, after = sgd["ReLU"] - sgd["Sigmoid"], momentum["ReLU"] - momentum["Sigmoid"]
    others = [n for n in sgd if n != "Sigmoid"]
    return ("Momentum took " + " and ".join(f"{n} from {pct(sgd[n])} to {pct(momentum[n])}" for n in others)
            + (", but Sigmoid only" if all(gain["Sigmoid"] < gain[n] for n in others) else ", and Sigmoid")
            + f" from {pct(sgd['Sigmoid'])} to {pct(momentum['Sigmoid'])}: the ReLU − Sigmoid gap "
            f"{'widened' if after > before else 'narrowed'} from {100 * before:.1f} to {100 * after:.1f} points.")


def expected_gap_sentence(gap: Mapping[str, float]) -> str:
    """Notebook 05 §4: each setting's ReLU − Sigmoid test-accuracy gap beside the practical's expected one."""
    relu, sigmoid = EXPECTED_TEST_ACC["ReLU"], EXPECTED_TEST_ACC["Sigmoid"]
    span = (relu[0] - sigmoid[1], relu[1] - sigmoid[0])
    apart = {o: max(span[0] - g, g - span[1], 0) for o, g in gap.items()}
    inside = [o for o, d in apart.items() if d == 0]
    return (f"The practical's expected results put ReLU {100 * span[0]:.0f}–{100 * span[1]:.0f} points above Sigmoid; "
            "here ReLU − Sigmoid is " + ", ".join(f"{100 * g:+.1f} with {o} ({verdict(g, span)})" for o, g in gap.items())
            + ". " + (f"In the range: {', '.join(inside)}." if inside else
                      f"None is in the range; the closest is {min(apart, key=apart.get)}."))


def _last_epoch_mean(values: list[float], per_epoch: int) -> float:
    """Mean over the last epoch's iterations."""
    return mean(values[-per_epoch:])


@dataclass
class _NormStory:
    """The shape of one gradient-norm curve, measured: start, peak, last epoch."""

    start: float  # mean over the first 20 iterations
    peak: float  # highest value of the 50-iteration moving average
    peak_iteration: int
    last_epoch: float  # mean over the last epoch
    last_epoch_spread: float  # (max - min) / mean of the moving average within the last epoch

    def sentence(self, name: str) -> str:
        """What the curve did, in words built from the numbers above."""
        rise = (f"rose from {self.start:.3f} to a peak of {self.peak:.3f} (moving average) at iteration "
                f"{self.peak_iteration}" if self.peak > 1.05 * self.start else
                f"started at {self.start:.3f} and never rose much above it (peak {self.peak:.3f})")
        end = ("then fell" if self.last_epoch < self.peak else "and kept rising")
        return (f"For {name}, the global gradient norm {rise}, {end}: its mean over the last epoch is "
                f"{self.last_epoch:.3f}, {self.last_epoch / self.peak:.0%} of the peak.")


def norm_story(history: History, window: int = 50) -> _NormStory:
    """Measure the shape of a run's gradient-norm curve (notebook 03)."""
    smoothed = smooth(history.grad_norm, window)[window:]  # skip the average's warm-up
    peak = max(smoothed)
    last = history.grad_norm[-history.iterations_per_epoch:]
    last_smooth = smooth(history.grad_norm, window)[-history.iterations_per_epoch:]
    return _NormStory(start=mean(history.grad_norm[:20]), peak=peak,
                     peak_iteration=window + smoothed.index(peak) + 1, last_epoch=mean(last),
                     last_epoch_spread=(max(last_smooth) - min(last_smooth)) / mean(last_smooth))


# ----------------------------------------------------------------------------- several seeds

# 97.5 % quantiles of Student's t distribution by degrees of freedom: a 95 % interval for a mean of few values.
_T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
          12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042}


def _t_975(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom (the next tabulated df below)."""
    if df < 1:
        raise ValueError("a confidence interval needs at least two values (df >= 1).")
    return _T_975[max(k for k in _T_975 if k <= df)] if df <= 30 else 1.96


@dataclass
class _PairedDifference:
    """Test accuracy of ``a`` minus that of ``b``, seed by seed (the same seed: the same weights and batches)."""

    a: str
    b: str
    differences: list[float]

    @property
    def mean(self) -> float:
        return mean(self.differences)

    @property
    def std(self) -> float:
        return float(torch.tensor(self.differences, dtype=torch.float64).std())

    @property
    def interval(self) -> tuple[float, float]:
        """95 % confidence interval of the mean difference (t distribution, n - 1 degrees of freedom)."""
        half = _t_975(len(self.differences) - 1) * self.std / len(self.differences) ** 0.5
        return self.mean - half, self.mean + half

    @property
    def resolved(self) -> bool:
        """The interval excludes 0: these seeds say which of the two is better at these settings."""
        low, high = self.interval
        return low > 0 or high < 0


def paired_differences(final: Mapping[str, list[float]]) -> list[_PairedDifference]:
    """Every pair of activations, better mean first: ``final`` maps each to its test accuracy per seed (notebooks 04, 06)."""
    order = ranking({name: mean(values) for name, values in final.items()})
    return [_PairedDifference(a, b, [x - y for x, y in zip(final[a], final[b])])
            for i, a in enumerate(order) for b in order[i + 1:]]


def seeds_table(final: Mapping[str, list[float]]) -> str:
    """Markdown table: per activation, mean ± standard deviation of the test accuracy over seeds, and its range (notebook 04)."""
    return _table("activation | test accuracy, mean ± std over seeds | lowest – highest", "--- | ---: | ---:",
                  [[name, f"{pct(mean(v))} ± {100 * float(torch.tensor(v, dtype=torch.float64).std()):.2f}",
                    f"{pct(min(v))} – {pct(max(v))}"] for name, v in final.items()])


def paired_table(pairs: list[_PairedDifference]) -> str:
    """Markdown table: each pair's mean paired difference, its spread, its 95 % interval and whether it is resolved (notebook 04)."""
    return _table("pair | mean difference | std of the differences | 95 % interval | seeds won | resolved?",
                  "--- | ---: | ---: | ---: | ---: | ---",
                  [[f"{p.a} − {p.b}", f"{100 * p.mean:+.2f} points", f"{100 * p.std:.2f}",
                    f"{100 * p.interval[0]:+.2f} to {100 * p.interval[1]:+.2f}",
                    f"{sum(d > 0 for d in p.differences)} of {len(p.differences)}", "yes" if p.resolved else "no"]
                   for p in pairs])
