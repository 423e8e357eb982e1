"""Where training statistics go: ``metrics.jsonl``, TensorBoard (when installed), the terminal.

``metrics.jsonl`` holds one JSON object per line: ``step`` (steps completed), ``time``
(Unix time), ``elapsed`` (seconds since this session started) and every statistic,
averaged over the steps since the previous line. Flat keys (``loss/generator/adv``) load
straight into a data frame.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["MetricsLogger", "ProgressDisplay", "DurationEstimate", "format_duration", "quiet_from_env", "ENV_QUIET",
           "truncate_metrics"]

#: Set to 1 to silence the progress display (tests, batch jobs).
ENV_QUIET = "VIDGAN_QUIET"


def quiet_from_env() -> bool:
    return os.environ.get(ENV_QUIET, "").strip().lower() in {"1", "true", "yes", "on"}


def truncate_metrics(path: Path, step: int) -> None:
    """Drop lines logged after ``step``: a resumed run re-does those steps and re-logs them."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line).get("step", 0) <= step:
                kept.append(line)
        except json.JSONDecodeError:
            continue  # a line cut short by the kill
    path.write_text("".join(k + "\n" for k in kept), encoding="utf-8")


class MetricsLogger:
    """Averages per-step stats and writes them every ``log_every`` steps."""

    def __init__(self, run_dir: Path, *, enabled: bool = True, tensorboard: bool = True) -> None:
        self.path = run_dir / "metrics.jsonl"
        self.enabled = enabled
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._start = time.time()
        self._file = open(self.path, "a", encoding="utf-8") if enabled else None  # noqa: SIM115
        self.tb: Any = None
        if enabled and tensorboard:
            try:  # optional: torch.utils.tensorboard needs the tensorboard package
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                SummaryWriter = None  # noqa: N806
            if SummaryWriter is not None:
                self.tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"))

    def accumulate(self, stats: dict[str, float]) -> None:
        for k, v in stats.items():
            if v is None or not isinstance(v, int | float):
                continue
            self._sums[k] = self._sums.get(k, 0.0) + float(v)
            self._counts[k] = self._counts.get(k, 0) + 1

    def flush(self, step: int) -> dict[str, float]:
        """Write the averages since the last flush as one line; returns them."""
        means = {k: self._sums[k] / self._counts[k] for k in self._sums}
        self._sums.clear()
        self._counts.clear()
        if not self.enabled or not means:
            return means
        now = time.time()
        record: dict[str, Any] = {"step": step, "time": round(now, 3), "elapsed": round(now - self._start, 3)}
        # JSON has no NaN/inf; write null so every line stays parseable by strict readers.
        record.update({k: (v if math.isfinite(v) else None) for k, v in sorted(means.items())})
        assert self._file is not None
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self.tb is not None:
            for k, v in means.items():
                self.tb.add_scalar(k, v, step)
        return means

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.tb is not None:
            self.tb.close()
            self.tb = None


def _short(stats: dict[str, float], extra: dict[str, float] | None = None) -> str:
    """The phase totals, then ``extra`` by their last name: ``generator 0.567 · kl 3.2``."""
    parts = []
    for k, v in stats.items():
        if k.startswith("loss/") and k.count("/") == 1:
            parts.append(f"{k[5:]} {v:.4g}")
    for k, v in (extra or {}).items():
        parts.append(f"{k.rsplit('/', 1)[-1]} {v:.4g}")
    return " · ".join(parts)


class ProgressDisplay:
    """A rich progress bar on a terminal, one plain line per log interval otherwise.

    ``quiet`` silences both (tests set ``VIDGAN_QUIET=1`` or pass ``quiet=True``).
    ``extra_keys`` are logged values shown beside the losses (their latest value: most are
    only computed every ``log_every`` steps).
    """

    def __init__(
        self, total: int, start: int, *, enabled: bool, quiet: bool, extra_keys: tuple[str, ...] = ()
    ) -> None:
        self.total, self.quiet = total, quiet or not enabled
        self.extra_keys = tuple(extra_keys)
        self._extra: dict[str, float] = {}
        self._progress: Any = None
        self._task: Any = None
        if self.quiet:
            return
        from rich.console import Console

        console = Console(stderr=True)
        if console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("[bold]train"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:>7} it/s"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[losses]}"),
                console=console,
                transient=False,
            )
            self._task = self._progress.add_task("train", total=total, completed=start, rate="-", losses="")

    def __enter__(self) -> ProgressDisplay:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _remember(self, stats: dict[str, float]) -> dict[str, float]:
        self._extra.update({k: stats[k] for k in self.extra_keys if k in stats})
        return self._extra

    def update(self, step: int, stats: dict[str, float], rate: float) -> None:
        extra = self._remember(stats)
        if self._progress is not None:
            self._progress.update(self._task, completed=step, rate=f"{rate:.2f}", losses=_short(stats, extra))

    def note(self, text: str) -> None:
        """One line above the bar (or on stderr without one); nothing when quiet."""
        if self.quiet:
            return
        if self._progress is not None:
            self._progress.console.print(text, highlight=False)
        else:
            print(text, file=sys.stderr, flush=True)

    def log_line(self, step: int, means: dict[str, float]) -> None:
        """Called at each metrics line; prints it when there is no live bar."""
        extra = self._remember(means)
        if self.quiet or self._progress is not None:
            return
        rate = means.get("perf/it_per_s", float("nan"))
        print(f"step {step}/{self.total}  {rate:.2f} it/s  {_short(means, extra)}", file=sys.stderr, flush=True)


def format_duration(seconds: float) -> str:
    """``40 s``, ``12 min``, ``3.5 h``, ``11 h``, ``4.2 days``: two digits at most, a reader's unit."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    hours = seconds / 3600
    if hours < 48:
        return f"{hours:.1f} h" if hours < 10 else f"{round(hours)} h"
    return f"{hours / 24:.1f} days"


class DurationEstimate:
    """The run's expected duration from the wall time of its own first steps.

    The first ``skip`` steps are not timed (they set up kernels and allocate memory); the next
    ``measure`` are, whole iterations including whatever logging they did. Timing reads the
    clock only: the steps and what they learn are those of a run without it.
    """

    #: Above this (seconds) on a CPU, the line suggests a faster way.
    LONG = 3600.0

    def __init__(self, start: int, end: int, device: str, *, skip: int = 1, measure: int = 4) -> None:
        self.start, self.end, self.device = start, end, device
        self.first, self.last = start + skip, start + skip + measure
        self._t0: float | None = None

    def step_done(self, step: int) -> str | None:
        """Call after each step with the steps done; returns the line once, when the timed steps are done."""
        if step == self.first:
            self._t0 = time.perf_counter()
        elif step == self.last and self._t0 is not None and step < self.end:
            return self.line((time.perf_counter() - self._t0) / (self.last - self.first))
        return None

    def line(self, per_step: float) -> str:
        """``about 11 h for 20000 steps on this CPU (2.0 s a step)``, for the steps this session runs."""
        steps = self.end - self.start
        seconds = per_step * steps
        where = {"cpu": "this CPU", "cuda": "this GPU"}.get(self.device, f"this {self.device} device")
        text = f"about {format_duration(seconds)} for {steps} steps on {where} ({per_step:.3g} s a step)"
        if self.device == "cpu" and seconds > self.LONG:
            text += "; a GPU or recipes/quick.toml is faster"
        return text
