"""The protocols on constructed generators whose right answers are known."""

from __future__ import annotations

import pytest
import torch

from vidgan_kit import load_registry
from vidgan_kit.errors import DataError
from vidgan_kit.eval.protocols import (
    leakage,
    leakage_changes,
    leakage_picks,
    pairwise_change_l1,
    pairwise_l1,
    reconstruction,
    select_best,
    still_image_sampler,
    stochastic_best_of_k,
    transfer_ground_truth,
)
from vidgan_kit.eval.runner import EvalSettings, build_scorers

T, C, H, W = 4, 3, 16, 16


@pytest.fixture(scope="module")
def scorers():
    return build_scorers(load_registry(), EvalSettings())


def _clips(n: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand((n, T, C, H, W), generator=g)
    return (torch.nn.functional.avg_pool2d(x.flatten(0, 1), 3, 1, 1).view(n, T, C, H, W) * 1.6 - 0.8)


def test_best_of_k_picks_the_right_sample(scorers):
    clips = _clips()
    levels = torch.tensor([0.4, 0.2, 0.0, 0.3])  # sample 2 is the clip itself

    def sample(image, k, generator):
        i = int(torch.argmin((clips[:, 0] - image[0]).abs().flatten(1).sum(1)))
        noise = torch.randn((k, T, C, H, W), generator=generator)
        return (clips[i] + levels[:k, None, None, None, None] * noise).unsqueeze(0)

    out = stochastic_best_of_k(sample, clips, scorers, samples=4, seed=0, keep=4)
    r = out.result
    assert torch.equal(select_best(out.ssim, r.scored_frames), torch.full((3,), 2))
    assert torch.equal(select_best(out.psnr, r.scored_frames), torch.full((3,), 2))
    assert r.per_metric.scores.ssim.mean == pytest.approx(1.0, abs=1e-6)
    assert r.per_metric.scores.psnr.mean == 100.0 and r.psnr_capped_fraction == pytest.approx(0.25)
    assert r.joint.scores.ssim.mean == pytest.approx(1.0, abs=1e-6)
    assert r.mean_of_k.scores.ssim.mean < 0.9  # the average over K is no selection
    assert torch.equal(out.best, clips)
    assert r.scored_frames == [1, 2, 3] and r.per_metric.curves.frames == [1, 2, 3]
    assert len(r.per_metric.curves.ssim) == 3
    assert r.diversity.samples.mean > 0
    # No ground-truth alternatives: the real references are these clips and their frame changes.
    assert r.diversity.real.mean == pytest.approx(pairwise_l1(clips, r.scored_frames))
    assert r.diversity.real_changes.mean == pytest.approx(pairwise_change_l1(clips, r.scored_frames))


def test_per_metric_and_joint_selection_differ_when_the_metrics_disagree(scorers):
    clips = _clips(2)

    def sample(image, k, generator):
        i = int(torch.argmin((clips[:, 0] - image[0]).abs().flatten(1).sum(1)))
        target = clips[i]
        blurred = torch.nn.functional.avg_pool2d(target, 5, 1, 2)  # keeps mean: good PSNR-ish, weak SSIM
        brighter = (target + 0.25).clamp(-1, 1)  # keeps structure: good SSIM, poor PSNR
        return torch.stack([blurred, brighter])[None]

    r = stochastic_best_of_k(sample, clips, scorers, samples=2).result
    by_ssim = select_best(torch.stack([scorers["ssim"].score(torch.stack([
        torch.nn.functional.avg_pool2d(c, 5, 1, 2), (c + 0.25).clamp(-1, 1)]), c.expand(2, -1, -1, -1, -1))
        for c in clips]), r.scored_frames)
    assert torch.equal(by_ssim, torch.tensor([1, 1]))
    # per metric: PSNR from the blurred sample (index 0); joint: PSNR of the SSIM-best (index 1)
    assert r.per_metric.scores.psnr.mean > r.joint.scores.psnr.mean
    assert r.per_metric.scores.ssim.mean == pytest.approx(r.joint.scores.ssim.mean)


def test_the_conditioning_frame_is_excluded_and_reported_apart(scorers):
    clips = _clips(2)

    def sample(image, k, generator):  # perfect except frame 0, which is inverted
        i = int(torch.argmin((clips[:, 0] - image[0]).abs().flatten(1).sum(1)))
        out = clips[i].clone()
        out[0] = -out[0]
        return out.expand(k, -1, -1, -1, -1)[None]

    r = stochastic_best_of_k(sample, clips, scorers, samples=2).result
    assert r.per_metric.scores.psnr.mean == 100.0
    assert r.per_metric.conditioning_frame.psnr.mean < 20


def test_the_static_baseline_is_exact_on_still_clips_and_loses_on_moving_ones(scorers):
    still = _clips(2)[:, :1].expand(-1, T, -1, -1, -1).clone()  # every frame the first
    sample = still_image_sampler(T)
    out = sample(still[0, :1], 3, torch.Generator())
    assert out.shape == (1, 3, T, C, H, W) and torch.equal(out[0, 2], still[0])
    r = stochastic_best_of_k(sample, still, scorers, samples=1).result
    assert r.per_metric.scores.psnr.mean == 100.0 and r.per_metric.scores.ssim.mean == pytest.approx(1.0)
    moving = stochastic_best_of_k(sample, _clips(2), scorers, samples=1).result
    assert moving.per_metric.scores.psnr.mean < 30 and moving.per_metric.scores.ssim.mean < 0.9


def test_samples_are_reproducible_per_clip_and_seed(scorers):
    clips = _clips(3)

    def sample(image, k, generator):
        return (image[:, None, None] + 0.3 * torch.randn((1, k, T, C, H, W), generator=generator)).clamp(-1, 1)

    a = stochastic_best_of_k(sample, clips, scorers, samples=3, seed=5)
    b = stochastic_best_of_k(sample, clips[:2], scorers, samples=3, seed=5)
    c = stochastic_best_of_k(sample, clips, scorers, samples=3, seed=6)
    assert torch.equal(a.ssim[:2], b.ssim)  # clip i's samples do not depend on the other clips
    assert not torch.equal(a.ssim, c.ssim)


def test_pairwise_l1():
    v = torch.stack([torch.full((T, C, H, W), -1.0), torch.full((T, C, H, W), 1.0), torch.full((T, C, H, W), 0.0)])
    assert pairwise_l1(v) == pytest.approx((1.0 + 0.5 + 0.5) / 3)
    assert pairwise_l1(v[:1]) != pairwise_l1(v[:1])  # NaN for one sample


def test_pairwise_change_l1_counts_motion_not_content():
    g = torch.Generator().manual_seed(0)
    first = torch.rand(C, H, W, generator=g) * 0.5 - 0.25
    changes = torch.rand(3, T, C, H, W, generator=g) * 0.4 - 0.2
    changes[:, 0] = 0
    shared = first + changes  # three motions of one first frame
    assert pairwise_change_l1(shared) == pytest.approx(pairwise_l1(shared), rel=1e-6)
    moved = shared + torch.tensor([-0.5, 0.0, 0.5]).view(3, 1, 1, 1, 1)  # other content, same motions
    assert pairwise_change_l1(moved) == pytest.approx(pairwise_change_l1(shared), rel=1e-6)
    assert pairwise_l1(moved) > pairwise_l1(shared) + 0.1
    still = moved[:, :1].expand_as(moved)
    assert pairwise_change_l1(still) == 0.0
    assert pairwise_change_l1(moved[:1]) != pairwise_change_l1(moved[:1])  # NaN for one clip


def test_reconstruction_of_identity_and_of_a_constant(scorers):
    clips = _clips(3)
    r, _ = reconstruction(lambda v: v, clips, scorers)
    assert r.scores.l1.mean == 0 and r.scores.psnr.mean == 100.0 and r.psnr_capped_fraction == 1.0
    r2, _ = reconstruction(lambda v: torch.zeros_like(v), clips, scorers)
    assert 0 < r2.scores.l1.mean < 0.5 and r2.scores.psnr.mean < 30


# -- ground truth with a factor-level stand-in data set ---------------------------------------------


class FactorClips:
    """Clip (content a, motion b): channel 0 = a's level everywhere, channels 1-2 = a ramp in time
    with b's slope. Content and motion are readable from the pixels, so generators that use
    one or the other can be written exactly."""

    def __init__(self, n: int = 12) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def transfer_truth(self, a: int, b: int) -> torch.Tensor:
        v = torch.zeros(T, C, H, W)
        v[:, 0] = -0.8 + 1.6 * a / self.n
        t = torch.arange(T, dtype=torch.float32).view(T, 1, 1)
        v[:, 1:] = (t * (0.05 + 0.4 * b / self.n) - 0.7).unsqueeze(1)
        return v

    def transfer_pairs(self, count: int, *, seed: int = 0) -> list[tuple[int, int]]:
        g = torch.Generator().manual_seed(seed)
        return [tuple(int(x) for x in torch.randperm(self.n, generator=g)[:2]) for _ in range(count)]

    def transfer_batch(self, pairs):
        truth = torch.stack([self.transfer_truth(a, b) for a, b in pairs])
        return {"image": truth[:, 0], "source": torch.stack([self.transfer_truth(b, b) for _, b in pairs]),
                "truth": truth}


def _uses_motion_only(image, video):  # the ideal: target's content, the motion clip's motion
    out = video.clone()
    out[:, :, 0] = image[:, None, 0]
    return out


def test_transfer_oracle_beats_controls_and_baselines(scorers):
    result, videos = transfer_ground_truth(_uses_motion_only, FactorClips(), scorers, pairs=6)
    m = result.methods
    assert m["model"].l1.mean == 0 and m["model"].psnr.mean == 100.0
    assert m["model_wrong_motion"].l1.mean > 0.01 and result.motion_gain_l1 > 0.01
    assert m["static"].l1.mean > 0 and m["copy_source"].l1.mean > 0
    assert set(result.curves) == {"model", "model_wrong_motion", "static", "copy_source"}
    assert result.scored_frames == [1, 2, 3]


def test_transfer_needs_ground_truth(scorers):
    with pytest.raises(DataError, match="ground-truth"):
        transfer_ground_truth(_uses_motion_only, object(), scorers)


def test_leakage_zero_for_a_generator_that_ignores_the_motion_clips_content():
    r = leakage(_uses_motion_only, FactorClips(), triples=8)
    assert r.content_change == 0 and r.motion_change > 0
    assert r.leakage_ratio == 0 and not r.motion_ignored


def test_leakage_picks_are_five_different_clips_fixed_by_the_seed():
    picks = leakage_picks(9, triples=6, seed=3)
    assert len(picks) == 6 and all(len(set(p)) == 5 and all(0 <= i < 9 for i in p) for p in picks)
    assert picks == leakage_picks(9, triples=6, seed=3) and picks != leakage_picks(9, triples=6, seed=4)
    with pytest.raises(DataError, match="at least 5 clips"):
        leakage_picks(4)


def test_leakage_scores_the_outputs_of_its_picks_with_leakage_changes():
    """leakage() is leakage_changes() on outputs for the clips leakage_picks() names."""
    data = FactorClips()
    seen: list[torch.Tensor] = []

    def recording(image: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        seen.append(video.clone())
        return video.flip(-1) * 0.5

    r = leakage(recording, data, triples=5, seed=2)
    picks = leakage_picks(len(data), triples=5, seed=2)
    expected = [torch.stack([data.transfer_truth(p[c], p[m]) for p in picks]) for c, m in ((1, 3), (2, 3), (1, 4))]
    assert all(torch.equal(a, b) for a, b in zip(seen, expected))
    changes = leakage_changes(*(v.flip(-1) * 0.5 for v in expected))
    assert (r.content_change, r.motion_change) == changes and changes[0] > 0


def test_leakage_undefined_for_a_generator_that_ignores_motion():
    r = leakage(lambda image, video: image[:, None].expand_as(video).clone(), FactorClips(), triples=8)
    assert r.content_change == 0 and r.motion_change == 0
    assert r.leakage_ratio is None and r.motion_ignored
    assert "NaN" not in r.model_dump_json()


def test_leakage_positive_for_a_generator_that_ignores_the_target_content():
    r = leakage(lambda image, video: video.clone(), FactorClips(), triples=8)  # copies the motion clip
    assert r.content_change > 0 and r.leakage_ratio > 0.5
    cp = r.content_preservation
    assert cp.model_color_drift.mean > cp.truth_color_drift.mean
