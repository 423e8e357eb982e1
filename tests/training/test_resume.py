"""Run directories and exact resume: a killed and resumed run equals the uninterrupted one, bit for bit."""

from __future__ import annotations

import json

import pytest
import torch

from vidgan_kit.checkpoint import list_checkpoints, load_training_state
from vidgan_kit.errors import VidganError
from vidgan_kit.training import train

from .toys import make_host, make_recipe, read_metrics

pytestmark = pytest.mark.filterwarnings("ignore:EMA.*not averaged:UserWarning")

N = 12  # 4 epochs of 3 batches: resuming lands mid-epoch and crosses epoch boundaries


def _changes(**train_changes):
    return dict(
        losses={
            "recon": {"type": "tr_recon"},
            "adv_d": {"type": "tr_hinge_d"},
            "adv_g": {"type": "tr_hinge_g", "weight": 0.1, "start": 2, "ramp": 4},
            "count": {"type": "tr_counting"},
        },
        phases=[{"name": "discriminator", "every": 2}, {"name": "generator"}],
        # Two learning rates in the generator's optimiser: its state has two torch param groups.
        optimizers={"generator": {"lr": 1e-2, "grad_clip": 0.5, "lr_multipliers": {"generator.conv1": 3.0}},
                    "discriminator": {"lr": 1e-3}},
        train={"steps": N, "checkpoint_every": 5, "ema": {"enabled": True, "decay": 0.8, "start": 3}, **train_changes},
    )


def _recipe(host, **train_changes):
    return make_recipe(host, **_changes(**train_changes))


def _final_state(run_dir):
    ckpt = list_checkpoints(run_dir)[-1][1]
    assert ckpt.name == f"step-{N:08d}"
    return load_training_state(ckpt)


@pytest.mark.parametrize("kill_at", [5, 7])
def test_killed_and_resumed_run_is_bit_identical(tmp_path, kill_at):
    host = make_host()
    straight = train(_recipe(host), host=host, run_dir=tmp_path / "straight", quiet=True)

    host2 = make_host()  # a new session: fresh host, fresh objects
    killed = train(_recipe(host2), host=host2, run_dir=tmp_path / "resumed", max_steps=kill_at, quiet=True)
    assert killed.status == "interrupted" and killed.step == kill_at
    # A kill writes no extra checkpoint: the resume point is the last periodic one (step 5).
    assert [s for s, _ in list_checkpoints(tmp_path / "resumed")] == [5]

    host3 = make_host()
    resumed = train(_recipe(host3), host=host3, run_dir=tmp_path / "resumed", resume=True, quiet=True)
    assert resumed.status == "completed" and resumed.step == N

    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert int(b["calls"]) == N  # the assembly's buffer went on counting from the checkpoint

    sa, sb = _final_state(tmp_path / "straight"), _final_state(tmp_path / "resumed")
    for group in ("generator", "discriminator"):
        oa, ob = sa["optimizers"][group], sb["optimizers"][group]
        assert oa["param_groups"] == ob["param_groups"]
        assert oa["state"].keys() == ob["state"].keys()
        for idx in oa["state"]:
            for name, value in oa["state"][idx].items():
                assert torch.equal(value, ob["state"][idx][name]), (group, idx, name)
    assert torch.equal(sa["rng"]["torch_cpu"], sb["rng"]["torch_cpu"])
    assert sa["rng"]["python"] == sb["rng"]["python"]
    assert sa["data"] == sb["data"]
    assert torch.equal(sa["loss_buffers"]["count"]["seen"], sb["loss_buffers"]["count"]["seen"])

    ema_a = (tmp_path / "straight" / "checkpoints" / f"step-{N:08d}" / "ema" / "generator" / "model.safetensors")
    ema_b = (tmp_path / "resumed" / "checkpoints" / f"step-{N:08d}" / "ema" / "generator" / "model.safetensors")
    from safetensors.torch import load_file

    ea, eb = load_file(str(ema_a)), load_file(str(ema_b))
    assert all(torch.equal(ea[k], eb[k]) for k in ea)

    # The log has each step once (the killed session's steps after the checkpoint were
    # dropped), with the same losses as the uninterrupted run.
    la, lb = read_metrics(tmp_path / "straight"), read_metrics(tmp_path / "resumed")
    assert [m["step"] for m in lb] == list(range(1, N + 1))
    for ma, mb in zip(la, lb, strict=True):
        for key in ma:
            if key.startswith("loss/"):
                assert ma[key] == mb[key], (ma["step"], key)
    assert (tmp_path / "resumed" / "environment-resume-00000005.json").is_file()


