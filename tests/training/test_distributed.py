"""Multi-process training, for real: torchrun starts 2 gloo processes on this machine.

Each launch costs a few seconds of process start-up (torch is imported three times), so
one launch checks several things; the worker (``_dist_worker.py``) records per rank and
step the clip indices it trained on, its noise and a digest of its weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from vidgan_kit.checkpoint import list_checkpoints, load_model, load_training_state
from vidgan_kit.training import train
from vidgan_kit.training.data import EpochSampler

from ._dist_worker import Probe
from .toys import make_host, make_recipe, read_metrics

pytestmark = [pytest.mark.filterwarnings("ignore:EMA.*not averaged:UserWarning"),
              pytest.mark.skipif(not torch.distributed.is_available(), reason="torch without torch.distributed")]
slow = pytest.mark.slow  # each launch starts three Python processes that import torch

REPO = Path(__file__).resolve().parents[2]
SEED = 3  # toys.BASE_TABLE's seed
CLIPS = 12


def _env() -> dict[str, str]:
    return {**os.environ, "VIDGAN_QUIET": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO),
            "PYTHONWARNINGS": "ignore"}


def torchrun(args: list[str], *, nproc: int = 2, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m torch.distributed.run --standalone`` (a free port of its own) on 127.0.0.1."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *args]
    return subprocess.run(command, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout)


def launch(tmp_path: Path, job: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the worker on 2 ranks; returns each rank's record."""
    job = {"out": str(tmp_path / "records"), **job}
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    proc = torchrun(["-m", "tests.training._dist_worker", str(path)])
    assert proc.returncode == 0, f"torchrun failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return [json.loads((tmp_path / "records" / f"rank-{r}.json").read_text()) for r in range(2)]


def changes(batch: int, *, noise: float = 0.0, steps: int = 6, **train_changes: Any) -> dict[str, Any]:
    """Toy recipe: noise 0 makes it deterministic, so 2 x b and 1 x 2b must agree."""
    return {
        "model": {"type": "tr_probe_gan", "noise": noise},
        "loader": {"batch_size": batch},
        "train": {"steps": steps, "checkpoint_every": 2, "ema": {"enabled": True, "decay": 0.5}, **train_changes},
    }


def single(tmp_path: Path, name: str, batch: int, **kw: Any) -> tuple[Any, Probe]:
    probe = Probe()
    host = make_host(plugins=((probe, "probe"),))
    max_steps = kw.pop("max_steps", None)
    run = train(make_recipe(host, **changes(batch, **kw)), host=host, run_dir=tmp_path / name,
                max_steps=max_steps, quiet=True)
    return run, probe


def permutation(epoch: int) -> list[int]:
    return EpochSampler(CLIPS, SEED).permutation(epoch).tolist()


