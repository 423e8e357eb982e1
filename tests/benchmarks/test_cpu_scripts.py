"""The CPU benchmark scripts still run (at a toy size: their figures are not checked here).

``step_profile.py`` stopped at its first line for a session when ``speed.py``'s shared
recipe handling started reading ``args.device``: nothing ran it.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from vidgan_kit.checkpoint import list_checkpoints
from vidgan_kit.training.seeding import DeterminismSettings

from .._compiler import needs_cpp_compiler

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
TOY = ["--size", "16", "--frames", "4", "--batch", "2", "--threads", "1"]


@pytest.fixture(autouse=True)
def benchmarks_on_path(monkeypatch):
    """The scripts importable, and torch's process-wide switches (threads, deterministic
    mode) that they set as the trainer does given back afterwards to the other tests."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.setattr(sys, "argv", ["benchmark"])
    settings = DeterminismSettings.current()
    yield
    settings.restore()


def test_speed_prints_the_targets(capsys):
    import speed

    figures = speed.main([*TOY, "--configs", "fp32-cl,transfer", "--steps", "1", "--warmup", "0", "--transfer-runs", "1"])
    assert [row["config"] for row in figures["configs"]] == ["fp32-cl"]
    assert figures["configs"][0]["transfer_ms_median"] > 0
    assert "one transfer <= 8 ms" in capsys.readouterr().out


def test_step_profile_splits_an_iteration(capsys):
    import step_profile

    step_profile.main([*TOY, "--steps", "2", "--profiled", "0"])
    assert "where an iteration's time goes" in capsys.readouterr().out


def test_bf16_stability_counts_runs_per_arm(capsys):
    import bf16_stability

    outcomes = bf16_stability.main([*TOY, "--runs", "1", "--steps", "1"])
    assert set(outcomes) == {"shipped", "plain"} and all(len(v) == 1 for v in outcomes.values())
    assert "shipped: " in capsys.readouterr().out


@pytest.mark.slow  # inductor builds about fifty C++ kernels: most of a minute
@needs_cpp_compiler
def test_the_default_model_transfers_through_torch_compile(capsys):
    """Inductor builds the whole Dual-MTGAN transfer and the compiled frames are the eager ones."""
    import speed

    figures = speed.main([*TOY, "--configs", "transfer", "--compile", "--python-wrapper", "--steps", "1", "--warmup", "0",
                          "--transfer-runs", "1"])
    row = figures["configs"][0]
    assert row["transfer_compiled_ms_median"] > 0 and row["compiled_max_difference"] < 1e-3
    assert row["transfer_python_wrapper_ms_median"] > 0  # the pipeline's C++-wrapper build against the Python one
    printed = capsys.readouterr().out
    assert "through torch.compile" in printed and "Python wrapper" in printed


@pytest.mark.parametrize(("log_every", "diagnostics_every", "steps"), [(10, None, 10), (10, 50, 50), (3, 4, 12), (1, None, 10)])
def test_the_overhead_is_timed_over_whole_periods_of_lines_and_diagnostics(log_every, diagnostics_every, steps):
    # Fewer steps than the diagnostics' period timed the trainer without its dearest extra.
    import speed
    from vidgan_kit import PluginHost
    from vidgan_kit.recipe import read_recipe_table, validate_recipe

    table = read_recipe_table(speed.REPO / "recipes" / "tiny.toml")
    table["train"].update(log_every=log_every, diagnostics_every=diagnostics_every)
    table["train"] = {k: v for k, v in table["train"].items() if v is not None}
    recipe = validate_recipe(table, PluginHost.create().registry)
    assert speed.overhead_cadence(recipe) == steps


def test_make_hero_draws_target_source_transfer_truth_and_samples(tmp_path, monkeypatch, capsys):
    """The docs' hero picture from a tiny synthetic run: one GIF of the clip's frames, a row each
    for the target, the source, the transfer, the ground truth and every sample, a column per pair."""
    import make_hero
    import torch

    from vidgan_kit.io import read_video, video_grid

    from ..e2e.conftest import TINY_GEOMETRY as g
    from ..e2e.conftest import layered_run

    run_dir, out = tmp_path / "run", tmp_path / "hero.gif"
    layered_run(run_dir)
    monkeypatch.setattr(sys, "argv", ["make_hero.py", str(run_dir), "--out", str(out), "--clips", "3", "--samples", "2"])
    make_hero.main()
    expected = video_grid([torch.zeros(3, g.frames, 3, g.height, g.width)] * 6)
    assert tuple(read_video(out).shape) == tuple(expected.shape)
    assert "rows target | source | transfer | truth | 2 samples; 3 pairs" in capsys.readouterr().out


