"""Checkpoints: safetensors + JSON round trips, atomic writes, provenance, clear failures."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from vidgan_kit import VideoGeometry, __version__
from vidgan_kit.checkpoint import (
    latest_checkpoint,
    list_checkpoints,
    load_model,
    load_training_state,
    read_index,
    save_checkpoint,
)
from vidgan_kit.errors import CheckpointError

from .training.toys import DISTRIBUTION, PLUGIN, make_host


def _model(host, **params):
    geometry = VideoGeometry(frames=4, channels=3, height=8, width=8)
    model = host.registry.build("model", "tr_gan", params, geometry=geometry, registry=host.registry)
    with torch.no_grad():  # weights no fresh build could have
        for p in model.parameters():
            p.add_(torch.randn_like(p))
        model.calls.fill_(7)
    return model


def _save(host, model, root, step, **kw):
    return save_checkpoint(root / "checkpoints", model, step=step, registry=host.registry, **kw)


def test_round_trip_restores_every_tensor_and_writes_configs(tmp_path):
    host = make_host()
    model = _model(host, generator={"type": "tr_conv", "hidden": 5})
    path = _save(host, model, tmp_path, 100)
    assert path == tmp_path / "checkpoints" / "step-00000100"

    loaded = load_model(tmp_path, host.registry)  # a run dir resolves to its latest checkpoint
    assert not loaded.training
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)

    config = json.loads((path / "generator" / "config.json").read_text())
    assert config["kind"] == "decoder" and config["type"] == "tr_conv"
    assert config["params"] == {"hidden": 5}
    assert config["plugin"] == PLUGIN and config["distribution"] == DISTRIBUTION
    assert config["vidgan_kit_version"] == __version__

    index = read_index(path)
    assert index["step"] == 100 and index["format_version"] == 1
    assert index["slots"] == ["generator", "discriminator"]
    assert index["geometry"] == {"frames": 4, "channels": 3, "height": 8, "width": 8}
    assert index["model"]["type"] == "tr_gan"
    assert index["model"]["params"]["generator"]["params"] == {"hidden": 5}
    assert index["assembly_weights"] is True  # `gain`, `calls` and `seen_weight_sum` live on the assembly itself
    assert set(load_file(str(path / "_assembly" / "model.safetensors"))) == {"gain", "calls", "seen_weight_sum"}


def test_files_are_safetensors_and_json_only(tmp_path, monkeypatch):
    host = make_host()
    model = _model(host)
    state = {"opt": torch.optim.Adam(model.parameters()).state_dict(), "note": "x"}
    path = _save(host, model, tmp_path, 1, ema={"generator": model.generator}, training_state=state)
    files = [p for p in path.rglob("*") if p.is_file()]
    assert files and {p.suffix for p in files} == {".json", ".safetensors"}
    for p in files:
        if p.suffix == ".json":
            json.loads(p.read_text())
        else:
            with safe_open(str(p), framework="pt") as f:
                list(f.keys())

    def refuse(*args, **kwargs):
        raise AssertionError("pickle must not be used to read a checkpoint")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    load_model(path, host.registry, use_ema=True)
    load_training_state(path)


def test_training_state_round_trips_plain_data_and_tensors(tmp_path):
    host = make_host()
    model = _model(host)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999))
    model(dict(video=torch.rand(2, 4, 3, 8, 8)))["fake"].sum().backward()
    opt.step()
    np_state = np.random.RandomState(5).get_state()
    state = {
        "optimizer": opt.state_dict(),
        "python": (3, tuple(range(5)), None),
        "numpy": {"keys": np_state[1], "pos": 3},
        "step": 42,
        "scale": 65536.0,
        "torch_rng": torch.get_rng_state(),
    }
    _save(host, model, tmp_path, 42, training_state=state)
    back = load_training_state(tmp_path)
    assert back["step"] == 42 and back["scale"] == 65536.0
    assert back["python"] == (3, (0, 1, 2, 3, 4), None)
    assert back["numpy"]["keys"].dtype == np.uint32 and np.array_equal(back["numpy"]["keys"], np_state[1])
    assert torch.equal(back["torch_rng"], state["torch_rng"])
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.5, 0.999)
    assert set(back["optimizer"]["state"]) == set(opt.state_dict()["state"])  # int keys stay ints
    fresh = torch.optim.Adam(model.parameters())
    fresh.load_state_dict(back["optimizer"])
    for idx, s in opt.state_dict()["state"].items():
        for k, v in s.items():
            assert torch.equal(v, fresh.state_dict()["state"][idx][k])


def test_unfinished_writes_are_ignored_and_latest_is_the_highest_complete(tmp_path):
    host = make_host()
    model = _model(host)
    _save(host, model, tmp_path, 2)
    good = _save(host, model, tmp_path, 4)
    root = tmp_path / "checkpoints"
    # A crash mid-write: a temporary folder with everything but the index ...
    partial = root / f"step-00000009.tmp-{os.getpid() + 1}"
    partial.mkdir()
    (partial / "generator").mkdir()
    (partial / "generator" / "config.json").write_text("{}")
    # ... and a final-looking folder without index.json (e.g. copied half-way by hand).
    (root / "step-00000007").mkdir()

    assert [s for s, _ in list_checkpoints(tmp_path)] == [2, 4]
    assert latest_checkpoint(tmp_path) == good
    assert latest_checkpoint(root) == good
    assert read_index(tmp_path)["step"] == 4
    load_model(tmp_path, host.registry)
    with pytest.raises(CheckpointError, match="incomplete"):
        latest_checkpoint(partial)
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="No complete checkpoint"):
        latest_checkpoint(empty)


def test_keep_prunes_old_checkpoints_and_resaving_a_step_replaces_it(tmp_path):
    host = make_host()
    model = _model(host)
    for step in (1, 2, 3, 4):
        _save(host, model, tmp_path, step, keep=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [3, 4]
    with torch.no_grad():
        model.gain.fill_(3.0)
    _save(host, model, tmp_path, 4, keep=2)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-00000003", "step-00000004"]
    assert load_model(tmp_path, host.registry).gain.item() == 3.0


def test_missing_plugin_names_the_component_and_its_origin(tmp_path):
    host = make_host(extra=True)
    model = _model(host, discriminator={"type": "tr_extra_disc"})
    path = _save(host, model, tmp_path, 10)
    assert json.loads((path / "discriminator" / "config.json").read_text())["plugin"] == "extraplugin"

    without = make_host(extra=False)
    with pytest.raises(CheckpointError) as info:
        load_model(path, without.registry)
    message = str(info.value)
    assert "discriminator component 'tr_extra_disc'" in message
    assert "plugin 'extraplugin'" in message and "vidgan-extra-disc" in message
    assert "tr_conv" not in message  # only what is actually missing is listed

    bare = make_host(toys=False)
    with pytest.raises(CheckpointError, match=f"model component 'tr_gan'.*plugin '{PLUGIN}'"):
        load_model(path, bare.registry)


def test_weights_that_do_not_fit_give_a_clear_error(tmp_path):
    host = make_host()
    path = _save(host, _model(host), tmp_path, 1)
    file = path / "generator" / "model.safetensors"
    tensors = load_file(str(file))
    tensors["extra.weight"] = torch.zeros(1)
    del tensors["conv2.bias"]
    save_file(tensors, str(file))
    with pytest.raises(CheckpointError, match=r"slot 'generator'.*missing keys: conv2\.bias.*unexpected keys: extra\.weight"):
        load_model(path, host.registry)

    tensors = load_file(str(file))
    del tensors["extra.weight"]
    tensors["conv2.bias"] = torch.zeros(99)
    save_file(tensors, str(file))
    with pytest.raises(CheckpointError, match="do not fit"):
        load_model(path, host.registry)


def test_a_model_not_built_by_the_registry_cannot_be_saved(tmp_path):
    host = make_host()
    model = _model(host)
    del model.component_spec
    with pytest.raises(CheckpointError, match="registry.build"):
        _save(host, model, tmp_path, 1)
    assert not any(tmp_path.joinpath("checkpoints").glob("step-*[0-9]"))
