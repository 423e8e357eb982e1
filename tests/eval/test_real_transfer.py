"""The transfer protocol on real clips: self-transfer with the right, a wrong, the zero and the
mean motion code, and static; the split's identities in the metric card."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from tests._actors import NUMBERED, write_actor_strips
from vidgan_kit import PluginHost
from vidgan_kit.cli import build_app
from vidgan_kit.cli._common import reset_state
from vidgan_kit.errors import DataError, ShapeError
from vidgan_kit.eval import MetricCard
from vidgan_kit.eval.protocols import WRONG_SOURCE_RULE, transfer_real, wrong_source_picks
from vidgan_kit.eval.runner import EvalSettings, build_scorers
from vidgan_kit.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]
SHAPE = (4, 3, 16, 16)  # T, C, H, W of the tiny recipe


@pytest.fixture(scope="module")
def scorers():
    return build_scorers(PluginHost.create().registry, EvalSettings())


@pytest.fixture
def cli(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDGAN_CACHE", str(tmp_path / "empty-cache"))
    runner = CliRunner()

    def invoke(*args: str):
        reset_state()
        return runner.invoke(build_app(), [str(a) for a in args])

    yield invoke
    reset_state()


@pytest.fixture(scope="module")
def actors_run(tmp_path_factory) -> Path:
    """The tiny recipe trained for 2 steps on four actors' strips, actors 2 and 3 held out."""
    from vidgan_kit.training import train

    root = tmp_path_factory.mktemp("actors")
    write_actor_strips(root / "strips", range(4), frames=6, size=16)
    data = ('{type = "frame_strips", root = "%s", split_mode = "by_identity", identity_pattern = \'%s\', '
            "identity_divisor = 8, test_identities = [2, 3]}" % (root / "strips", NUMBERED["identity_pattern"]))
    host = PluginHost.create()
    recipe = load_recipe(REPO / "recipes" / "tiny.toml", host.registry,
                         [f"data={data}", "train.steps=2", "train.sample_every=0", "train.checkpoint_every=2"])
    train(recipe, host=host, run_dir=root / "run", quiet=True)
    return root / "run"


def test_wrong_sources_are_another_action_of_the_same_person_where_there_is_one():
    labels = ["wave", "wave", "jack", "bend", "wave"]
    people = ["ann", "bob", "ann", "bob", "cleo"]
    assert wrong_source_picks(labels, people) == [2, 3, 0, 1, 2]  # cleo has one clip: the next other action
    assert wrong_source_picks([None] * 4, ["a", "b", "a", "b"]) == [2, 3, 0, 1]  # no labels: same person
    assert wrong_source_picks(["x"] * 3, [None] * 3) == [1, 2, 0]  # one label, no identities: the next clip
    with pytest.raises(DataError, match="at least 2 clips"):
        wrong_source_picks(["x"], [None])


