"""The Fréchet distance between two Gaussians fitted to feature sets (FID, FVD).

    d² = |μ₁ − μ₂|² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁ Σ₂)^{1/2}

The only delicate term is ``tr (Σ₁ Σ₂)^{1/2}``: Σ₁Σ₂ is not symmetric, and the usual
``scipy.linalg.sqrtm`` of it returns complex noise when the covariances are singular
(always, when there are fewer clips than feature dimensions). Here it is computed from
symmetric matrices only: with ``R = Σ₁^{1/2}`` (symmetric, by ``eigh``), ``Σ₁Σ₂`` is similar
to ``R Σ₂ R``, which is symmetric positive semi-definite, so

    tr (Σ₁ Σ₂)^{1/2} = Σᵢ √λᵢ(R Σ₂ R)

with the eigenvalues clipped at 0 (round-off makes tiny ones negative). Everything is in
float64. The result is clipped at 0 for the same reason.

The eigen-decompositions run in torch on one thread: on a small shared CPU a
multi-threaded LAPACK spends more time contending than computing (a 400×400 ``eigh``
took 2 s threaded against 0.03 s on one thread here).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

__all__ = ["gaussian_stats", "sqrtm_psd", "trace_sqrt_product", "frechet_distance", "frechet_distance_features"]


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[D]`` and unbiased covariance ``[D, D]`` (ddof = 1) of ``features [N, D]``."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need a [N, D] feature array with N >= 2 to fit a Gaussian, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


def sqrtm_psd(a: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix."""
    t = _t(a)
    t = 0.5 * (t + t.T)
    with _one_thread():
        w, v = torch.linalg.eigh(t)
        return ((v * w.clamp(min=0).sqrt()) @ v.T).numpy()


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """``tr (s1 s2)^{1/2}`` for symmetric PSD ``s1``, ``s2``, via symmetric products only."""
    r = _t(sqrtm_psd(s1))
    with _one_thread():
        m = r @ _t(s2) @ r
        m = 0.5 * (m + m.T)
        return float(torch.linalg.eigvalsh(m).clamp(min=0).sqrt().sum())


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, s1) and N(mu2, s2) (≥ 0)."""
    mu1, mu2 = np.asarray(mu1, dtype=np.float64), np.asarray(mu2, dtype=np.float64)
    s1, s2 = np.asarray(s1, dtype=np.float64), np.asarray(s2, dtype=np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"mismatched statistics: means {mu1.shape}/{mu2.shape}, covariances {s1.shape}/{s2.shape}")
    diff = mu1 - mu2
    d2 = float(diff @ diff) + float(np.trace(s1)) + float(np.trace(s2)) - 2.0 * trace_sqrt_product(s1, s2)
    return max(d2, 0.0)


def frechet_distance_features(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``[N, D]``, ``[M, D]``."""
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