def test_existing_run_is_never_overwritten(tmp_path):
    host = make_host()
    run_dir = tmp_path / "run"
    train(_recipe(host, steps=2), host=host, run_dir=run_dir, quiet=True)
    before = (run_dir / "metrics.jsonl").read_text()
    with pytest.raises(VidganError, match="--resume"):
        train(_recipe(host, steps=2), host=host, run_dir=run_dir, quiet=True)
    assert (run_dir / "metrics.jsonl").read_text() == before


def test_resume_with_a_changed_recipe_lists_the_keys(tmp_path):
    host = make_host()
    run_dir = tmp_path / "run"
    train(_recipe(host, steps=3), host=host, run_dir=run_dir, quiet=True)

    changes = _changes(steps=4)
    changes["loader"] = {"batch_size": 2}
    changes["optimizers"]["generator"]["lr"] = 5e-3
    changed = make_recipe(host, **changes)
    with pytest.raises(VidganError) as info:
        train(changed, host=host, run_dir=run_dir, resume=True, quiet=True)
    message = str(info.value)
    assert "loader.batch_size" in message and "optimizers.generator.lr" in message
    assert "- train.steps" not in message  # may change
    assert "2 key(s)" in message

    # Only train.steps may change, and only upwards.
    with pytest.raises(VidganError, match="only be increased"):
        train(_recipe(host, steps=2), host=host, run_dir=run_dir, resume=True, quiet=True)
    longer = train(_recipe(host, steps=5), host=host, run_dir=run_dir, resume=True, quiet=True)
    assert longer.step == 5 and longer.status == "completed"
    assert json.loads((run_dir / "recipe.json").read_text())["train"]["steps"] == 5


def test_a_run_started_before_a_component_option_existed_resumes(tmp_path):
    """A run's recipe.json lacks the options added to its components since it started; at their
    defaults they keep the run's behaviour and do not stop a resume. Set otherwise, they do."""
    host = make_host()
    run_dir = tmp_path / "run"
    train(_recipe(host, steps=2), host=host, run_dir=run_dir, quiet=True)
    saved = json.loads((run_dir / "recipe.json").read_text())
    del saved["model"]["params"]["generator"]["params"]["hidden"]  # as if `hidden` came later
    del saved["model"]["params"]["noise"]
    (run_dir / "recipe.json").write_text(json.dumps(saved))
    changes = _changes(steps=3)
    changes["model"] = {"type": "tr_gan", "generator": {"type": "tr_conv", "hidden": 4}}
    with pytest.raises(VidganError, match=r"model.params.generator.params.hidden: saved 8, now 4"):
        train(make_recipe(host, **changes), host=host, run_dir=run_dir, resume=True, quiet=True)
    assert train(_recipe(host, steps=3), host=host, run_dir=run_dir, resume=True, quiet=True).step == 3


def test_resume_of_an_empty_directory_starts_a_new_run(tmp_path):
    host = make_host()
    run = train(_recipe(host, steps=2), host=host, run_dir=tmp_path / "new", resume=True, quiet=True)
    assert run.step == 2 and (tmp_path / "new" / "recipe.json").is_file()


def test_resume_of_a_finished_run_does_nothing_more(tmp_path):
    host = make_host()
    run_dir = tmp_path / "run"
    first = train(_recipe(host, steps=3), host=host, run_dir=run_dir, quiet=True)
    again = train(_recipe(host, steps=3), host=host, run_dir=run_dir, resume=True, quiet=True)
    assert again.step == 3 and again.status == "completed"
    for k, v in first.model.state_dict().items():
        assert torch.equal(v, again.model.state_dict()[k])
