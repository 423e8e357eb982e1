"""Exporting a model's inference graphs to ONNX, and checking them against torch.

    from vidgan_kit.export import check_onnx, export_onnx
    manifest = export_onnx(model, "exported/")      # one .onnx per graph, and model.json
    diffs = check_onnx(model, "exported/")          # graph -> largest |onnxruntime - torch|

The core knows no model: an assembly says which graphs its inference runs through
:meth:`~vidgan_kit.interfaces.ModelAssembly.export_graphs` (modules, their inputs and
outputs, how tasks combine them). Every graph takes any batch size.

The graphs go through ``torch.onnx.export`` with ``dynamo=True``, which traces with
``torch.export`` and translates with onnxscript: the TorchScript exporter (``dynamo=False``)
cannot export a convolution whose weight is computed in the forward (the layered content
encoder folds its up-sampling into its head's weights this way), and it is deprecated.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ._version import __version__
from .errors import VidganError
from .interfaces import ExportGraph, ExportPlan, GraphTensor

__all__ = ["OPSET", "TOLERANCE", "CHECK_BATCHES", "MANIFEST", "require_onnx", "export_plan", "export_onnx",
           "check_onnx", "random_inputs"]

#: ONNX opset of the exported graphs (GridSample needs 16 or later).
OPSET = 18
#: Largest |onnxruntime - torch| the check accepts, on outputs in [-1, 1].
TOLERANCE = 1e-4
#: Batch sizes the check runs every graph at (the files take any).
CHECK_BATCHES = (1, 3)
#: The description written beside the graphs.
MANIFEST = "model.json"
#: Batch size of the example inputs the graphs are traced with (not 1, which torch.export specialises).
_TRACE_BATCH = 2
_PACKAGES = {"onnx": "onnx", "onnxruntime": "onnxruntime", "onnxscript": "onnxscript"}


def require_onnx() -> None:
    """Raise a :class:`VidganError` naming the missing packages unless the ``export`` extra is installed."""
    import importlib.util

    missing = [pkg for mod, pkg in _PACKAGES.items() if importlib.util.find_spec(mod) is None]
    if missing:
        raise VidganError(
            f"ONNX export needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed:"
            " pip install 'vidgan-kit[export]'."
        )


def export_plan(model: torch.nn.Module) -> ExportPlan:
    """The model's :class:`ExportPlan`, or a clear error when the model has none."""
    method = getattr(model, "export_graphs", None)
    plan = method() if callable(method) else None
    if plan is None:
        spec = getattr(model, "component_spec", None)
        name = spec.type if spec is not None else type(model).__name__
        raise VidganError(
            f"Model {name!r} cannot be exported: it does not say which graphs its inference runs"
            " (ModelAssembly.export_graphs returns None)."
        )
    if not plan.graphs:
        raise VidganError("The model's export plan names no graph.")
    return plan


