"""Lifecycle hooks: called in order, with the documented arguments, however training ends."""

from __future__ import annotations

import inspect

import pytest

from vidgan_kit import hookspecs
from vidgan_kit.errors import VidganError
from vidgan_kit.training import RunContext, train

from .toys import Recorder, make_host, make_recipe


def test_hooks_fire_in_order_with_their_arguments(tmp_path):
    rec = Recorder()
    host = make_host(plugins=((rec, "recorder"),))
    recipe = make_recipe(host, train={"steps": 6, "checkpoint_every": 3})
    run = train(recipe, host=host, run_dir=tmp_path / "run", quiet=True)

    assert rec.names() == [
        "train_start",
        "step_end", "step_end", "step_end", "checkpoint_saved",
        "step_end", "step_end", "step_end", "checkpoint_saved",
        "train_end",
    ]
    assert all(c[1]["run"] is run for c in rec.calls)
    assert rec.of("train_start")[0]["step"] == 0
    assert [c["step"] for c in rec.of("step_end")] == [1, 2, 3, 4, 5, 6]
    stats = rec.of("step_end")[0]["stats"]
    assert {"loss/discriminator/adv_d", "loss/generator/recon", "loss/generator", "lr/generator"} <= set(stats)
    assert all(isinstance(v, float) for v in stats.values())
    saved = rec.of("checkpoint_saved")
    assert [c["step"] for c in saved] == [3, 6]
    assert all(c["complete"] for c in saved)  # called only once the checkpoint is whole
    assert saved[-1]["path"] == tmp_path / "run" / "checkpoints" / "step-00000006"
    end = rec.of("train_end")[0]
    assert (end["step"], end["status"], end["error"]) == (6, "completed", None)


def test_run_context_has_the_attributes_the_hookspecs_document(tmp_path):
    doc = inspect.getdoc(hookspecs.vidgan_train_start) or ""
    for attr in ("run_dir", "recipe", "model", "step", "is_main"):
        assert f"run.{attr}" in doc
        assert attr in RunContext.__dataclass_fields__


def test_failure_reports_failed_with_the_error(tmp_path):
    rec = Recorder(raise_at=2, exc=RuntimeError("boom"))
    host = make_host(plugins=((rec, "recorder"),))
    with pytest.raises(RuntimeError, match="boom"):
        train(make_recipe(host, train={"steps": 5}), host=host, run_dir=tmp_path / "run", quiet=True)
    end = rec.of("train_end")[0]
    assert end["status"] == "failed" and end["step"] == 2 and isinstance(end["error"], RuntimeError)


def test_ctrl_c_reports_interrupted(tmp_path):
    rec = Recorder(raise_at=3, exc=KeyboardInterrupt())
    host = make_host(plugins=((rec, "recorder"),))
    with pytest.raises(KeyboardInterrupt):
        train(make_recipe(host, train={"steps": 5, "checkpoint_every": 2}), host=host, run_dir=tmp_path / "run", quiet=True)
    end = rec.of("train_end")[0]
    assert end["status"] == "interrupted" and end["step"] == 3 and isinstance(end["error"], KeyboardInterrupt)
    # No checkpoint is written on Ctrl-C: the periodic one at step 2 is the resume point.
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["step-00000002"]


def test_a_diverging_loss_stops_the_run_as_failed(tmp_path):
    rec = Recorder()
    host = make_host(plugins=((rec, "recorder"),))
    recipe = make_recipe(host, losses={"adv_d": {"type": "tr_hinge_d"}, "recon": {"type": "tr_nan_at", "at": 3}},
                         train={"steps": 6, "checkpoint_every": 2})
    with pytest.raises(VidganError, match=r"Non-finite loss at step 4: loss/generator/recon = nan.*step-00000002"):
        train(recipe, host=host, run_dir=tmp_path / "run", quiet=True)
    end = rec.of("train_end")[0]
    assert end["status"] == "failed" and isinstance(end["error"], VidganError)
