"""Typed results of the evaluation protocols (pydantic; they are the metric card's body)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .stats import Estimate

__all__ = [
    "ScoreSet",
    "Curves",
    "BestOfK",
    "DiversityResult",
    "StochasticResult",
    "ReconstructionResult",
    "TransferResult",
    "RealClip",
    "RealTransferResult",
    "ContentPreservation",
    "DisentanglementResult",
    "FVDResult",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScoreSet(_Strict):
    """Mean and CI over clips of each clip's mean score over the scored frames."""

    l1: Estimate | None = None
    psnr: Estimate | None = None
    ssim: Estimate | None = None


class Curves(_Strict):
    """Per-frame means with CIs over clips; ``frames[i]`` is the frame index of entry ``i``."""

    frames: list[int]
    ssim: list[Estimate] = Field(default_factory=list)
    psnr: list[Estimate] = Field(default_factory=list)


class BestOfK(_Strict):
    """Scores of the selected sample per clip.

    ``selection``: ``per_metric`` (the best sample by SSIM for SSIM, the best by PSNR for
    PSNR), ``joint`` (one sample per clip, the best by ``joint_by``, scored on every
    metric), or ``mean_of_k`` (the average over all K samples: no selection at all).
    """

    selection: str
    scores: ScoreSet
    curves: Curves
    conditioning_frame: ScoreSet


class DiversityResult(_Strict):
    """Mean pairwise L1 (on [0, 1], scored frames) between the K samples of one image,
    and the same figure for real clips (``real_reference`` says which real clips)."""

    samples: Estimate
    real: Estimate | None = None
    real_reference: str | None = None
    real_changes: Estimate | None = Field(
        None, description="Real clips without shared first frames: pairwise L1 between their frame changes"
        " x^t − x^1 (vidgan_kit.eval.protocols.pairwise_change_l1), the like-for-like reference for samples"
        " that share one image; `real` beside it counts their differences in content too.",
    )


class StochasticResult(_Strict):
    """The paper's protocol (Sec. 4.3/4.4): first real frame in, K samples out, best of K."""

    clips: int
    samples: int
    scored_frames: list[int]
    conditioning_frame: int = 0
    per_metric: BestOfK
    joint: BestOfK
    mean_of_k: BestOfK
    psnr_capped_fraction: float
    diversity: DiversityResult
    static: BestOfK | None = Field(
        None, description="The baseline that learned nothing: the input frame held still, scored the same way."
    )


class ReconstructionResult(_Strict):
    """Ṽ_x: every clip re-rendered from its own content and motion codes, all frames scored."""

    clips: int
    scored_frames: list[int]
    scores: ScoreSet
    psnr_capped_fraction: float


class TransferResult(_Strict):
    """Ground-truth motion transfer on synthetic data, with a wrong-motion control and baselines.

    ``methods``: ``model`` (transfer(A's first frame, B)), ``model_wrong_motion``
    (transfer(A's first frame, another pair's motion clip), scored against the truth for
    B's motion), ``static`` (A's first frame repeated), ``copy_source`` (B itself).
    """

    pairs: int
    pair_seed: int
    scored_frames: list[int]
    methods: dict[str, ScoreSet]
    conditioning_frame: ScoreSet
    curves: dict[str, Curves]
    motion_gain_l1: float | None = Field(
        None, description="L1 of the wrong-motion control minus L1 of the model (> 0: the motion clip is used)."
    )


class RealClip(_Strict):
    """One clip of the real-clip transfer protocol: where it comes from and its wrong source."""

    clip: str = Field(description="The clip's name (its path relative to the data's root), or `item i`.")
    identity: str | None = None
    label: str | None = Field(None, description="Its class (action), where the data has class folders.")
    wrong_source: str = Field(description="The clip whose motion code is the wrong source.")


class RealTransferResult(_Strict):
    """Motion transfer on real clips, without ground truth for another identity: self-transfer.

    Per clip, the target image is its first frame and every output is scored against the clip
    itself. ``methods``: ``right`` (animate(image, encode_motion(clip)): the exact answer is the
    clip), ``wrong`` (the motion code of ``clips[i].wrong_source``), ``zero_code`` (z_M = 0),
    ``mean_code`` (z_M = the mean of the evaluated clips' posterior means) and ``static`` (the
    target image held still). ``gaps``: per clip ``right`` minus each other method (PSNR and
    SSIM), then mean and interval over clips.
    """

    clips: int
    scored_frames: list[int]
    target_image: str
    motion_code: str
    mean_code: str
    wrong_source_rule: str
    labels_from: str | None = Field(None, description="What the clips' labels are (None: the data has none).")
    clips_scored: list[RealClip]
    methods: dict[str, ScoreSet]
    gaps: dict[str, ScoreSet]
    conditioning_frame: ScoreSet = Field(description="The right source's frame 0 (a reproduction of the target).")
    curves: dict[str, Curves]


class ContentPreservation(_Strict):
    """How far the output's colours drift from the target image over time, next to the truth's drift.

    ``color_drift``: per clip, the mean over scored frames of |mean RGB of frame t − mean RGB
    of the target image| (on [0, 1]; position-invariant, so motion alone barely moves it).
    """

    model_color_drift: Estimate
    truth_color_drift: Estimate


class DisentanglementResult(_Strict):
    """Leakage of the motion clip's *content* into the output.

    For target image y and motion clips M(c1, m1), M(c2, m1) (same motion, other content)
    and M(c1, m2) (same content, other motion): ``content_change`` = mean |O(y, M(c1,m1)) −
    O(y, M(c2,m1))|, ``motion_change`` = mean |O(y, M(c1,m1)) − O(y, M(c1,m2))|, both L1 on
    [0, 1]; ``leakage_ratio`` = content_change / motion_change (0 is ideal). When the output
    does not react to the motion clip at all (motion_change below ``eps``), the ratio is
    undefined: ``leakage_ratio`` is None and ``motion_ignored`` True.
    """

    triples: int
    content_change: float
    motion_change: float
    leakage_ratio: float | None
    motion_ignored: bool
    eps: float
    content_preservation: ContentPreservation


class FVDResult(_Strict):
    """FVD between generated clips and the real test clips."""

    value: float | None
    n_fake: int
    n_real: int
    fake_set: str
    settings: dict[str, Any]