def random_inputs(graph: ExportGraph, batch: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Inputs of ``graph`` at ``batch``: pixels uniform in [-1, 1], codes from N(0, I)."""
    out = []
    for spec in graph.inputs:
        shape = (batch, *spec.shape)
        if spec.values == "pixels":
            out.append(torch.rand(shape, generator=generator) * 2 - 1)
        else:
            out.append(torch.randn(shape, generator=generator))
    return out


def _tensor_entry(spec: GraphTensor) -> dict[str, Any]:
    return {
        "name": spec.name,
        "shape": ["batch", *spec.shape],
        "dtype": "float32",
        "values": "[-1, 1]" if spec.values == "pixels" else "real",
        "description": spec.description,
    }


def _manifest(plan: ExportPlan, model: torch.nn.Module, provenance: Mapping[str, Any]) -> dict[str, Any]:
    geometry = model.geometry
    spec = getattr(model, "component_spec", None)
    return {
        "format": "vidgan-kit-onnx",
        "format_version": 1,
        "vidgan_kit_version": __version__,
        "torch_version": torch.__version__,
        "opset": OPSET,
        "model": spec.type if spec is not None else type(model).__name__,
        **dict(provenance),
        "geometry": {k: getattr(geometry, k) for k in ("frames", "channels", "height", "width")},
        "layout": "images [batch, C, H, W], clips [batch, T, C, H, W], float32; pixels in [-1, 1]"
                  " (x / 127.5 - 1 from 0..255); clamp outputs to [-1, 1] before writing them",
        "graphs": {
            name: {
                "file": f"{name}.onnx",
                "description": graph.description,
                "inputs": [_tensor_entry(t) for t in graph.inputs],
                "outputs": [_tensor_entry(t) for t in graph.outputs],
            }
            for name, graph in plan.graphs.items()
        },
        "tasks": dict(plan.tasks),
        **plan.notes,
    }


def _export_one(graph: ExportGraph, path: Path) -> None:
    inputs = random_inputs(graph, _TRACE_BATCH, torch.Generator().manual_seed(0))
    from torch.export import Dim

    batch = Dim("batch", min=1)
    module = graph.module.eval()
    # The exporter's chatter (progress lines, skipped torchvision ops, tracer warnings) is
    # about its plumbing; the check below is what tells whether the graph is right.
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, tuple(inputs), str(path), dynamo=True, opset_version=OPSET, verbose=False,
                external_data=False, input_names=[t.name for t in graph.inputs],
                output_names=[t.name for t in graph.outputs],
                dynamic_shapes=tuple({0: batch} for _ in graph.inputs),
            )
    finally:
        quiet.setLevel(level)


def export_onnx(
    model: torch.nn.Module,
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    provenance: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write each graph of ``model``'s export plan to ``out_dir/<name>.onnx`` and a ``model.json``
    describing them (inputs, outputs, shapes, value range, tasks, the geometry and the plan's
    notes, plus ``provenance`` such as the checkpoint); returns that description.

    Files already in ``out_dir`` that the export would write are an error unless ``overwrite``.
    The files are written to a temporary folder first and moved in at the end, so a failed
    export leaves ``out_dir`` as it was.
    """
    require_onnx()
    plan = export_plan(model)
    out = Path(out_dir)
    names = [f"{name}.onnx" for name in plan.graphs] + [MANIFEST]
    for place in (out, *out.parents):
        if place.exists() and not place.is_dir():
            raise VidganError(f"--out {out}: {place} is a file, not a folder; choose another --out.")
    clash = [out / n for n in names if (out / n).exists()]
    if clash and not overwrite:
        raise VidganError(f"{clash[0]} exists ({len(clash)} file(s) would be replaced); pass --overwrite or another --out.")
    manifest = _manifest(plan, model, provenance or {})
    text = json.dumps(manifest, indent=2) + "\n"  # a plan whose notes are not JSON fails before any file is written
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    try:
        for name, graph in plan.graphs.items():
            _export_one(graph, tmp / f"{name}.onnx")
        (tmp / MANIFEST).write_text(text, encoding="utf-8")
        for n in names:
            os.replace(tmp / n, out / n)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created and not any(out.iterdir()):
            out.rmdir()
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def check_onnx(
    model: torch.nn.Module,
    out_dir: str | os.PathLike[str],
    *,
    batches: tuple[int, ...] = CHECK_BATCHES,
    seed: int = 0,
) -> dict[str, float]:
    """Run every graph of ``model``'s export plan in ``out_dir`` with onnxruntime and with torch on
    the same random inputs at each of ``batches``: graph -> the largest absolute difference
    over its outputs and the batches."""
    require_onnx()
    import onnxruntime as ort

    plan = export_plan(model)
    generator = torch.Generator().manual_seed(seed)
    worst: dict[str, float] = {}
    for name, graph in plan.graphs.items():
        path = Path(out_dir) / f"{name}.onnx"
        if not path.is_file():
            raise VidganError(f"{path} is missing: export the model to {out_dir} first.")
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        module = graph.module.eval()
        worst[name] = 0.0
        for batch in batches:
            inputs = random_inputs(graph, batch, generator)
            with torch.no_grad():
                want = module(*inputs)
            want = want if isinstance(want, tuple | list) else (want,)
            got = session.run(None, {t.name: x.numpy() for t, x in zip(graph.inputs, inputs, strict=True)})
            for w, g in zip(want, got, strict=True):
                if tuple(g.shape) != tuple(w.shape):
                    raise VidganError(f"{path}: output of shape {tuple(g.shape)} at batch {batch}, torch gives"
                                      f" {tuple(w.shape)}")
                worst[name] = max(worst[name], float((torch.from_numpy(g) - w).abs().max()))
    return worst