def test_make_hero_on_real_clips_animates_one_held_out_identity_with_anothers_motion(tmp_path, monkeypatch, capsys):
    """A run on Weizmann-like strips with actors 1 and 3 held out: one column per held-out actor,
    its source a clip of the other held-out actor doing another action; rows target, source,
    transfer and the samples (no ground truth across people)."""
    import heldout_transfer
    import make_hero
    import torch

    from vidgan_kit.io import read_video, video_grid

    from .._actors import write_actor_strips

    write_actor_strips(tmp_path / "strips", range(4), frames=6, size=16)
    run_dir, out = tmp_path / "run", tmp_path / "real.gif"
    heldout_transfer.main([str(heldout_transfer.REPO / "recipes" / "tiny.toml"), "--data", str(tmp_path / "strips"),
                           "--test-actors", "1", "3", "--minutes", "1", "--curve-points", "1", "--clips", "2",
                           "--samples", "0", "--set", "train.steps=1", "--set", "train.sample_every=0", "--out", str(run_dir), "--quiet"])
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["make_hero.py", str(run_dir), "--out", str(out), "--clips", "4", "--samples", "1"])
    make_hero.main()
    printed = capsys.readouterr().out
    assert "rows target | source | transfer | 1 samples" in printed
    pairs = printed.split("pairs ", 1)[1].strip().split(", ")
    assert len(pairs) == 2  # one column per held-out actor
    for pair in pairs:
        target, source = (int(name.rsplit("/", 1)[-1].split(".")[0]) for name in pair.split(" <- "))
        assert target // 8 in (1, 3) and source // 8 in (1, 3) and target // 8 != source // 8
    video = read_video(out)
    frames, height, width = video.shape[0], video.shape[-2], video.shape[-1]
    expected = video_grid([torch.zeros(2, frames, 3, 16, 16)] * 4)
    assert (frames, height, width) == (expected.shape[0], expected.shape[-2], expected.shape[-1])


def test_heldout_transfer_trains_with_actors_held_out_and_prints_their_curve(tmp_path, capsys):
    """A tiny recipe on Weizmann-like strips with actors 1 and 3 held out, a checkpoint per step:
    the table of every motion code, the targets and a curve point per checkpoint; the held-out
    actors never in the run's train split; a finished run is scored again from its own recipe,
    and trained on with it."""
    import heldout_transfer

    from .._actors import write_actor_strips

    write_actor_strips(tmp_path / "strips", range(4), frames=6, size=16)
    run_dir = tmp_path / "run"
    args = ["--data", str(tmp_path / "strips"), "--test-actors", "1", "3", "--minutes", "1", "--clips", "6",
            "--samples", "3", "--set", "train.steps=2", "--set", "train.checkpoint_every=1", "--set", "train.sample_every=0",
            "--out", str(run_dir), "--quiet"]
    results = heldout_transfer.main([str(heldout_transfer.REPO / "recipes" / "tiny.toml"), *args])
    final = results["final"]
    assert [p["step"] for p in results["curve"]] == [1, 2] and final["step"] == 2
    assert final["identities"] == ["1", "3"] and final["identities_in_train"] == [] and final["clips"] == 6
    assert final["right_minus_static_db"] == pytest.approx(final["right/psnr"] - final["static/psnr"])
    assert (run_dir / "heldout" / "step-1" / "metric_card.json").is_file()
    printed = capsys.readouterr().out
    assert "| wrong source (another action)" in printed and "right - wrong PSNR" in printed
    assert "| r-static dB |" in printed and "WARNING" not in printed
    # The paper's protocol at every point: best of K against the static baseline, diversity, reconstruction.
    assert final["samples"] == 3 and final["best_minus_mean_db"] >= 0
    assert final["diversity_ratio"] == pytest.approx(final["diversity"] / final["diversity_real"])
    assert 0 < final["diversity_real_changes"] and 0 <= final["recon_l1"] <= 1
    assert "best of 3 - static PSNR" in printed and "| x changes |" in printed

    again = heldout_transfer.main([str(run_dir), "--curve-points", "1", "--clips", "6"])
    assert len(again["curve"]) == 1 and again["final"]["right/psnr"] == pytest.approx(final["right/psnr"])

    # Trained on with its own recipe (no --set needed), then scored: the curve gains the new point.
    on = heldout_transfer.main([str(run_dir), "--continue-to", "3", "--clips", "6", "--samples", "0", "--quiet"])
    assert [p["step"] for p in on["curve"]] == [1, 2, 3]
    assert on["curve"][1]["right/psnr"] == pytest.approx(final["right/psnr"])
    assert "continued: " in capsys.readouterr().out

    # A branch from step 2 with a changed recipe: the shared steps are copied, the run branched from is untouched.
    branch = tmp_path / "branch"
    lr = "optimizers.generator.lr=0.05"
    off = heldout_transfer.main([str(run_dir), "--branch-from", "2", "--set", lr, "--continue-to", "3",
                                 "--out", str(branch), "--clips", "6", "--samples", "0", "--quiet"])
    assert [p["step"] for p in off["curve"]] == [1, 2, 3]
    assert off["curve"][1]["right/psnr"] == pytest.approx(on["curve"][1]["right/psnr"])
    assert off["curve"][2]["right/psnr"] != pytest.approx(on["curve"][2]["right/psnr"], abs=1e-6)
    assert json.loads((branch / "recipe.json").read_text())["optimizers"]["generator"]["lr"] == 0.05
    assert json.loads((run_dir / "recipe.json").read_text())["optimizers"]["generator"]["lr"] != 0.05
    assert [s for s, _ in list_checkpoints(run_dir)] == [1, 2, 3]
    assert "branched: " in capsys.readouterr().out
    with pytest.raises(SystemExit):  # a branch never writes into a run directory that holds something
        heldout_transfer.main([str(run_dir), "--branch-from", "2", "--continue-to", "3", "--out", str(branch)])


