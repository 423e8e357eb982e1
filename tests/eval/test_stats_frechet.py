"""Confidence intervals and the Fréchet distance against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vidgan_kit.eval.frechet import frechet_distance, frechet_distance_features, gaussian_stats, trace_sqrt_product
from vidgan_kit.eval.stats import mean_ci, student_t_cdf, t_quantile


@pytest.mark.parametrize(
    ("p", "df", "expected"),
    [(0.975, 1, 12.7062047), (0.975, 4, 2.7764451), (0.975, 9, 2.2621572), (0.975, 30, 2.0422725),
     (0.95, 10, 1.8124611), (0.995, 5, 4.0321430), (0.025, 9, -2.2621572)],
)
def test_t_quantile_matches_tables(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-6)
    assert student_t_cdf(expected, df) == pytest.approx(p, abs=1e-7)  # tables round to 7 decimals


def test_t_interval_equals_a_hand_computation():
    x = [0.61, 0.72, 0.55, 0.80, 0.67]
    mean = sum(x) / 5
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / 4)
    half = 2.7764451 * sd / math.sqrt(5)
    e = mean_ci(x)
    assert e.n == 5 and e.method == "t" and e.level == 0.95
    assert e.mean == pytest.approx(mean) and e.std == pytest.approx(sd)
    assert (e.low, e.high) == (pytest.approx(mean - half, abs=1e-9), pytest.approx(mean + half, abs=1e-9))
    assert e.format(2) == f"{mean:.2f} [{mean - half:.2f}, {mean + half:.2f}]"


def test_bootstrap_interval_is_reproducible_and_close_to_t_for_normal_data():
    x = np.random.default_rng(0).normal(1.0, 0.5, size=200)
    b1, b2, t = mean_ci(x, method="bootstrap"), mean_ci(x, method="bootstrap"), mean_ci(x)
    assert b1 == b2
    assert b1.low < b1.mean < b1.high
    assert b1.low == pytest.approx(t.low, abs=0.02) and b1.high == pytest.approx(t.high, abs=0.02)


def test_degenerate_inputs():
    assert mean_ci([]).mean is None and mean_ci([]).n == 0
    one = mean_ci([3.0])
    assert one.mean == 3.0 and one.low is None and one.format() == "3.000 (n=1)"
    nan = mean_ci([1.0, float("nan"), 3.0])
    assert nan.n == 2 and nan.mean == 2.0
    assert mean_ci([]).model_dump_json()  # no NaN reaches JSON


def test_frechet_of_identical_gaussians_is_zero():
    f = np.random.default_rng(1).normal(size=(50, 8))
    assert frechet_distance_features(f, f) == pytest.approx(0.0, abs=1e-8)


def test_frechet_one_dimensional_closed_form():
    # d² = (m1 - m2)² + (s1 - s2)²
    d = frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-1.0]), np.array([[1.0]]))
    assert d == pytest.approx(4.0 + 1.0)


def test_frechet_diagonal_closed_form():
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.0])
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
    expected = 5.0 + a.sum() + b.sum() - 2 * np.sqrt(a * b).sum()
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected)


def test_trace_sqrt_matches_scipy_on_full_rank_and_stays_real_when_singular():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(40, 6)), rng.normal(size=(40, 6)) @ rng.normal(size=(6, 6))
    s1, s2 = gaussian_stats(a)[1], gaussian_stats(b)[1]
    scipy_linalg = pytest.importorskip("scipy.linalg")
    ref = np.trace(scipy_linalg.sqrtm(s1 @ s2)).real
    assert trace_sqrt_product(s1, s2) == pytest.approx(ref, rel=1e-6)
    # fewer samples than dimensions: singular covariances, still a finite, non-negative distance
    few_a, few_b = rng.normal(size=(5, 32)), rng.normal(size=(5, 32)) + 0.5
    d = frechet_distance_features(few_a, few_b)
    assert math.isfinite(d) and d > 0
