"""ONNX export and its check, on a toy model that declares one graph (the model families'
round trips are in tests/plugins/dual_mtgan/test_export.py)."""

from __future__ import annotations

import copy
import importlib.util
import json

import pytest
import torch
from torch import nn

from vidgan_kit import VideoGeometry
from vidgan_kit.errors import VidganError
from vidgan_kit.export import MANIFEST, TOLERANCE, check_onnx, export_onnx, require_onnx
from vidgan_kit.interfaces import ExportGraph, ExportPlan, GraphTensor

from .training.toys import Gan, GanConfig, make_host

G = VideoGeometry(frames=4, channels=3, height=8, width=8)
needs_onnx = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("onnx", "onnxruntime", "onnxscript")),
    reason="the export extra (onnx, onnxruntime, onnxscript) is not installed",
)


class Generate(nn.Module):
    def __init__(self, model: Gan) -> None:
        super().__init__()
        self.model = model

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.model.generate(video)


class ExportableGan(Gan):
    """The toy GAN with its generator as an exported graph (and a second one that cannot be traced)."""

    broken = False

    def export_graphs(self) -> ExportPlan:
        clip = GraphTensor("video", G.clip_shape, "pixels", "a clip")
        out = GraphTensor("clip", G.clip_shape, "pixels", "the generator's clip")
        graphs = {"generate": ExportGraph(Generate(self), (clip,), (out,), "the generator")}
        if self.broken:
            graphs["broken"] = ExportGraph(Untraceable(), (clip,), (out,), "a graph that cannot be traced")
        return ExportPlan(graphs, tasks={"reconstruct": "generate(video)"}, notes={"toy": True})


class Untraceable(nn.Module):
    def forward(self, video: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("this graph cannot be traced")


@pytest.fixture(scope="module")
def host():
    return make_host()


def toy(host, cls=ExportableGan) -> Gan:
    torch.manual_seed(0)
    return cls(GanConfig(), geometry=G, registry=host.registry).eval()


@pytest.fixture(scope="module")
def exported(host, tmp_path_factory):
    model = toy(host)
    folder = tmp_path_factory.mktemp("export") / "toy"
    return model, folder, export_onnx(model, folder, provenance={"checkpoint": "here"})


@needs_onnx
def test_the_graph_and_its_description_are_written(exported):
    model, folder, manifest = exported
    assert sorted(p.name for p in folder.iterdir()) == ["generate.onnx", MANIFEST]  # no temporary folder left
    on_disk = json.loads((folder / MANIFEST).read_text())
    assert on_disk == manifest
    assert on_disk["checkpoint"] == "here" and on_disk["toy"] is True
    assert on_disk["geometry"] == {"frames": 4, "channels": 3, "height": 8, "width": 8}
    assert on_disk["tasks"] == {"reconstruct": "generate(video)"}
    graph = on_disk["graphs"]["generate"]
    assert graph["file"] == "generate.onnx"
    assert graph["inputs"][0]["shape"] == ["batch", 4, 3, 8, 8] and graph["inputs"][0]["values"] == "[-1, 1]"


@needs_onnx
def test_the_graph_takes_any_batch_and_matches_torch(exported):
    import onnxruntime as ort

    model, folder, _ = exported
    diffs = check_onnx(model, folder)
    assert set(diffs) == {"generate"} and diffs["generate"] <= TOLERANCE
    session = ort.InferenceSession(str(folder / "generate.onnx"), providers=["CPUExecutionProvider"])
    video = torch.rand(5, *G.clip_shape) * 2 - 1
    with torch.no_grad():
        want = model.generate(video)
    got = torch.from_numpy(session.run(None, {"video": video.numpy()})[0])
    torch.testing.assert_close(got, want, rtol=0, atol=TOLERANCE)


@needs_onnx
def test_the_check_sees_graphs_that_differ_from_the_model(exported):
    model, folder, _ = exported
    changed = copy.deepcopy(model)
    with torch.no_grad():
        changed.gain.fill_(2.0)
    assert check_onnx(changed, folder)["generate"] > 0.01


@needs_onnx
def test_files_of_an_earlier_export_are_kept_without_overwrite(host, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / MANIFEST).write_text("mine")
    with pytest.raises(VidganError, match=r"model\.json exists.*--overwrite"):
        export_onnx(toy(host), folder)
    assert (folder / MANIFEST).read_text() == "mine" and sorted(p.name for p in folder.iterdir()) == [MANIFEST]
    export_onnx(toy(host), folder, overwrite=True)
    assert json.loads((folder / MANIFEST).read_text())["graphs"]["generate"]["file"] == "generate.onnx"


@needs_onnx
def test_a_failed_export_loses_nothing(host, tmp_path):
    """The first graph is written, the second fails: the earlier export in the folder is intact."""
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "generate.onnx").write_text("earlier graph")
    (folder / MANIFEST).write_text("earlier description")
    model = toy(host)
    model.broken = True
    with pytest.raises(Exception, match="cannot be traced"):
        export_onnx(model, folder, overwrite=True)
    assert {p.name: p.read_text() for p in folder.iterdir()} == {
        "generate.onnx": "earlier graph", MANIFEST: "earlier description"}


@needs_onnx
def test_notes_that_are_not_json_fail_before_any_file(host, tmp_path):
    model = toy(host)
    model.export_graphs = lambda: ExportPlan(ExportableGan.export_graphs(model).graphs, {}, {"bad": object()})
    with pytest.raises(TypeError, match="not JSON serializable"):
        export_onnx(model, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@needs_onnx
def test_a_model_without_graphs_is_refused(host, tmp_path):
    with pytest.raises(VidganError, match="Model 'Gan' cannot be exported.*export_graphs"):
        export_onnx(toy(host, Gan), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@needs_onnx
def test_a_file_in_place_of_the_folder_is_refused(host, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(VidganError, match="is a file, not a folder"):
        export_onnx(toy(host), tmp_path / "file" / "out")


def test_a_missing_extra_names_the_packages(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    with pytest.raises(VidganError, match=r"needs onnxruntime, which is not installed: pip install 'vidgan-kit\[export\]'"):
        require_onnx()
