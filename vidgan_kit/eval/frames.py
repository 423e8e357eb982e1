"""Per-frame image quality scores of videos: SSIM, PSNR, L1.

Every function takes two videos ``[B, T, C, H, W]`` in the toolkit's [-1, 1] range and
returns ``[B, T]`` float64 scores on the CPU. Frames are mapped to [0, 1] by
``(x + 1) / 2`` and clamped, so the data range of every score is 1.

- **SSIM**: ``kornia.metrics.ssim`` in float64 with an 11×11 Gaussian window (σ = 1.5, kornia's
  fixed choice), ``max_val = 1``, computed per channel and averaged over channels and
  pixels. ``padding="valid"`` (the default) averages only where the window fits inside the
  frame, as Wang et al.'s reference implementation does; ``"same"`` is kornia's default.
- **PSNR**: ``10 log10(1 / MSE)`` per frame, the formula of ``kornia.metrics.psnr``
  (which reduces a whole batch to one number, so it is applied per frame here; a test pins
  the equality), **capped** at ``cap_db`` (100 dB by default): identical frames have an
  infinite PSNR, and one such frame would make every mean infinite. The cap is reported
  with the numbers, with the share of frames that hit it.
- **L1**: mean absolute difference on [0, 1].
"""

from __future__ import annotations

import kornia
import torch

from ..errors import ShapeError
from .base import check_pair

__all__ = [
    "PSNR_CAP_DB",
    "SSIM_WINDOW",
    "SSIM_SIGMA",
    "to_unit",
    "ssim_frames",
    "psnr_frames",
    "l1_frames",
    "mse_frames",
    "ssim_constant",
]

#: The default PSNR cap, in dB (a frame equal to its target scores exactly this).
PSNR_CAP_DB = 100.0
#: The SSIM window of the paper's protocol (Wang et al. 2004): 11×11, Gaussian.
SSIM_WINDOW = 11
#: kornia's SSIM uses a Gaussian of this σ for every window size.
SSIM_SIGMA = 1.5


def to_unit(video: torch.Tensor) -> torch.Tensor:
    """[-1, 1] → [0, 1] in float32, clamped (a GAN's overshoot must not score)."""
    return ((video.detach().float() + 1.0) * 0.5).clamp_(0.0, 1.0)


def _flat(pred: torch.Tensor, target: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    check_pair(pred, target, name)
    b, t = pred.shape[:2]
    p = to_unit(pred).reshape(b * t, *pred.shape[2:])
    q = to_unit(target).to(p.device).reshape(b * t, *target.shape[2:])
    return p, q, b, t


def mse_frames(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error per frame on [0, 1], ``[B, T]`` float64."""
    p, q, b, t = _flat(pred, target, "mse")
    return (p.double() - q.double()).square().mean(dim=(1, 2, 3)).reshape(b, t).cpu()


def l1_frames(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error per frame on [0, 1], ``[B, T]`` float64."""
    p, q, b, t = _flat(pred, target, "l1")
    return (p.double() - q.double()).abs().mean(dim=(1, 2, 3)).reshape(b, t).cpu()


def psnr_frames(
    pred: torch.Tensor, target: torch.Tensor, *, cap_db: float = PSNR_CAP_DB
) -> tuple[torch.Tensor, torch.Tensor]:
    """PSNR per frame in dB (data range 1), capped at ``cap_db``.

    Returns ``(psnr [B, T] float64, capped [B, T] bool)``; ``capped`` marks the frames
    whose true PSNR is at or above the cap (infinite for identical frames).
    """
    if not cap_db > 0:
        raise ValueError(f"cap_db must be positive, got {cap_db}")
    mse = mse_frames(pred, target)
    with torch.no_grad():
        raw = 10.0 * torch.log10(1.0 / mse)  # +inf where mse == 0
    capped = raw >= cap_db
    return raw.clamp(max=cap_db), capped


def ssim_frames(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    window: int = SSIM_WINDOW,
    padding: str = "valid",
    chunk: int = 256,
) -> torch.Tensor:
    """SSIM per frame (kornia, Gaussian window, data range 1), ``[B, T]`` float64."""
    if window < 3 or window % 2 == 0:
        raise ValueError(f"SSIM window must be odd and at least 3, got {window}")
    if padding not in ("valid", "same"):
        raise ValueError(f"SSIM padding must be 'valid' or 'same', got {padding!r}")
    p, q, b, t = _flat(pred, target, "ssim")
    h, w = p.shape[-2:]
    if padding == "valid" and (h < window or w < window):
        raise ShapeError(
            f"ssim: frames of {h}x{w} are smaller than the {window}x{window} window; use a smaller window or "
            "padding='same'"
        )
    out = []
    for i in range(0, p.shape[0], chunk):  # bounded memory for K x T x clips frames
        x, y = p[i : i + chunk].double(), q[i : i + chunk].double()  # float64: exact on flat regions
        ssim_map = kornia.metrics.ssim(x, y, window, max_val=1.0, padding=padding)
        out.append(ssim_map.mean(dim=(1, 2, 3)))
    return torch.cat(out).reshape(b, t).cpu()


def ssim_constant(a: float, b: float) -> float:
    """SSIM of two constant frames of values ``a`` and ``b`` (in [0, 1]): the luminance term alone.

    A known answer for tests: both variances and the covariance vanish, so the structure
    term is ``C2 / C2 = 1`` and SSIM = ``(2ab + C1) / (a² + b² + C1)``, C1 = (0.01)².
    """
    c1 = (0.01 * 1.0) ** 2
    return (2 * a * b + c1) / (a * a + b * b + c1)

