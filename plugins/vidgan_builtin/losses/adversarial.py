"""L_GAN^I (Eq. 5) and L_GAN^V (Eq. 6): the image-pair and video adversarial losses.

Both contribute to two phases. In ``discriminator`` the generated clips are detached and
the discriminator learns; in ``generator`` only the fake terms are computed and the
discriminator is called with detached weights (:func:`~.objectives.frozen_call`), so the
generator phase leaves no gradient in the discriminator's parameters.

Each loss calls its discriminator once per phase on the concatenation of every clip or
pair it scores (one batched call is much faster on a CPU than several small ones). With
``norm = "batch"`` in the discriminator this means real and fake share batch statistics.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field

from vidgan_kit import ComponentConfig, assert_video
from vidgan_kit.interfaces import Loss, LossContext

from .objectives import GAN_FIELD, GanName, GanObjective, frozen_call, require_output, require_slot

__all__ = ["ImageAdversarialLoss", "VideoAdversarialLoss", "FakeName"]

FakeName = Literal["reconstruction", "transfer", "sample"]
_ALL_FAKES: list[FakeName] = ["reconstruction", "transfer", "sample"]

_FAKES_DESCRIPTION = (
    "Generated clips shown to the discriminator: reconstruction (Ṽ_x), transfer (Ṽ_y,d), sample (Ṽ_y,s)."
)


def _check_fakes(fakes: list[str]) -> None:
    if not fakes:
        raise ValueError("fakes must name at least one of reconstruction, transfer, sample")


def _pick(video: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """S_I: frames ``idx`` [B, k] of ``video`` [B, T, C, H, W] → [B*k, C, H, W]."""
    b = torch.arange(video.shape[0], device=video.device).unsqueeze(1)
    return video[b, idx].flatten(0, 1)


def _repeat(image: torch.Tensor, k: int) -> torch.Tensor:
    """[B, C, H, W] → [B*k, C, H, W], each image k times in a row (matches :func:`_pick`)."""
    return image.unsqueeze(1).expand(-1, k, *image.shape[1:]).flatten(0, 1)


class _AdversarialLoss(Loss):
    """What the image and video adversarial terms share: both phases, a GAN objective and
    the choice of which generated clips count as fakes (``config.gan``, ``config.fakes``)."""

    phases = ("generator", "discriminator")

    def __init__(self, config: Any, **wiring: Any) -> None:
        super().__init__()
        _check_fakes(config.fakes)
        self.config = config
        self.objective = GanObjective(config.gan)


class ImageAdversarialLoss(_AdversarialLoss):
    """L_GAN^I (Eq. 5): conditional D_I on (condition, frame) pairs.

    With V the clip, x¹ its first frame, y the target image (first frame of V_y, another
    clip of the batch) and S_I a random frame (``frames_per_video`` draws per clip):

    - real: (x¹, S_I(V)) and (y, y);
    - fake: (x¹, S_I(Ṽ_x)) and (y, S_I(Ṽ_y)) for Ṽ_y ∈ {Ṽ_y,d, Ṽ_y,s};
    - mismatch (D only, with ``mismatch``): (y, S_I(V)) and (x¹, S_I(V_y)), scored as fake.

    Discriminator: for each part p ∈ {x, y}, ``real_term(real_p) + mean of its fake-side
    terms`` — i.e. Eq. 5's ½[fake + mismatch] with mismatch, the plain real + fake without.
    Generator: Σ_p w_p · g_loss(fake_p) with the same weights w_p (½ with mismatch).
    Frames are drawn anew on every call, one index set shared by all clips in the call.
    """

    class Config(ComponentConfig):
        gan: GanName = GAN_FIELD
        mismatch: bool = Field(True, description="Add Eq. 5's mismatched real pairs as fakes for D (weight ½ each).")
        frames_per_video: int = Field(4, ge=1, description="Frames S_I draws from each clip per call.")
        fakes: list[FakeName] = Field(default_factory=lambda: list(_ALL_FAKES), description=_FAKES_DESCRIPTION)


    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        name = "image_adversarial"
        disc = require_slot(ctx, "image_discriminator", name)
        video = assert_video(require_output(ctx, "video", name), f"{name}: outputs['video']")
        video_y = require_output(ctx, "video_y", name)
        y = require_output(ctx, "target", name)
        x1 = video[:, 0]
        b, t = video.shape[:2]
        k = self.config.frames_per_video
        idx = torch.randint(t, (b, k), device=video.device)
        fakes = set(self.config.fakes)
        train_d = phase == "discriminator"

        def gen(key: str) -> torch.Tensor:
            v = require_output(ctx, key, name)
            return v.detach() if train_d else v

        # Pairs grouped by term: name -> (conditions, frames).
        terms: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        if "reconstruction" in fakes:
            terms["fake_x"] = (_repeat(x1, k), _pick(gen("reconstruction"), idx))
        fy = [f for f in ("transfer", "sample") if f in fakes]
        if fy:
            terms["fake_y"] = (
                torch.cat([_repeat(y, k)] * len(fy), dim=0),
                torch.cat([_pick(gen(f), idx) for f in fy], dim=0),
            )
        if train_d:
            real_frames = _pick(video, idx)
            terms["real_x"] = (_repeat(x1, k), real_frames)
            terms["real_y"] = (y, y)
            if self.config.mismatch:
                terms["mismatch_x"] = (_repeat(y, k), real_frames)
                terms["mismatch_y"] = (_repeat(x1, k), _pick(video_y, idx))

        names = list(terms)
        cond = torch.cat([terms[n][0] for n in names], dim=0)
        frames = torch.cat([terms[n][1] for n in names], dim=0)
        logits_all = disc(cond, frames) if train_d else frozen_call(disc, cond, frames)
        logits = dict(zip(names, logits_all.split([terms[n][0].shape[0] for n in names]), strict=True))

        obj = self.objective
        total = logits_all.new_zeros((), dtype=torch.float32)
        for part in ("x", "y"):
            has_fake = f"fake_{part}" in terms
            n_fake_side = int(has_fake) + int(self.config.mismatch)
            if n_fake_side == 0:
                continue  # a part with nothing fake to tell apart teaches D nothing
            w = 1.0 / n_fake_side  # Eq. 5's ½ when the part has a fake and a mismatch term
            if train_d:
                fake_side = [n for n in (f"fake_{part}", f"mismatch_{part}") if n in logits]
                total = total + obj.real_term(logits[f"real_{part}"])
                total = total + w * sum(obj.fake_term(logits[n]) for n in fake_side)
            elif has_fake:
                total = total + w * obj.g_loss(logits[f"fake_{part}"])
        return total


class VideoAdversarialLoss(_AdversarialLoss):
    """L_GAN^V (Eq. 6): D_V on real clips (V, V_y) against generated ones (Ṽ_x, Ṽ_y).

    V_y is a permutation of V within the batch (see ``dual_mtgan``), so D_V(V_y) is a
    permutation of D_V(V) and its mean real term equals V's: D_V scores the real clips
    once. Discriminator: Σ_p [real_term(D_V(V)) + fake_term(D_V(Ṽ_p))] over the parts
    p = x (Ṽ_x) and y (Ṽ_y,d together with Ṽ_y,s) that ``fakes`` keeps. Generator:
    Σ_p g_loss(D_V(Ṽ_p)).
    """

    class Config(ComponentConfig):
        gan: GanName = GAN_FIELD
        fakes: list[FakeName] = Field(default_factory=lambda: list(_ALL_FAKES), description=_FAKES_DESCRIPTION)


    def forward(self, ctx: LossContext, phase: str) -> torch.Tensor:
        name = "video_adversarial"
        disc = require_slot(ctx, "video_discriminator", name)
        video = assert_video(require_output(ctx, "video", name), f"{name}: outputs['video']")
        train_d = phase == "discriminator"
        parts: dict[str, list[torch.Tensor]] = {"x": [], "y": []}
        for key in self.config.fakes:
            clip = require_output(ctx, key, name)
            parts["x" if key == "reconstruction" else "y"].append(clip.detach() if train_d else clip)
        parts = {p: clips for p, clips in parts.items() if clips}

        clips = [torch.cat(v, dim=0) for v in parts.values()]
        sizes = [c.shape[0] for c in clips]
        if train_d:
            logits = disc(torch.cat([video, *clips], dim=0)).split([video.shape[0], *sizes])
            real, fake = logits[0], logits[1:]
            obj = self.objective
            return sum(obj.real_term(real) + obj.fake_term(f) for f in fake)  # type: ignore[return-value]
        fake = frozen_call(disc, torch.cat(clips, dim=0)).split(sizes)
        return sum(self.objective.g_loss(f) for f in fake)  # type: ignore[return-value]