@slow
def test_two_ranks_train_like_one_with_twice_the_batch(tmp_path):
    runs = {
        "pair": {"dir": str(tmp_path / "pair"), "changes": changes(2)},
        # With noise and sqrt LR scaling: per-rank noise, deterministic, scaled learning rates.
        "noisy1": {"dir": str(tmp_path / "noisy1"), "changes": changes(2, noise=0.1, steps=2, distributed={"lr_scaling": "sqrt"})},
        "noisy2": {"dir": str(tmp_path / "noisy2"), "changes": changes(2, noise=0.1, steps=2, distributed={"lr_scaling": "sqrt"})},
    }
    t0 = time.perf_counter()
    ranks = launch(tmp_path, {"selftest": True, "runs": list(runs.values())})
    launched = time.perf_counter() - t0
    pair = [r["runs"][0] for r in ranks]
    ref, ref_probe = single(tmp_path, "single", 4)  # 1 rank x batch 4

    # -- collectives: gradients missing on some ranks, rank 0's error reaches rank 1, gathering
    st = [r["selftest"] for r in ranks]
    assert st[0]["grads"] == st[1]["grads"] == [[1.5] * 3, [1.0] * 3, None]
    assert st[0]["on_main_error"] == "ValueError: rank 0 cannot plan"
    assert st[1]["on_main_error"].startswith("VidganError: Rank 0 failed") and "rank 0 cannot plan" in st[1]["on_main_error"]
    assert st[0]["gathered"] == st[1]["gathered"] == [[0, 0], [0, 1, 1]]

    # -- what each rank is
    assert [(p["rank"], p["world_size"], p["is_main"], p["status"], p["step"]) for p in pair] == [
        (0, 2, True, "completed", 6), (1, 2, False, "completed", 6)]

    # -- data: disjoint shards; together each step's batch is the single process's 2b batch
    steps = len(ref_probe.digests)
    for s in range(steps):
        a, b = pair[0]["record"][s]["indices"], pair[1]["record"][s]["indices"]
        assert not set(a) & set(b), s
        assert sorted(a + b) == sorted(ref.model.record[s]["indices"]), s
    for epoch in range(2):  # 3 steps per epoch: every clip of the epoch exactly once
        seen = [i for p in pair for rec in p["record"][3 * epoch: 3 * epoch + 3] for i in rec["indices"]]
        assert sorted(seen) == list(range(CLIPS))
        assert pair[0]["record"][3 * epoch]["indices"] == permutation(epoch)[0:4:2]

    # -- identical weights on both ranks after every step
    assert pair[0]["digests"] == pair[1]["digests"] and len(pair[0]["digests"]) == 6

    # -- the loss curve of 2 ranks x 2 clips is that of 1 rank x 4 clips (up to float rounding)
    m2, m1 = read_metrics(tmp_path / "pair"), read_metrics(tmp_path / "single")
    assert [m["step"] for m in m2] == list(range(1, 7))  # rank 0 alone writes the log
    for a, b in zip(m2, m1, strict=True):
        for key in ("loss/generator", "loss/generator/recon", "loss/discriminator"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), (a["step"], key)
        assert a["perf/clips_per_s"] == pytest.approx(a["perf/it_per_s"] * 4)

    # -- rank 0's checkpoint loads in a single process and holds those weights
    host = make_host(plugins=((Probe(), "probe"),))
    loaded = load_model(tmp_path / "pair", host.registry)
    for k, v in ref.model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v, rtol=1e-4, atol=1e-6)
    from safetensors.torch import load_file

    ema_pair, ema_ref = (load_file(str(list_checkpoints(tmp_path / d)[-1][1] / "ema" / "generator" / "model.safetensors"))
                         for d in ("pair", "single"))
    for k, v in ema_ref.items():
        torch.testing.assert_close(ema_pair[k], v, rtol=1e-4, atol=1e-6)
    state = load_training_state(list_checkpoints(tmp_path / "pair")[-1][1])
    assert state["world_size"] == 2 and set(state["rng_ranks"]) == {"1"}
    env = json.loads((tmp_path / "pair" / "environment.json").read_text())
    assert env["distributed"]["world_size"] == 2 and env["distributed"]["backend"] == "gloo"

    # -- noise: each rank its own, deterministic; rank 0 draws what a single process draws
    n1, n2 = ([r["runs"][i]["record"] for r in ranks] for i in (1, 2))
    assert [s["noise"] for s in n1[0]] != [s["noise"] for s in n1[1]]
    assert n1 == n2
    solo, _ = single(tmp_path, "solo", 2, noise=0.1, steps=1)
    assert n1[0][0]["noise"] == solo.model.record[0]["noise"]
    lr = read_metrics(tmp_path / "noisy1")[-1]["lr/generator"]
    assert lr == pytest.approx(1e-2 * 2**0.5)
    assert launched < 60, f"the launch took {launched:.1f} s"


@slow
def test_resume_same_and_different_world_size(tmp_path):
    # A single-process run stopped at step 3 (checkpoint at 2), to be continued by 2 ranks.
    one, _ = single(tmp_path, "from1", 2, max_steps=3)
    assert one.status == "interrupted"
    ranks = launch(tmp_path, {"runs": [
        {"dir": str(tmp_path / "straight"), "changes": changes(2, noise=0.1)},
        {"dir": str(tmp_path / "killed"), "changes": changes(2, noise=0.1), "max_steps": 3},
        {"dir": str(tmp_path / "killed"), "changes": changes(2, noise=0.1), "resume": True},
        {"dir": str(tmp_path / "to1"), "changes": changes(2), "max_steps": 3},
        {"dir": str(tmp_path / "from1"), "changes": changes(2), "resume": True},
    ]})
    straight, killed, resumed, to1, from1 = ([r["runs"][i] for r in ranks] for i in range(5))

    # -- same world size: bit for bit, on both ranks, noise included
    assert [k["status"] for k in killed] == ["interrupted"] * 2 and [k["step"] for k in resumed] == [6, 6]
    for r in range(2):
        assert resumed[r]["digests"] == straight[r]["digests"][2:], r  # resumed from step 2
        assert resumed[r]["record"] == straight[r]["record"][2:], r
    sa = load_training_state(list_checkpoints(tmp_path / "straight")[-1][1])
    sb = load_training_state(list_checkpoints(tmp_path / "killed")[-1][1])
    assert torch.equal(sa["rng_ranks"]["1"]["torch_cpu"], sb["rng_ranks"]["1"]["torch_cpu"])

    # -- 1 -> 2 ranks: the saved position (4 clips of epoch 0 consumed) continues on both
    assert [f["step"] for f in from1] == [6, 6] and from1[0]["digests"] == from1[1]["digests"]
    perm = permutation(0)
    assert from1[0]["record"][0]["indices"] == [perm[4], perm[6]]
    assert from1[1]["record"][0]["indices"] == [perm[5], perm[7]]
    assert [m["step"] for m in read_metrics(tmp_path / "from1")] == list(range(1, 7))

    # -- 2 -> 1 rank: continues after the 8 clips the 2 ranks consumed by step 2
    probe = Probe()
    host = make_host(plugins=((probe, "probe"),))
    cont = train(make_recipe(host, **changes(2)), host=host, run_dir=tmp_path / "to1", resume=True, quiet=True)
    assert cont.status == "completed" and cont.step == 6 and cont.world_size == 1
    assert cont.model.record[0]["indices"] == perm[8:10]
    state = load_training_state(list_checkpoints(tmp_path / "to1")[-1][1])
    assert state["world_size"] == 1 and "rng_ranks" not in state