def clips_of(n: int, seed: int = 0) -> torch.Tensor:
    return torch.rand((n, *SHAPE), generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_a_model_that_copies_its_motion_code_scores_exactly_what_it_animates(scorers):
    """z is the clip itself and animate returns z: the right source is the exact answer, every other
    row is a known video, scored the way the protocol says."""
    clips = clips_of(5)
    labels = [0, 1, 0, 1, 2]
    result, videos = transfer_real(lambda v: v.flatten(1), lambda image, z: z.view(-1, *SHAPE), clips, scorers,
                                   names=[f"c{i}" for i in range(5)], labels=labels, identities=["a"] * 5,
                                   labels_from="label", batch_size=2)
    picks = wrong_source_picks(labels, ["a"] * 5)
    expected = {"right": clips, "wrong": clips[picks], "zero_code": torch.zeros_like(clips),
                "mean_code": clips.mean(0, keepdim=True).expand_as(clips),
                "static": clips[:, :1].expand_as(clips)}
    for name, video in expected.items():
        torch.testing.assert_close(videos[name], video)
        psnr = scorers["psnr"].score(video, clips)[:, 1:].mean(1)
        assert result.methods[name].psnr.mean == pytest.approx(float(psnr.mean()), abs=1e-9), name
    assert result.methods["right"].psnr.mean == 100.0 and result.methods["right"].ssim.mean == pytest.approx(1.0)
    gap = result.gaps["right - wrong"].psnr
    assert gap.mean == pytest.approx(100.0 - result.methods["wrong"].psnr.mean) and gap.n == 5
    assert set(result.gaps) == {"right - wrong", "right - zero_code", "right - mean_code", "right - static"}
    assert result.scored_frames == [1, 2, 3] and result.curves["static"].frames == [1, 2, 3]
    assert [c.wrong_source for c in result.clips_scored] == [f"c{p}" for p in picks]
    assert all(c.label != labels[picks[i]] for i, c in enumerate(result.clips_scored) if c.label is not None)
    assert result.wrong_source_rule == WRONG_SOURCE_RULE and result.labels_from == "label"


def test_a_model_blind_to_its_motion_code_gains_nothing_over_any_code(scorers):
    clips = clips_of(3, seed=1)
    still = lambda image, z: image[:, None].expand(-1, SHAPE[0], -1, -1, -1)  # noqa: E731
    result, _ = transfer_real(lambda v: v[:, :, 0, 0, 0], still, clips, scorers)
    for name, gap in result.gaps.items():
        assert gap.psnr.mean == 0.0 and gap.ssim.mean == 0.0, name
    assert [c.clip for c in result.clips_scored] == ["item 0", "item 1", "item 2"] and result.labels_from is None


def test_outputs_of_the_wrong_shape_are_named(scorers):
    clips = clips_of(2)
    with pytest.raises(ShapeError, match=r"encode_motion\(\) output: expected \[2, motion_dim\]"):
        transfer_real(lambda v: v.flatten(), lambda image, z: image, clips, scorers)
    with pytest.raises(ShapeError, match=r"animate\(\) output"):
        transfer_real(lambda v: v.flatten(1), lambda image, z: image, clips, scorers)


def test_eval_scores_held_out_actors_by_self_transfer(cli, actors_run, tmp_path):
    out = tmp_path / "ev"
    result = cli("eval", actors_run, "--out", out, "--protocol", "transfer", "--clips", "6", "--seed", "3")
    assert result.exit_code == 0, result.output
    card = MetricCard.model_validate_json((out / "metric_card.json").read_text())
    d, s, r = card.data, card.settings, card.real_transfer
    assert d.split_mode == "by_identity" and d.params["test_identities"] == ["2", "3"]
    assert d.identities == ["2", "3"] and d.identities_in_train == [] and d.clips == 6 and d.clips_available == 8
    assert s.transfer_kind == "real_clips" and s.seed == 3 and s.scored_frames == [1, 2, 3]
    assert card.transfer is None and card.disentanglement is None and card.stochastic is None
    assert r is not None and r.clips == 6 and r.scored_frames == [1, 2, 3] and r.labels_from == "class folder"
    assert set(r.methods) == {"right", "wrong", "zero_code", "mean_code", "static"}
    by_name = {c.clip: c for c in r.clips_scored}
    for c in r.clips_scored:  # another action of the same actor
        source = by_name.get(c.wrong_source)
        assert c.identity in ("2", "3") and c.wrong_source != c.clip and c.wrong_source.split("/")[0] != c.label
        assert source is None or source.identity == c.identity
    right, static = r.methods["right"].psnr.mean, r.methods["static"].psnr.mean
    assert r.gaps["right - static"].psnr.mean == pytest.approx(right - static)  # paired per clip, same frames
    for name in ("transfer_curves_psnr.png", "transfer_curves_ssim.png", "transfer_examples.gif", "report.md"):
        assert (out / name).is_file(), name
    report = (out / "report.md").read_text()
    assert "## Motion transfer on real clips" in report and "| wrong source (another clip's motion code) |" in report
    assert "| right − static |" in report and "none seen in training" in report
    assert "right − wrong" in result.stdout and "transfer, zero code" in result.stdout


def test_protocol_all_on_real_clips_runs_both_and_a_model_without_the_methods_is_told(cli, actors_run, tmp_path,
                                                                                   monkeypatch):
    out = tmp_path / "all"
    result = cli("eval", actors_run, "--out", out, "--protocol", "all", "--clips", "4", "--samples", "2", "--no-fvd")
    assert result.exit_code == 0, result.output
    card = MetricCard.model_validate_json((out / "metric_card.json").read_text())
    assert card.stochastic is not None and card.real_transfer is not None and card.real_transfer.clips == 4

    from vidgan_dual_mtgan import DualMTGAN

    monkeypatch.delattr(DualMTGAN, "animate")
    result = cli("eval", actors_run, "--out", tmp_path / "no", "--protocol", "transfer", "--clips", "4")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "needs the model's encode_motion(video) -> z and animate(image, z)" in result.stderr
    assert "DualMTGAN has no animate()" in result.stderr
    result = cli("eval", actors_run, "--out", tmp_path / "paper", "--protocol", "all", "--clips", "4",
                 "--samples", "2", "--no-fvd")
    assert result.exit_code == 0, result.output
    card = MetricCard.model_validate_json((tmp_path / "paper" / "metric_card.json").read_text())
    assert card.real_transfer is None and card.stochastic is not None
    assert any("transfer protocol skipped" in note and "animate" in note for note in card.notes)


def test_real_clips_flag_scores_synthetic_data_by_self_transfer(cli, tiny_run, tmp_path):
    out = tmp_path / "synthetic"
    result = cli("eval", tiny_run, "--out", out, "--protocol", "transfer", "--real-clips", "--clips", "4")
    assert result.exit_code == 0, result.output
    card = MetricCard.model_validate_json((out / "metric_card.json").read_text())
    assert card.settings.transfer_kind == "real_clips" and card.transfer is None
    assert card.real_transfer is not None and card.real_transfer.labels_from == "motion_label"
    assert card.data.identities is None and card.data.identities_in_train is None
