"""The evaluation protocols, as functions of a model's methods and tensors (no files).

Each protocol takes the model's methods as plain callables, so a test can hand in a
constructed generator whose behaviour is known (one that ignores motion, one that copies
the source...), and per-frame scorers (the ``ssim``/``psnr``/``l1`` metric components):

- ``sample(image [1, C, H, W], k, generator) -> [1, k, T, C, H, W]``;
- ``transfer(image [B, C, H, W], video [B, T, C, H, W]) -> [B, T, C, H, W]``;
- ``reconstruct(video [B, T, C, H, W]) -> [B, T, C, H, W]``;
- ``encode_motion(video [B, T, C, H, W]) -> z [B, D]`` and ``animate(image [B, C, H, W], z [B, D])
  -> [B, T, C, H, W]``: the learned path of a transfer, ``animate(image, encode_motion(video))``.

Videos are [-1, 1]; scores are taken on [0, 1]. The *scored frames* of the conditioned
protocols are 1..T-1: frame 0 is (a reproduction of) the input image, scored and reported
separately as the conditioning frame.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import DataError, ShapeError
from .base import FrameMetric
from .results import (
    BestOfK,
    ContentPreservation,
    Curves,
    DisentanglementResult,
    DiversityResult,
    RealClip,
    RealTransferResult,
    ReconstructionResult,
    ScoreSet,
    StochasticResult,
    TransferResult,
)
from .stats import CIMethod, Estimate, mean_ci

__all__ = [
    "CISettings",
    "SampleFn",
    "TransferFn",
    "ReconstructFn",
    "EncodeMotionFn",
    "AnimateFn",
    "StochasticOutput",
    "stochastic_best_of_k",
    "still_image_sampler",
    "select_best",
    "reconstruction",
    "transfer_ground_truth",
    "transfer_real",
    "wrong_source_picks",
    "WRONG_SOURCE_RULE",
    "leakage",
    "leakage_picks",
    "clip_l1",
    "leakage_changes",
    "pairwise_l1",
    "pairwise_change_l1",
    "clip_seed",
    "has_ground_truth",
]

SampleFn = Callable[[torch.Tensor, int, torch.Generator], torch.Tensor]
TransferFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
ReconstructFn = Callable[[torch.Tensor], torch.Tensor]
EncodeMotionFn = Callable[[torch.Tensor], torch.Tensor]
AnimateFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Scorers = Mapping[str, FrameMetric]


@dataclass(frozen=True)
class CISettings:
    """How intervals are computed (over clips)."""

    level: float = 0.95
    method: CIMethod = "t"
    seed: int = 0

    def __call__(self, values: Any) -> Estimate:
        return mean_ci(np.asarray(values, dtype=np.float64), level=self.level, method=self.method, seed=self.seed)


def clip_seed(seed: int, clip: int) -> int:
    """The seed of clip ``clip``'s K samples: independent of batching and of the other clips."""
    return (int(seed) * 1_000_003 + int(clip)) % (2**63 - 1)


def _frames_of(t: int, exclude_first: bool) -> list[int]:
    return list(range(1, t)) if exclude_first else list(range(t))


def _score_set(scores: Mapping[str, torch.Tensor], frames: Sequence[int], ci: CISettings) -> ScoreSet:
    """Per clip, the mean over ``frames``; then mean and CI over clips."""
    idx = torch.as_tensor(list(frames))
    return ScoreSet(**{name: ci(s[:, idx].mean(dim=1)) for name, s in scores.items()})


def _curves(scores: Mapping[str, torch.Tensor], frames: Sequence[int], ci: CISettings) -> Curves:
    out: dict[str, Any] = {"frames": list(frames)}
    for name in ("ssim", "psnr"):
        if name in scores:
            out[name] = [ci(scores[name][:, t]) for t in frames]
    return Curves(**out)