@slow
def test_a_failing_rank_ends_the_job_with_its_error(tmp_path):
    job = {"out": str(tmp_path / "records"), "runs": [{
        "dir": str(tmp_path / "run"),
        "changes": {**changes(2), "losses": {"adv_d": {"type": "tr_hinge_d"}, "boom": {"type": "tr_fail_on_rank", "rank": 1, "at": 2}}},
    }]}
    (tmp_path / "job.json").write_text(json.dumps(job))
    t0 = time.perf_counter()
    proc = torchrun(["-m", "tests.training._dist_worker", str(tmp_path / "job.json")], timeout=90)
    elapsed = time.perf_counter() - t0
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "rank 1 exploded at step 2" in output
    # torchrun's summary names the failing rank as the root cause, with its error (the
    # trainer writes it to torchrun's error file)
    root = output.split("Root Cause", 1)[1]
    assert "rank      : 1" in root and "RuntimeError: rank 1 exploded at step 2" in root
    assert elapsed < 45, f"the job took {elapsed:.1f} s to end"
    assert not (tmp_path / "records").exists()


TOY_RECIPE = (
    'name = "toy"\nseed = 3\nplugins = ["toy_components.py"]\n'
    "[video]\nframes = 4\nheight = 8\nwidth = 8\n"
    '[data]\ntype = "tr_clips"\nsize = 12\n[loader]\nbatch_size = 2\n[model]\ntype = "tr_gan"\n'
    '[losses.recon]\ntype = "tr_recon"\n[losses.adv_d]\ntype = "tr_hinge_d"\n'
    "[train]\nsteps = 4\nthreads = 1\nlog_every = 1\nsample_every = 0\ncheckpoint_every = 2\ntensorboard = false\n"
)


def _toy_recipe_file(tmp_path: Path) -> Path:
    """A recipe whose toy components come from a local plugin file named in ``plugins = [...]``."""
    (tmp_path / "toy_components.py").write_text(
        "from vidgan_kit import hookimpl\nfrom tests.training.toys import ToyPlugin\n\n"
        "@hookimpl\ndef vidgan_register_components(registry):\n    ToyPlugin().vidgan_register_components(registry)\n"
    )
    (tmp_path / "toy.toml").write_text(TOY_RECIPE)
    return tmp_path / "toy.toml"


@slow
def test_the_cli_under_torchrun(tmp_path):
    """``torchrun --nproc_per_node 2 -m vidgan_kit run RECIPE --out DIR``: the real command line on each rank."""
    out = tmp_path / "run"
    proc = torchrun(["-m", "vidgan_kit", "run", str(_toy_recipe_file(tmp_path)), "--out", str(out),
                     "--set", "train.distributed.lr_scaling=linear"])
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert [s for s, _ in list_checkpoints(out)] == [2, 4]
    lines = read_metrics(out)
    assert [m["step"] for m in lines] == [1, 2, 3, 4]
    assert lines[-1]["lr/generator"] == pytest.approx(2 * 2e-4)  # the default 2e-4, scaled linearly
    assert json.loads((out / "environment.json").read_text())["distributed"]["world_size"] == 2
    model = load_model(out, make_host().registry)  # a single process reads rank 0's checkpoint
    assert model.geometry.frames == 4


def test_nproc_relaunches_the_command_under_torchrun(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from vidgan_kit.cli import build_app
    from vidgan_kit.cli._common import reset_state

    launched: list[list[str]] = []

    class FakePopen:
        def __init__(self, command: list[str]) -> None:
            launched.append(command)

        def wait(self) -> int:
            return 3  # the job's exit status becomes the command's

    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    recipe = _toy_recipe_file(tmp_path)
    reset_state(host=make_host(toys=False))  # the recipe's plugin file brings the toys
    try:
        result = CliRunner().invoke(build_app(), ["run", str(recipe), "--nproc", "2", "--set", "train.steps=3",
                                                  "--out", str(tmp_path / "o"), "--resume", "-q"])
    finally:
        reset_state()
    assert result.exit_code == 3, result.output
    assert launched == [[sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                         "-m", "vidgan_kit", "run", str(recipe), "--set", "train.steps=3",
                         "--out", str(tmp_path / "o"), "--resume", "--quiet"]]
    assert not (tmp_path / "o").exists()  # the parent only validated the recipe

    # Inside a torchrun job, --nproc would multiply the processes: refused.
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    reset_state(host=make_host(toys=False))
    try:
        result = CliRunner().invoke(build_app(), ["run", str(recipe), "--nproc", "2"])
    finally:
        reset_state()
    assert result.exit_code == 2 and "drop --nproc" in result.stderr
