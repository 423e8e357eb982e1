"""``vidgan export`` on a trained tiny run: the graphs, model.json and the onnxruntime check."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from vidgan_kit.checkpoint import latest_checkpoint

from .conftest import TINY_GEOMETRY, Invoke

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in ("onnx", "onnxruntime", "onnxscript")),
                       reason="the export extra (onnx, onnxruntime, onnxscript) is not installed"),
]


def test_export_writes_checked_graphs_and_refuses_to_overwrite(cli: Invoke, trained_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "exported"
    result = cli("export", trained_run, "--format", "onnx", "--out", out, "--check")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["animate.onnx", "encode_motion.onnx", "model.json"]
    checks = dict(re.findall(r"check (\w+): largest \|onnxruntime - torch\| = (\S+) at batch sizes 1 and 3", result.stdout))
    assert set(checks) == {"encode_motion", "animate"}, result.stdout
    assert all(float(v) <= 1e-4 for v in checks.values()), checks
    manifest = json.loads((out / "model.json").read_text())
    assert manifest["checkpoint"] == str(latest_checkpoint(trained_run)) and manifest["step"] == 20
    assert manifest["weights"] == "ema" and manifest["recipe"] == "tiny"
    assert manifest["geometry"]["frames"] == TINY_GEOMETRY.frames

    before = {p.name: p.read_bytes() for p in out.iterdir()}
    again = cli("export", trained_run, "--out", out)
    assert again.exit_code == 2 and "--overwrite" in again.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_an_unknown_format_is_refused_before_any_work(cli: Invoke, trained_run: Path, tmp_path: Path) -> None:
    result = cli("export", trained_run, "--format", "tflite", "--out", tmp_path / "x")
    assert result.exit_code == 2 and "the only export format is onnx" in result.stderr
    assert not (tmp_path / "x").exists()