def test_motion_code_probe_reports_each_dimension_the_three_diversities_and_the_headroom(tmp_path, capsys):
    """A one-step run on Weizmann-like strips: a row per z_M dimension, the real clips' frame
    changes as the reference, figures that are finite, and codes fitted to the clips that
    reconstruct them better than E_M's code does."""
    import heldout_transfer
    import motion_code_probe

    from .._actors import write_actor_strips

    write_actor_strips(tmp_path / "strips", range(4), frames=6, size=16)
    run_dir = tmp_path / "run"
    heldout_transfer.main([str(heldout_transfer.REPO / "recipes" / "tiny.toml"), "--data", str(tmp_path / "strips"),
                           "--test-actors", "1", "3", "--minutes", "1", "--curve-points", "1", "--clips", "2",
                           "--samples", "0", "--set", "train.steps=1", "--set", "train.sample_every=0",
                           "--out", str(run_dir), "--quiet"])
    capsys.readouterr()
    figures = motion_code_probe.main([str(run_dir), "--data", str(tmp_path / "strips"), "--test-actors", "1", "3",
                                      "--clips", "4", "--samples", "3", "--fit-steps", "30"])
    printed = capsys.readouterr().out
    rows = [line for line in printed.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 4  # tiny.toml's motion_dim
    assert all(0 <= figures[k] < 1 for k in ("transfer_with_real_codes", "samples", "real_frame_changes"))
    assert figures["real_frame_changes"] > 0 and figures["kl_nats"] >= 0
    assert figures["fitted_frame_codes_psnr"] > figures["transfer_psnr"]
    assert figures["fitted_z_psnr"] > figures["transfer_psnr"]
    assert "| frame codes fitted (G_I as trained) |" in printed
    assert f"the transfer's first frame against the target image itself: {figures['first_frame_psnr']:.2f} dB" in printed
    trained_on = motion_code_probe.main([str(run_dir), "--data", str(tmp_path / "strips"), "--test-actors", "1", "3",
                                         "--clips", "4", "--samples", "3", "--fit-steps", "30", "--split", "train"])
    assert trained_on["real_frame_changes"] != figures["real_frame_changes"]  # other people's clips
    assert trained_on["fitted_z_psnr"] > trained_on["transfer_psnr"]


def test_compare_families_trains_both_families_and_tables_them(tmp_path, capsys):
    """Two steps of each family on the synthetic pair: every model gets its paper-protocol
    column beside the static baseline, only the model that transfers a transfer figure."""
    import compare_families

    report = compare_families.main([
        "--recipes", "recipes/dual_mtgan.toml", "recipes/mocogan.toml", "--set-for", "mocogan:model.content=image",
        "--steps", "2", "--size", "16", "--frames", "4", "--batch", "2", "--threads", "1", "--clips", "3",
        "--samples", "2", "--fvd", "off", "--out", str(tmp_path)])
    dual, moco = report["models"]["dual_mtgan (dual_mtgan)"], report["models"]["mocogan (mocogan)"]
    for row in (dual, moco):
        assert row["best_psnr"] >= row["mean_psnr"] and row["static_psnr"] is not None and row["diversity"] >= 0
    assert dual["transfer_psnr"] is not None and moco["transfer_psnr"] is None
    table = (tmp_path / "comparison.md").read_text()
    assert table in capsys.readouterr().out
    assert "| mocogan (mocogan) |" in table.splitlines()[0] and "| transfer PSNR (dB) | — |" in table
    assert json.loads((tmp_path / "comparison.json").read_text())["models"] == report["models"]
    with pytest.raises(SystemExit, match="--set-for names no recipe"):
        compare_families.main(["--recipes", "recipes/mocogan.toml", "--set-for", "moco:model.content=image"])

@pytest.mark.slow  # two exports and a torch.export trace: most of a minute
@pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in ("onnx", "onnxruntime", "onnxscript")),
                    reason="the export extra (onnx, onnxruntime, onnxscript) is not installed")
def test_export_latency_times_every_route_against_eager(capsys):
    import export_latency

    figures = export_latency.main(["--size", "16", "--frames", "4", "--threads", "1", "--rounds", "2", "--runs", "1",
                                   "--warmup", "0", "--no-compile"])
    assert set(figures) == {"eager", "torch.export", "onnxruntime"}
    assert all(f["ms"] > 0 and len(f["rounds_ms"]) == 2 for f in figures.values())
    assert figures["eager"]["vs_eager"] == 1 and all(f["max_diff"] <= 1e-4 for f in figures.values())
    assert "x eager" in capsys.readouterr().out
