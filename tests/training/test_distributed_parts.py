"""The pieces of multi-process training that need no second process."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from vidgan_kit.distributed import (
    World,
    _buckets,
    _pack_tree,
    _unpack_tree,
    convert_sync_batchnorm,
    lr_factor,
    resolve_backend,
)
from vidgan_kit.errors import DataError, VidganError
from vidgan_kit.recipe import LoaderSection
from vidgan_kit.training import train
from vidgan_kit.training.data import BatchStream, EpochSampler
from vidgan_kit.training.device import resolve_device
from vidgan_kit.training.seeding import rank_seed

from .toys import make_host, make_recipe


@pytest.mark.parametrize(("size", "world"), [(12, 2), (13, 2), (12, 3), (7, 4)])
def test_shards_are_disjoint_and_together_a_prefix_of_the_permutation(size, world):
    perm = EpochSampler(size, 5).permutation(1).tolist()
    shards = []
    for rank in range(world):
        s = EpochSampler(size, 5, rank=rank, world_size=world)
        s.set_epoch(1)
        shards.append(list(s))
        assert len(s) == size // world
    flat = [i for shard in shards for i in shard]
    assert len(set(flat)) == len(flat) == (size // world) * world
    # The ranks' j-th indices together are the j-th group of `world` in the permutation.
    for j in range(size // world):
        assert [shards[r][j] for r in range(world)] == perm[j * world: (j + 1) * world]


def test_a_single_process_keeps_the_whole_permutation():
    s = EpochSampler(10, 3)
    s.set_epoch(4, skip=3)
    assert list(s) == s.permutation(4).tolist()[3:]


def _stream(world: int, rank: int = 0, batch: int = 2, size: int = 12) -> BatchStream:
    dataset = list(range(size))
    return BatchStream(dataset, LoaderSection(batch_size=batch), 7, rank=rank, world_size=world)  # type: ignore[arg-type]


def test_positions_translate_between_world_sizes():
    two = _stream(world=2)
    for _ in range(2):
        next(two)
    pos = two.position()
    assert pos == {"epoch": 0, "batch": 2, "seed": 7, "consumed": 8, "world_size": 2}

    one = _stream(world=1)
    one.seek_consumed(pos["epoch"], pos["consumed"])
    assert (one.epoch, one.batch) == (0, 4)
    assert next(one).tolist() == EpochSampler(12, 7).permutation(0).tolist()[8:10]

    three = _stream(world=3)  # 8 clips is not a whole number of 6-clip global batches: back to 6
    three.seek_consumed(0, 8)
    assert (three.epoch, three.batch) == (0, 1)
    three.seek_consumed(0, 12)  # the whole epoch: the next one starts
    assert (three.epoch, three.batch) == (1, 0)


def test_too_few_clips_per_process_is_explained():
    with pytest.raises(DataError, match="3 per process for 4 processes.*fewer processes"):
        _stream(world=4, batch=4)


def test_rank_seeds():
    assert rank_seed(11, 0) == 11  # rank 0 draws what a single process draws
    seeds = {rank_seed(11, r) for r in range(1, 8)} | {rank_seed(11, 1, step=5), rank_seed(11, 0, step=5)}
    assert len(seeds) == 9 and 11 not in seeds
    assert rank_seed(11, 3) == rank_seed(11, 3)


def test_lr_scaling_factors():
    assert lr_factor("none", 8) == 1.0
    assert lr_factor("linear", 8) == 8.0
    assert lr_factor("sqrt", 8) == pytest.approx(math.sqrt(8))
    assert lr_factor("linear", 1) == 1.0


def test_backend_choice():
    cpu = torch.device("cpu")
    assert resolve_backend("auto", cpu) == "gloo"
    assert resolve_backend("auto", torch.device("cuda", 0)) == "nccl"
    assert resolve_backend("gloo", torch.device("cuda", 0)) == "gloo"
    with pytest.raises(VidganError, match="'nccl' needs CUDA"):
        resolve_backend("nccl", cpu)


def test_sync_batchnorm_needs_cuda():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    with pytest.raises(VidganError, match="sync_batchnorm = true needs CUDA.*false on the CPU"):
        convert_sync_batchnorm(model, torch.device("cpu"))


def test_sync_batchnorm_conversion_keeps_parameters_and_checkpoint_keys():
    # What convert_sync_batchnorm does on CUDA, checked on the CPU: torch's conversion keeps
    # the parameter objects (optimiser groups stay valid) and the state_dict keys (a
    # checkpoint loads into the plain BatchNorm model a single process builds).
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    params = list(model.parameters())
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert converted is model and isinstance(model[1], nn.SyncBatchNorm)
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    assert model.state_dict().keys() == before.keys()


def test_devices_for_ranks():
    assert resolve_device("cpu", local_rank=1, world_size=2) == torch.device("cpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto", local_rank=1, world_size=2) == torch.device("cpu")
        with pytest.raises(VidganError, match="CUDA is not available"):
            resolve_device("cuda", local_rank=1, world_size=2)


def test_world_from_environment():
    w = World.from_env({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert (w.rank, w.world_size, w.local_rank, w.enabled, w.is_main) == (1, 4, 1, True, False)
    alone = World.from_env({})
    assert (alone.rank, alone.world_size, alone.enabled, alone.is_main) == (0, 1, False, True)
    with pytest.raises(VidganError, match="RANK=4 and WORLD_SIZE=4"):
        World.from_env({"RANK": "4", "WORLD_SIZE": "4"})


def test_world_size_without_rendezvous_is_explained(monkeypatch):
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.delenv("MASTER_PORT", raising=False)
    w = World.from_env({"RANK": "0", "WORLD_SIZE": "2"})
    from vidgan_kit.recipe import DistributedSection

    with pytest.raises(VidganError, match="MASTER_ADDR is not set: start multi-process runs with torchrun"):
        w.start(DistributedSection(), torch.device("cpu"))


def test_a_single_process_has_no_op_collectives():
    w = World()
    t = torch.tensor([3.0])
    assert w.all_reduce_mean_(t) is t and t.item() == 3.0
    assert w.any(True) and not w.any(False)
    assert w.on_main(lambda: {"x": 1}) == {"x": 1}
    assert w.gather_tree({"a": 1}) == [{"a": 1}]
    w.barrier()


def test_messages_between_ranks_are_json_and_safetensors():
    tree = {"rng": torch.arange(5, dtype=torch.uint8), "py": (3, [1, 2], "x"), "n": {"k": 1.5}}
    back = _unpack_tree(_pack_tree(tree))
    assert torch.equal(back["rng"], tree["rng"]) and back["py"] == (3, [1, 2], "x") and back["n"] == {"k": 1.5}
    assert _unpack_tree(_pack_tree({"plain": 1})) == {"plain": 1}


def test_buckets_split_by_dtype_and_size():
    ts = [torch.zeros(4), torch.zeros(4), torch.zeros(2, dtype=torch.long), torch.zeros(8)]
    assert [len(b) for b in _buckets(ts, limit=32)] == [2, 1, 1]
    assert [len(b) for b in _buckets(ts, limit=16)] == [1, 1, 1, 1]


def test_resuming_a_run_from_before_the_distributed_section(tmp_path):
    """recipe.json written before train.distributed existed still resumes (its defaults apply)."""
    host = make_host()
    recipe = make_recipe(host, train={"steps": 2, "checkpoint_every": 2})
    train(recipe, host=host, run_dir=tmp_path / "run", quiet=True)
    saved = json.loads((tmp_path / "run" / "recipe.json").read_text())
    del saved["train"]["distributed"]
    (tmp_path / "run" / "recipe.json").write_text(json.dumps(saved))
    run = train(make_recipe(host, train={"steps": 3, "checkpoint_every": 2}), host=host, run_dir=tmp_path / "run",
                resume=True, quiet=True)
    assert run.step == 3
    # A changed backend may resume (it does not change what is learned); lr_scaling may not.
    ok = make_recipe(host, train={"steps": 4, "checkpoint_every": 2, "distributed": {"backend": "gloo"}})
    assert train(ok, host=host, run_dir=tmp_path / "run", resume=True, quiet=True).step == 4
    bad = make_recipe(host, train={"steps": 5, "checkpoint_every": 2, "distributed": {"lr_scaling": "linear"}})
    with pytest.raises(VidganError, match="train.distributed.lr_scaling"):
        train(bad, host=host, run_dir=tmp_path / "run", resume=True, quiet=True)


def test_single_process_records_its_world(tmp_path):
    host = make_host()
    run = train(make_recipe(host, train={"steps": 1}), host=host, run_dir=tmp_path / "run", quiet=True)
    assert (run.rank, run.world_size, run.is_main) == (0, 1, True)
    env = json.loads((tmp_path / "run" / "environment.json").read_text())
    assert env["distributed"]["world_size"] == 1 and env["distributed"]["backend"] is None