def _check_output(x: Any, shape: tuple[int, ...], what: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or tuple(x.shape) != shape:
        got = list(getattr(x, "shape", [])) or type(x).__name__
        raise ShapeError(f"{what}: expected shape {list(shape)}, got {got}")
    return x.detach().float().cpu()


def pairwise_l1(videos: torch.Tensor, frames: Sequence[int] | None = None) -> float:
    """Mean L1 on [0, 1] over all unordered pairs of ``videos [K, T, C, H, W]`` (NaN for K < 2)."""
    k = videos.shape[0]
    if k < 2:
        return float("nan")
    v = videos if frames is None else videos[:, list(frames)]
    return _mean_pairwise_l1(((v.float() + 1) * 0.5).clamp(0, 1))


def _mean_pairwise_l1(values: torch.Tensor) -> float:
    """Mean over all unordered pairs of ``values [K, ...]`` of their mean absolute difference."""
    k = values.shape[0]
    flat = values.reshape(k, -1).double()
    dist = torch.cdist(flat.unsqueeze(0), flat.unsqueeze(0), p=1)[0] / flat.shape[1]
    iu = torch.triu_indices(k, k, offset=1)
    return float(dist[iu[0], iu[1]].mean())


def pairwise_change_l1(videos: torch.Tensor, frames: Sequence[int] | None = None) -> float:
    """Mean L1 on [0, 1] over all unordered pairs of ``videos [K, T, C, H, W]`` between their
    frame changes x^t − x^1: what :func:`pairwise_l1` measures for clips that share their first
    frame, so real clips of different people count only how differently they move (NaN for K < 2)."""
    k = videos.shape[0]
    if k < 2:
        return float("nan")
    v = videos.float()
    change = v - v[:, :1]
    change = change if frames is None else change[:, list(frames)]
    return _mean_pairwise_l1(change * 0.5)


def select_best(scores: torch.Tensor, frames: Sequence[int], higher_is_better: bool = True) -> torch.Tensor:
    """Index of the best sample per clip: ``scores [N, K, T]`` averaged over ``frames`` → ``[N]``.

    Ties go to the lowest index, so the choice is reproducible.
    """
    per_sample = scores[:, :, list(frames)].mean(dim=2)
    return (per_sample if higher_is_better else -per_sample).argmax(dim=1)


def _gather(scores: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``scores [N, K, T]``, ``idx [N]`` → ``[N, T]``."""
    return scores[torch.arange(scores.shape[0]), idx]


@dataclass
class StochasticOutput:
    """The protocol's result plus tensors kept for figures and FVD."""

    result: StochasticResult
    ssim: torch.Tensor  # [N, K, T]
    psnr: torch.Tensor  # [N, K, T]
    best: torch.Tensor  # [N, T, C, H, W], the best sample by `joint_by`
    kept: torch.Tensor  # [N, keep, T, C, H, W], the first samples of each clip
    extras: dict[str, Any] = field(default_factory=dict)


@torch.no_grad()
def still_image_sampler(frames: int) -> SampleFn:
    """A sampler that learned nothing: the input image held still for ``frames`` frames."""

    def sample(image: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return image[:, None, None].expand(image.shape[0], k, frames, *image.shape[1:]).clone()

    return sample


def stochastic_best_of_k(
    sample: SampleFn,
    clips: torch.Tensor,
    scorers: Scorers,
    *,
    samples: int = 25,
    seed: int = 0,
    joint_by: str = "ssim",
    keep: int = 1,
    ci: CISettings = CISettings(),
    exclude_first: bool = True,
    diversity_reference: Callable[[int], torch.Tensor | None] | None = None,
    progress: Callable[[int, int], Any] | None = None,
) -> StochasticOutput:
    """The paper's stochastic protocol on real ``clips [N, T, C, H, W]``.

    For each clip: its first frame is the input image; ``samples`` (K) videos are drawn
    with a generator seeded by :func:`clip_seed`; SSIM and PSNR are computed per frame
    against the real clip. Reported: best of K per metric, the joint choice (best by
    ``joint_by``), the mean over all K, per-frame curves, the conditioning frame apart,
    and the diversity of the K samples. ``diversity_reference(i)`` may return real clips
    sharing clip i's first frame (ground-truth alternatives) for the real diversity figure.
    """
    for name in ("ssim", "psnr"):
        if name not in scorers:
            raise ValueError(f"stochastic protocol needs a {name!r} scorer")
    if joint_by not in ("ssim", "psnr"):
        raise ValueError(f"joint_by must be 'ssim' or 'psnr', got {joint_by!r}")
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    n, t = clips.shape[:2]
    frames = _frames_of(t, exclude_first)
    ssim_all, psnr_all, best, kept, div_samples, div_real = [], [], [], [], [], []
    for i in range(n):
        real = clips[i : i + 1]
        gen = torch.Generator(device="cpu").manual_seed(clip_seed(seed, i))
        out = _check_output(sample(real[:, 0], samples, gen), (1, samples, *clips.shape[1:]), "sample() output")[0]
        target = real.expand(samples, *real.shape[1:])
        s, p = scorers["ssim"].score(out, target), scorers["psnr"].score(out, target)
        ssim_all.append(s)
        psnr_all.append(p)
        pick = int(select_best((s if joint_by == "ssim" else p)[None], frames)[0])
        best.append(out[pick])
        kept.append(out[: max(1, min(keep, samples))])
        div_samples.append(pairwise_l1(out, frames))
        if diversity_reference is not None:
            ref = diversity_reference(i)
            if ref is not None:
                div_real.append(pairwise_l1(ref, frames))
        if progress is not None:
            progress(i + 1, n)
    ssim, psnr = torch.stack(ssim_all), torch.stack(psnr_all)  # [N, K, T]

    def block(selection: str, chosen: Mapping[str, torch.Tensor]) -> BestOfK:
        return BestOfK(selection=selection, scores=_score_set(chosen, frames, ci), curves=_curves(chosen, frames, ci),
                       conditioning_frame=_score_set(chosen, [0], ci))

    by_ssim, by_psnr = select_best(ssim, frames), select_best(psnr, frames)
    joint_idx = by_ssim if joint_by == "ssim" else by_psnr
    per_metric = block("per_metric", {"ssim": _gather(ssim, by_ssim), "psnr": _gather(psnr, by_psnr)})
    joint = block(f"joint (best by {joint_by})", {"ssim": _gather(ssim, joint_idx), "psnr": _gather(psnr, joint_idx)})
    mean_k = block("mean_of_k", {"ssim": ssim.mean(dim=1), "psnr": psnr.mean(dim=1)})
    cap = getattr(getattr(scorers["psnr"], "config", None), "cap_db", None)
    capped = float((psnr[:, :, frames] >= cap).double().mean()) if cap is not None else 0.0

    changes = None
    if div_real:
        reference = "same first frame, ground-truth motions of other test clips (synthetic data)"
    else:
        div_real = [pairwise_l1(clips, frames)] if n >= 2 else []
        reference = "distinct real test clips (content differs too: an upper reference)"
        changes = ci([pairwise_change_l1(clips, frames)]) if n >= 2 else None
    diversity = DiversityResult(samples=ci(div_samples), real=ci(div_real) if div_real else None,
                                real_reference=reference if div_real else None, real_changes=changes)
    result = StochasticResult(clips=n, samples=samples, scored_frames=frames, per_metric=per_metric, joint=joint,
                              mean_of_k=mean_k, psnr_capped_fraction=capped, diversity=diversity)
    return StochasticOutput(result=result, ssim=ssim, psnr=psnr, best=torch.stack(best), kept=torch.stack(kept))


@torch.no_grad()
def reconstruction(
    reconstruct: ReconstructFn, clips: torch.Tensor, scorers: Scorers, *, ci: CISettings = CISettings(),
    batch_size: int = 8,
) -> tuple[ReconstructionResult, torch.Tensor]:
    """Ṽ_x against the clips it was encoded from: L1, PSNR, SSIM over all frames."""
    outs = []
    for i in range(0, clips.shape[0], batch_size):
        part = clips[i : i + batch_size]
        outs.append(_check_output(reconstruct(part), tuple(part.shape), "reconstruction output"))
    out = torch.cat(outs)
    scores = {name: scorers[name].score(out, clips) for name in ("l1", "psnr", "ssim") if name in scorers}
    frames = list(range(clips.shape[1]))
    cap = getattr(getattr(scorers.get("psnr"), "config", None), "cap_db", None)
    capped = float((scores["psnr"] >= cap).double().mean()) if cap is not None and "psnr" in scores else 0.0
    return ReconstructionResult(clips=clips.shape[0], scored_frames=frames, scores=_score_set(scores, frames, ci),
                                psnr_capped_fraction=capped), out


def has_ground_truth(dataset: Any) -> bool:
    """Whether ``dataset`` can render transfers exactly (``transfer_batch``/``transfer_truth``)."""
    return all(callable(getattr(dataset, m, None)) for m in ("transfer_batch", "transfer_truth", "transfer_pairs"))


def _require_ground_truth(dataset: Any) -> None:
    if not has_ground_truth(dataset):
        raise DataError(
            f"the ground-truth transfer protocol needs a data set with ground-truth motion transfer (transfer_pairs, "
            f"transfer_batch, transfer_truth), such as synthetic_shapes; {type(dataset).__name__} has none. "
            "Real clips are scored by self-transfer (transfer_real)."
        )


@torch.no_grad()
def transfer_ground_truth(
    transfer: TransferFn,
    dataset: Any,
    scorers: Scorers,
    *,
    pairs: int = 32,
    seed: int = 0,
    ci: CISettings = CISettings(),
    batch_size: int = 8,
) -> tuple[TransferResult, dict[str, torch.Tensor]]:
    """transfer(first frame of A, motion clip B) against the rendered truth (A's content, B's motion).

    Controls: the same transfer with another pair's motion clip (if the model uses the
    motion, this is clearly worse), and two baselines: the target image held still, and the
    source clip B copied.
    """
    _require_ground_truth(dataset)
    if pairs < 2:
        raise ValueError("the transfer protocol needs at least 2 pairs (the wrong-motion control swaps them)")
    index_pairs = dataset.transfer_pairs(pairs, seed=seed)
    batch = dataset.transfer_batch(index_pairs)
    image, source, truth = batch["image"], batch["source"], batch["truth"]
    wrong_source = source.roll(1, dims=0)

    def run(video: torch.Tensor) -> torch.Tensor:
        outs = []
        for i in range(0, image.shape[0], batch_size):
            part = _check_output(transfer(image[i : i + batch_size], video[i : i + batch_size]),
                                 tuple(truth[i : i + batch_size].shape), "transfer() output")
            outs.append(part)
        return torch.cat(outs)

    videos = {
        "model": run(source),
        "model_wrong_motion": run(wrong_source),
        "static": image.unsqueeze(1).expand_as(truth),
        "copy_source": source,
    }
    t = truth.shape[1]
    frames = _frames_of(t, True)
    methods, curves, model_scores = {}, {}, {}
    for name, video in videos.items():
        scores = {m: scorers[m].score(video, truth) for m in ("l1", "psnr", "ssim") if m in scorers}
        methods[name] = _score_set(scores, frames, ci)
        curves[name] = _curves(scores, frames, ci)
        if name == "model":
            model_scores = scores
    gain = None
    if "l1" in model_scores:
        l1_model, l1_wrong = methods["model"].l1, methods["model_wrong_motion"].l1
        if l1_model is not None and l1_wrong is not None and l1_model.mean is not None and l1_wrong.mean is not None:
            gain = l1_wrong.mean - l1_model.mean
    result = TransferResult(pairs=len(index_pairs), pair_seed=seed, scored_frames=frames, methods=methods,
                            conditioning_frame=_score_set(model_scores, [0], ci), curves=curves, motion_gain_l1=gain)
    return result, {"image": image, "source": source, "truth": truth, **videos}


#: How :func:`wrong_source_picks` chooses (recorded in the metric card).
WRONG_SOURCE_RULE = (
    "the first clip after it in index order (cyclically) with another label, preferring one of the same identity; "
    "without labels, or when every clip shares its label, the first clip after it of the same identity, else the "
    "next clip"
)


def wrong_source_picks(labels: Sequence[Any], identities: Sequence[str | None]) -> list[int]:
    """For each clip, the index of the clip whose motion is its wrong source (:data:`WRONG_SOURCE_RULE`).

    Another action of the same person changes the motion and keeps the appearance, so the
    control measures what the motion adds; ``None`` labels or identities mean unknown.
    """
    n = len(labels)
    if n < 2:
        raise DataError("the real-clip transfer protocol needs at least 2 clips: the wrong source is another clip")
    if len(identities) != n:
        raise ValueError(f"{n} labels but {len(identities)} identities")
    picks = []
    for i in range(n):
        after = [(i + k) % n for k in range(1, n)]
        other = [j for j in after if labels[i] is not None and labels[j] != labels[i]] or after
        same = [j for j in other if identities[i] is not None and identities[j] == identities[i]]
        picks.append((same or other)[0])
    return picks


@torch.no_grad()
def transfer_real(
    encode_motion: EncodeMotionFn,
    animate: AnimateFn,
    clips: torch.Tensor,
    scorers: Scorers,
    *,
    names: Sequence[str] | None = None,
    labels: Sequence[Any] | None = None,
    identities: Sequence[str | None] | None = None,
    labels_from: str | None = None,
    ci: CISettings = CISettings(),
    batch_size: int = 8,
) -> tuple[RealTransferResult, dict[str, torch.Tensor]]:
    """Self-transfer on real ``clips [N, T, C, H, W]``: what the motion code adds, without ground truth.

    Each clip's first frame is the target image and the clip is the exact answer. Scored
    against it: ``animate`` with the clip's own motion code (``right``), with another clip's
    (``wrong``, :func:`wrong_source_picks`), with z_M = 0 (``zero_code``) and with the mean of
    the clips' codes (``mean_code``), and the target image held still (``static``). ``names``,
    ``labels`` and ``identities`` describe the clips (labels choose the wrong sources; ``labels_from``
    says what they are, for the card).
    """
    for name in ("ssim", "psnr"):
        if name not in scorers:
            raise ValueError(f"the real-clip transfer protocol needs a {name!r} scorer")
    n, t = clips.shape[:2]
    names = list(names) if names is not None else [f"item {i}" for i in range(n)]
    labels = list(labels) if labels is not None else [None] * n
    identities = list(identities) if identities is not None else [None] * n
    if not len(names) == len(labels) == n:
        raise ValueError(f"{n} clips but {len(names)} names and {len(labels)} labels")
    picks = wrong_source_picks(labels, identities)

    codes = []
    for i in range(0, n, batch_size):
        part = clips[i : i + batch_size]
        z = encode_motion(part)
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[0] != part.shape[0]:
            got = list(getattr(z, "shape", [])) or type(z).__name__
            raise ShapeError(f"encode_motion() output: expected [{part.shape[0]}, motion_dim], got {got}")
        codes.append(z.detach().float().cpu())
    z = torch.cat(codes)
    image = clips[:, 0]

    def run(motion: torch.Tensor) -> torch.Tensor:
        outs = []
        for i in range(0, n, batch_size):
            outs.append(_check_output(animate(image[i : i + batch_size], motion[i : i + batch_size]),
                                      tuple(clips[i : i + batch_size].shape), "animate() output"))
        return torch.cat(outs)

    videos = {
        "right": run(z),
        "wrong": run(z[picks]),
        "zero_code": run(torch.zeros_like(z)),
        "mean_code": run(z.mean(dim=0, keepdim=True).expand_as(z)),
        "static": image.unsqueeze(1).expand_as(clips),
    }
    frames = _frames_of(t, True)
    scores = {name: {m: scorers[m].score(video, clips) for m in ("l1", "psnr", "ssim") if m in scorers}
              for name, video in videos.items()}
    right = scores["right"]
    gaps = {
        f"right - {name}": _score_set({m: right[m] - other[m] for m in ("psnr", "ssim")}, frames, ci)
        for name, other in scores.items() if name != "right"
    }
    described = [
        RealClip(clip=names[i], identity=identities[i], label=None if labels[i] is None else str(labels[i]),
                 wrong_source=names[picks[i]])
        for i in range(n)
    ]
    result = RealTransferResult(
        clips=n, scored_frames=frames, target_image="frame 0 of each clip",
        motion_code="encode_motion(clip): the posterior mean of E_M (eval mode)",
        mean_code=f"the mean of the {n} evaluated clips' motion codes", wrong_source_rule=WRONG_SOURCE_RULE,
        labels_from=labels_from if any(label is not None for label in labels) else None,
        clips_scored=described, methods={name: _score_set(s, frames, ci) for name, s in scores.items()}, gaps=gaps,
        conditioning_frame=_score_set(right, [0], ci),
        curves={name: _curves(s, frames, ci) for name, s in scores.items()},
    )
    return result, {"clips": clips, "wrong_source": clips[picks], **videos}


def _color_drift(video: torch.Tensor, image: torch.Tensor, frames: Sequence[int]) -> torch.Tensor:
    """Per clip: mean over frames of |mean RGB(frame) − mean RGB(image)| on [0, 1] → ``[B]``."""
    v = ((video[:, list(frames)].double() + 1) * 0.5).clamp(0, 1).mean(dim=(-2, -1))  # [B, F, C]
    y = ((image.double() + 1) * 0.5).clamp(0, 1).mean(dim=(-2, -1)).unsqueeze(1)  # [B, 1, C]
    return (v - y).abs().mean(dim=(1, 2))


@torch.no_grad()
def leakage_picks(n: int, triples: int = 16, seed: int = 0) -> list[tuple[int, int, int, int, int]]:
    """The index tuples ``(y, c1, c2, m1, m2)`` of :func:`leakage`, five different clips each.

    Public so that a benchmark can score an ideal model (one that knows the clips' factors)
    on exactly the triples :func:`leakage` scores a trained one on.
    """
    if n < 5:
        raise DataError(f"leakage needs at least 5 clips in the split, got {n}")
    rng = np.random.default_rng([int(seed), 7, n])
    return [tuple(int(i) for i in rng.choice(n, size=5, replace=False)) for _ in range(triples)]  # type: ignore[misc]


def clip_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean L1 on [0, 1] between two batches of videos in [-1, 1], per clip: ``[B]`` (float64)."""
    return ((a.double() - b.double()).abs() * 0.5).flatten(1).mean(1)  # /2: L1 on [0, 1]


def leakage_changes(base: torch.Tensor, content: torch.Tensor, motion: torch.Tensor) -> tuple[float, float]:
    """``(content_change, motion_change)``: mean L1 on [0, 1] of the outputs for the
    content-swapped and the motion-swapped motion clips against the base output (the mean of
    :func:`clip_l1` over the triples)."""
    return float(clip_l1(base, content).mean()), float(clip_l1(base, motion).mean())


def leakage(
    transfer: TransferFn,
    dataset: Any,
    *,
    triples: int = 16,
    seed: int = 0,
    eps: float = 1e-6,
    ci: CISettings = CISettings(),
) -> DisentanglementResult:
    """Content leakage from the motion clip (see :class:`~.results.DisentanglementResult`).

    Pairs are built from the data set's factors: for indices (y, c1, c2, m1, m2) drawn with
    ``seed`` (:func:`leakage_picks`), the motion clips are truth(c1, m1), truth(c2, m1) and
    truth(c1, m2), where truth(a, b) renders a's content with b's motion.
    """
    _require_ground_truth(dataset)
    picks = leakage_picks(len(dataset), triples, seed)
    truth = dataset.transfer_truth
    image = torch.stack([truth(p[0], p[0])[0] for p in picks])
    m_base = torch.stack([truth(p[1], p[3]) for p in picks])
    m_content = torch.stack([truth(p[2], p[3]) for p in picks])
    m_motion = torch.stack([truth(p[1], p[4]) for p in picks])
    y_truth = torch.stack([truth(p[0], p[3]) for p in picks])
    o_base = transfer(image, m_base).detach().float().cpu()
    o_content = transfer(image, m_content).detach().float().cpu()
    o_motion = transfer(image, m_motion).detach().float().cpu()
    content_change, motion_change = leakage_changes(o_base, o_content, o_motion)
    ignored = motion_change < eps
    ratio = None if ignored else content_change / motion_change
    frames = _frames_of(o_base.shape[1], True)
    preservation = ContentPreservation(model_color_drift=ci(_color_drift(o_base, image, frames)),
                                       truth_color_drift=ci(_color_drift(y_truth, image, frames)))
    return DisentanglementResult(triples=triples, content_change=content_change, motion_change=motion_change,
                                 leakage_ratio=ratio, motion_ignored=ignored, eps=eps,
                                 content_preservation=preservation)
