"""The training loop on toy components: learning, phases, schedules, precision, logging, EMA."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
from safetensors.torch import load_file

from vidgan_kit.errors import VidganError
from vidgan_kit.training import train

from .toys import Recorder, make_host, make_recipe, read_metrics


def test_reconstruction_loss_falls_and_metrics_parse(tmp_path):
    host = make_host()
    recipe = make_recipe(
        host,
        losses={"recon": {"type": "tr_recon"}},
        phases=[{"name": "generator"}],
        train={"steps": 30, "checkpoint_every": 100},
    )
    run = train(recipe, host=host, run_dir=tmp_path / "run", quiet=True)
    assert run.step == 30 and run.status == "completed"

    lines = read_metrics(run.run_dir)
    assert [m["step"] for m in lines] == list(range(1, 31))
    losses = [m["loss/generator/recon"] for m in lines]
    assert all(math.isfinite(x) for x in losses)
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.6 * first, (first, last)
    for key in ("time", "elapsed", "loss/generator", "lr/generator", "perf/it_per_s", "diag/gain", "data/epoch"):
        assert key in lines[-1], key
    assert lines[-1]["lr/generator"] == pytest.approx(1e-2)
    assert "discriminator" not in json.dumps(lines[-1])  # no phase, no optimiser for it


def test_log_every_averages_over_the_interval(tmp_path):
    host = make_host()
    rec = Recorder()
    host.add_plugin(rec, "recorder")
    recipe = make_recipe(host, train={"steps": 6, "log_every": 3})
    train(recipe, host=host, run_dir=tmp_path / "run", quiet=True)
    lines = read_metrics(tmp_path / "run")
    assert [m["step"] for m in lines] == [3, 6]
    per_step = [c["stats"]["loss/generator/recon"] for c in rec.of("step_end")]
    assert lines[0]["loss/generator/recon"] == pytest.approx(sum(per_step[:3]) / 3)
    assert lines[1]["loss/generator/recon"] == pytest.approx(sum(per_step[3:]) / 3)


@pytest.mark.parametrize(("every", "diagnosed"), [(None, [2, 4, 6]), (3, [3, 6])])
def test_diagnostics_run_every_diagnostics_every_steps_or_with_the_metrics_lines(tmp_path, every, diagnosed):
    host = make_host()
    rec = Recorder()
    host.add_plugin(rec, "recorder")
    recipe = make_recipe(host, train={"steps": 6, "log_every": 2, "diagnostics_every": every})
    train(recipe, host=host, run_dir=tmp_path / "run", quiet=True)
    assert [c["step"] for c in rec.of("step_end") if "diag/gain" in c["stats"]] == diagnosed
    lines = read_metrics(tmp_path / "run")
    assert [m["step"] for m in lines if "diag/gain" in m] == ([2, 4, 6] if every is None else [4, 6])


def _changed(before: dict, after: dict, prefix: str) -> bool:
    return any(not torch.equal(before[k], after[k]) for k in before if k.startswith(prefix))


def test_phases_follow_their_schedule_and_step_only_their_group(tmp_path):
    host = make_host()
    rec = Recorder()
    host.add_plugin(rec, "recorder")
    recipe = make_recipe(
        host,
        phases=[{"name": "discriminator", "every": 2}, {"name": "generator", "start": 3}],
        train={"steps": 8},
    )
    run = train(recipe, host=host, run_dir=tmp_path / "run", quiet=True)
    ends = rec.of("step_end")
    assert [e["step"] for e in ends] == list(range(1, 9))
    model_before = None
    for e in ends:
        i = e["step"] - 1  # the iteration index the phases' schedules refer to
        d_due, g_due = i % 2 == 0, i >= 3
        assert ("loss/discriminator" in e["stats"]) == d_due, i
        assert ("loss/generator" in e["stats"]) == g_due, i
        assert ("loss/generator/recon" in e["stats"]) == g_due
        if model_before is not None:
            after = e["params"]
            assert _changed(model_before, after, "discriminator.") == d_due, i
            assert _changed(model_before, after, "generator.") == g_due, i
            assert (not torch.equal(model_before["gain"], after["gain"])) == g_due, i  # the assembly's own parameter
        model_before = e["params"]
    assert run.step == 8


def test_loss_start_and_ramp_weights(tmp_path):
    host = make_host()
    rec = Recorder()
    host.add_plugin(rec, "recorder")
    recipe = make_recipe(
        host,
        losses={
            "recon": {"type": "tr_recon"},
            "adv_d": {"type": "tr_hinge_d"},
            "const": {"type": "tr_constant", "weight": 2.0, "start": 3, "ramp": 4},
            "off": {"type": "tr_constant", "weight": 5.0, "enabled": False},
        },
        train={"steps": 9},
    )
    train(recipe, host=host, run_dir=tmp_path / "run", quiet=True)
    for e in rec.of("step_end"):
        i = e["step"] - 1
        assert "loss/generator/off" not in e["stats"]  # disabled terms are not even evaluated
        if i < 3:
            assert "loss/generator/const" not in e["stats"]
        else:
            assert e["stats"]["loss/generator/const"] == pytest.approx(2.0 * min(1.0, (i - 3 + 1) / 4)), i


def test_bf16_autocast_runs_on_cpu(tmp_path):
    host = make_host()
    recipe = make_recipe(host, train={"steps": 3, "precision": "bf16", "channels_last": True})
    run = train(recipe, host=host, run_dir=tmp_path / "run", quiet=True)
    last = read_metrics(run.run_dir)[-1]
    assert math.isfinite(last["loss/generator"]) and math.isfinite(last["loss/discriminator"])
    # Autocast changes the compute dtype, never the stored weights.
    assert all(p.dtype == torch.float32 for p in run.model.parameters())
    assert run.model.generator.conv1.weight.is_contiguous(memory_format=torch.channels_last)


def test_fp16_on_cpu_is_refused_before_anything_is_written(tmp_path):
    host = make_host()
    recipe = make_recipe(host, train={"precision": "fp16", "device": "cpu"})
    with pytest.raises(VidganError, match="fp16.*CUDA"):
        train(recipe, host=host, run_dir=tmp_path / "run", quiet=True)
    assert not any((tmp_path / "run").iterdir())


def test_recipe_naming_an_unknown_group_is_an_error(tmp_path):
    host = make_host()
    recipe = make_recipe(host, phases=[{"name": "discriminator"}, {"name": "generator", "group": "decoder"}])
    with pytest.raises(VidganError, match="groups: discriminator, generator"):
        train(recipe, host=host, run_dir=tmp_path / "run", quiet=True)


def test_ema_tracks_the_generator_slot(tmp_path):
    host = make_host()
    rec = Recorder()
    host.add_plugin(rec, "recorder")
    decay, start = 0.5, 2
    recipe = make_recipe(host, train={"steps": 6, "checkpoint_every": 6, "ema": {"enabled": True, "decay": decay, "start": start}})
    with pytest.warns(UserWarning, match="not averaged"):  # the assembly's own `gain`
        train(recipe, host=host, run_dir=tmp_path / "run", quiet=True)

    expected: dict[str, torch.Tensor] = {}
    for e in rec.of("step_end"):
        i = e["step"] - 1
        live = {k[len("generator."):]: v for k, v in e["params"].items() if k.startswith("generator.")}
        expected = dict(live) if i < start else {k: expected[k] + (live[k] - expected[k]) * (1 - decay) for k in live}

    ckpt = tmp_path / "run" / "checkpoints" / "step-00000006"
    ema = load_file(str(ckpt / "ema" / "generator" / "model.safetensors"))
    assert set(ema) == set(expected)
    for k in expected:
        torch.testing.assert_close(ema[k], expected[k], rtol=1e-6, atol=1e-7)
    raw = load_file(str(ckpt / "generator" / "model.safetensors"))
    assert not torch.equal(raw["conv1.weight"], ema["conv1.weight"])
    assert json.loads((ckpt / "index.json").read_text())["ema_slots"] == ["generator"]
    assert not (ckpt / "ema" / "discriminator").exists()

    # The assembly's inference statistics were taken after every step with the EMA weights.
    seen, averaged = 0.0, None
    for e in rec.of("step_end"):
        i = e["step"] - 1
        live = e["params"]["generator.conv1.weight"].double()
        averaged = live if i < start else averaged + (live - averaged) * (1 - decay)
        seen += float(averaged.sum())
    own = load_file(str(ckpt / "_assembly" / "model.safetensors"))
    assert float(own["seen_weight_sum"]) == pytest.approx(seen, rel=1e-6)  # the EMA is float32
    assert float(own["seen_weight_sum"]) != pytest.approx(
        sum(float(e["params"]["generator.conv1.weight"].double().sum()) for e in rec.of("step_end")), abs=1e-6)


def test_samples_are_written_as_gif_and_mp4(tmp_path):
    pytest.importorskip("vidgan_kit.io")
    host = make_host()
    recipe = make_recipe(host, train={"steps": 4, "sample_every": 2, "checkpoint_every": 100})
    run = train(recipe, host=host, run_dir=tmp_path / "run", quiet=True)
    names = sorted(p.name for p in run.samples_dir.iterdir())
    assert names == ["step-000002.gif", "step-000002.mp4", "step-000004.gif", "step-000004.mp4"]
    from vidgan_kit.io import read_video

    grid = read_video(run.samples_dir / "step-000004.gif")
    assert grid.shape[0] == 4 and grid.shape[1] == 3  # 4 frames, RGB
    assert grid.shape[2] > 8 and grid.shape[3] > 8  # rows (real, reconstruction) x 4 clips, tiled


def test_logging_and_sampling_do_not_change_what_is_learned(tmp_path):
    # Diagnostics, previews and hooks draw random numbers with the training's streams set
    # aside, so how often a run logs or samples cannot change its weights.
    host = make_host()
    quiet_run = train(make_recipe(host, train={"steps": 6, "log_every": 5, "sample_every": 0}),
                      host=host, run_dir=tmp_path / "a", quiet=True)
    busy_run = train(make_recipe(host, train={"steps": 6, "log_every": 1, "sample_every": 2}),
                     host=host, run_dir=tmp_path / "b", quiet=True)
    a, b = quiet_run.model.state_dict(), busy_run.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_expected_duration_is_printed_from_the_first_steps(tmp_path, capsys):
    """One line from the run's own first steps; printing it changes nothing that is learned."""
    host = make_host()
    loud = train(make_recipe(host, train={"steps": 10, "log_every": 100}), host=host, run_dir=tmp_path / "a", quiet=False)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("about ")]
    assert len(lines) == 1, lines
    found = re.fullmatch(r"about (\d+) s for 10 steps on this CPU \(([0-9.e+-]+) s a step\)", lines[0])
    assert found, lines[0]
    per_step = float(found.group(2))
    assert 0 < per_step < 60 and abs(int(found.group(1)) - max(1, 10 * per_step)) <= 1
    silent = train(make_recipe(host, train={"steps": 10, "log_every": 100}), host=host, run_dir=tmp_path / "b", quiet=True)
    a, b = loud.model.state_dict(), silent.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_time_budget_stops_with_a_checkpoint(tmp_path):
    from vidgan_kit.checkpoint import latest_checkpoint, read_index

    host = make_host()
    recipe = make_recipe(host, train={"steps": 1_000_000, "max_minutes": 0.01, "checkpoint_every": 1_000_000})
    run = train(recipe, host=host, run_dir=tmp_path / "run", quiet=True)
    assert 0 < run.step < 1_000_000 and run.status == "completed"
    assert read_index(latest_checkpoint(tmp_path / "run"))["step"] == run.step
