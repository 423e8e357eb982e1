"""Means with confidence intervals over clips, without scipy.

Evaluation numbers are means over a few dozen test clips; a mean without its uncertainty
invites reading noise as progress. :func:`mean_ci` gives the mean with a two-sided
interval by one of two documented methods:

- ``"t"`` (default): Student's t interval, ``mean ± t_{(1+level)/2, n-1} · s / √n`` with the
  sample standard deviation ``s`` (ddof = 1). Exact for normal data, good for means of a
  few dozen bounded per-clip scores.
- ``"bootstrap"``: percentile bootstrap of the mean (``resamples`` draws with replacement,
  a fixed seed, so the interval is reproducible).

The t quantile is computed here (regularised incomplete beta by continued fraction, then
bisection), so no statistics package is needed; tests pin it against tabulated values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

__all__ = ["Estimate", "CIMethod", "mean_ci", "t_quantile", "student_t_cdf"]

CIMethod = Literal["t", "bootstrap"]


class Estimate(BaseModel):
    """A mean over ``n`` values with its confidence interval [low, high].

    ``low``/``high`` are None when ``n < 2`` (no interval from one value); ``mean`` is None
    when there is no finite value at all. NaN never reaches the JSON.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mean: float | None
    low: float | None
    high: float | None
    std: float | None
    n: int
    level: float
    method: CIMethod

    def format(self, digits: int = 3, unit: str = "") -> str:
        """``0.812 [0.790, 0.834]`` (or ``n/a``)."""
        if self.mean is None:
            return "n/a"
        u = f" {unit}" if unit else ""
        if self.low is None or self.high is None:
            return f"{self.mean:.{digits}f}{u} (n={self.n})"
        return f"{self.mean:.{digits}f}{u} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def student_t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p``-quantile of Student's t (e.g. ``t_quantile(0.975, 9) ≈ 2.262``)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must lie in (0, 1), got {p}")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while student_t_cdf(hi, df) < p:
        hi *= 2.0
        if hi > 1e12:
            return math.inf
    for _ in range(200):  # bisection to machine precision
        mid = 0.5 * (lo + hi)
        if student_t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def mean_ci(
    values: Sequence[float] | np.ndarray,
    *,
    level: float = 0.95,
    method: CIMethod = "t",
    resamples: int = 10_000,
    seed: int = 0,
) -> Estimate:
    """Mean of the finite ``values`` with a two-sided ``level`` confidence interval."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if method not in ("t", "bootstrap"):
        raise ValueError(f"method must be 't' or 'bootstrap', got {method!r}")
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Estimate(mean=None, low=None, high=None, std=None, n=0, level=level, method=method)
    mean = float(x.mean())
    if n == 1:
        return Estimate(mean=mean, low=None, high=None, std=None, n=1, level=level, method=method)
    std = float(x.std(ddof=1))
    if method == "t":
        half = t_quantile(0.5 + level / 2.0, n - 1) * std / math.sqrt(n)
        low, high = mean - half, mean + half
    else:
        rng = np.random.default_rng(seed)
        means = x[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
        low, high = (float(v) for v in np.quantile(means, [(1 - level) / 2, (1 + level) / 2]))
    return Estimate(mean=mean, low=float(low), high=float(high), std=std, n=n, level=level, method=method)
