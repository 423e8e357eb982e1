"""Bad and hostile input, as a new user gives it: one parametrised test per area.

Every case runs the real ``vidgan`` entry point (``vidgan_kit.cli.main``, in-process) on
files the case writes itself, and must end with exit code 2, no traceback, a message that
names the file, option or recipe key at fault, and every file in the case's folder byte
for byte as it was (nothing written, nothing lost). Behaviours that are no error (a
``--resume`` that finds nothing to continue, ``generate --overwrite``, leftovers of a
killed checkpoint write) are tested after the matrix.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from vidgan_kit.cli import main
from vidgan_kit.cli._common import reset_state
from vidgan_kit.io import write_video

from ..cli.conftest import toml_dump
from .conftest import TINY, TINY_GEOMETRY, train_tiny, write_inputs

pytestmark = pytest.mark.slow

T = TINY_GEOMETRY.frames
#: The tiny recipe as the module's run was trained (a resume with these overrides matches it).
RUN_SETS = ("train.steps=2", "train.sample_every=0", "train.checkpoint_every=2")


def folder_bytes(folder: Path) -> dict[Path, bytes]:
    """Every file under ``folder`` with its bytes: equal snapshots mean nothing was written or lost."""
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@dataclass
class Call:
    """A command line, the text its error must contain, and environment variables to set."""

    args: list[Any]
    names: str
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Said:
    code: int
    out: str
    err: str


def vidgan(capsys: pytest.CaptureFixture[str], args: list[Any]) -> Said:
    """Run the console script's entry point in this process; a traceback fails the test."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        reset_state()
    captured = capsys.readouterr()
    return Said(code, captured.out, captured.err)


def refused(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, folder: Path, call: Call) -> Said:
    """Run ``call`` in ``folder`` and check the four promises of a refusal."""
    for key, value in call.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(folder)
    before = folder_bytes(folder)
    said = vidgan(capsys, call.args)
    text = said.out + said.err
    assert said.code == 2, f"exit {said.code}:\n{text}"
    assert "Traceback" not in text, text
    assert call.names in text, f"the message does not name {call.names!r}:\n{text}"
    assert folder_bytes(folder) == before, "the user's files changed"
    return said


def sets(*overrides: str) -> list[str]:
    return [arg for o in overrides for arg in ("--set", o)]


def params(cases: dict[str, Any]) -> list[Any]:
    """One pytest parameter per case, by name; a ``(build, mark)`` pair carries a mark."""
    return [pytest.param(case[0], id=name, marks=case[1]) if isinstance(case, tuple) else pytest.param(case, id=name)
            for name, case in cases.items()]


# -- files the cases write ------------------------------------------------------------------


def tiny_table() -> dict[str, Any]:
    return tomllib.loads(TINY.read_text(encoding="utf-8"))


def recipe(folder: Path, changes: dict[str, Any] | None = None) -> Path:
    """The tiny recipe with ``{"dotted.key": value}`` changes (``None`` deletes the key)."""
    table = tiny_table()
    for dotted, value in (changes or {}).items():
        *parents, last = dotted.split(".")
        node = table
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    path = folder / "recipe.toml"
    path.write_text(toml_dump(table), encoding="utf-8")
    return path


def plugin_file(folder: Path, body: str, name: str = "my_plugin.py") -> Path:
    path = folder / name
    path.write_text("from vidgan_kit import hookimpl\n" + body, encoding="utf-8")
    return path


def pickle_bytes() -> bytes:
    """A pickle that, unpickled, writes a file into the working directory (the case's folder,
    whose snapshot would then differ): it must never be unpickled."""
    import pickle

    class Hostile:
        def __reduce__(self):  # noqa: ANN204
            return (os.system, ("echo unpickled > unpickled.txt",))

    return pickle.dumps(Hostile())


def inputs(folder: Path) -> tuple[Path, Path]:
    return write_inputs(folder / "in", TINY_GEOMETRY)


# -- the shared trained run ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-step run of the tiny recipe with one checkpoint (cases copy it before damaging it)."""
    run_dir = tmp_path_factory.mktemp("bad_inputs") / "run"
    train_tiny(run_dir, *RUN_SETS)
    return run_dir


def copy_run(run: Path, folder: Path) -> Path:
    return Path(shutil.copytree(run, folder / "run"))


def checkpoint_of(run: Path) -> Path:
    return next((run / "checkpoints").glob("step-*"))


def edit_json(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data), encoding="utf-8")


# == recipes ===================================================================================


def _recipe_cases() -> list[Any]:
    def changed(changes: dict[str, Any], names: str, *extra: str, command: str = "validate"):  # noqa: ANN202
        def build(tmp: Path) -> Call:
            return Call([command, recipe(tmp, changes), *extra], names)
        return build

    def raw(content: bytes, names: str | None = None):  # noqa: ANN202
        def build(tmp: Path) -> Call:
            path = tmp / "recipe.toml"
            path.write_bytes(content)
            return Call(["validate", path], names or str(path))
        return build

    def missing(tmp: Path) -> Call:
        return Call(["validate", tmp / "no_such.toml"], str(tmp / "no_such.toml"))

    def folder(tmp: Path) -> Call:
        (tmp / "recipes").mkdir()
        return Call(["validate", tmp / "recipes"], f"{tmp / 'recipes'}' is a folder")

    def overrides(*values: str, names: str):  # noqa: ANN202
        def build(tmp: Path) -> Call:
            return Call(["validate", recipe(tmp), *sets(*values)], names)
        return build

    def plugin_missing_file(tmp: Path) -> Call:
        return Call(["validate", recipe(tmp, {"plugins": ["my_components.py"]})], str(tmp / "my_components.py"))

    def duplicate_phases(tmp: Path) -> Call:
        return Call(["validate", recipe(tmp, {"phases": [{"name": "generator"}, {"name": "generator"}]})], "phases")

    nan, inf = float("nan"), float("inf")
    cases = {
        "missing-file": missing,
        "a-folder": folder,
        "not-toml": raw(b"[video\nframes = 4\n"),
        "not-utf8": raw(b'name = "caf\xe9"\n'),
        "empty-file": raw(b"", names="data: required key is missing"),
        "unknown-top-level-key": changed({"trian": {"steps": 3}}, "trian: unknown key"),
        "typo-in-video": changed({"video.frame": 4}, "video.frame: unknown key; did you mean frames?"),
        "one-frame": changed({"video.frames": 1}, "video.frames"),
        "frames-100000000": changed({"video.frames": 100_000_000}, "video.frames"),
        "frames-100000000-run": changed({"video.frames": 100_000_000}, "video.frames", "--out", "r", command="run"),
        "height-a-string": changed({"video.height": "big"}, "video.height"),
        "unknown-data-type": changed({"data.type": "synthetic_shape"}, "data.type"),
        "unknown-model-type": changed({"model.type": "dual_mtgna"}, "model.type"),
        "a-loss-in-a-decoder-slot": changed({"model.decoder.type": "reconstruction"}, "model.decoder.type"),
        "weight-nan": changed({"losses.reconstruction.weight": nan}, "losses.reconstruction.weight"),
        "weight-inf": changed({"losses.reconstruction.weight": inf}, "losses.reconstruction.weight"),
        "weight-negative": changed({"losses.reconstruction.weight": -1.0}, "losses.reconstruction.weight"),
        "weight-nan-run": changed({"losses.reconstruction.weight": nan}, "losses.reconstruction.weight",
                                  "--out", "r", command="run"),
        "loss-start-negative": changed({"losses.reconstruction.start": -3}, "losses.reconstruction.start"),
        "loss-not-a-table": changed({"losses.reconstruction": 3}, "losses.reconstruction"),
        "option-nan": changed({"model.decoder.base_channels": nan}, "model.decoder.base_channels"),
        "device-cpux": changed({"train.device": "cpux"}, "train.device"),
        "device-gpu": changed({"train.device": "gpu"}, "train.device"),
        "precision-fp8": changed({"train.precision": "fp8"}, "train.precision"),
        "lr-zero": changed({"optimizers.generator.lr": 0.0}, "optimizers.generator.lr"),
        "lr-inf": changed({"optimizers.generator.lr": inf}, "optimizers.generator.lr"),
        "steps-zero": changed({"train.steps": 0}, "train.steps"),
        "data-a-string": changed({"data": "synthetic_shapes"}, "data"),
        "duplicate-phases": duplicate_phases,
        "plugin-module-missing": changed({"plugins": ["no_such_vidgan_plugin"]}, "no_such_vidgan_plugin"),
        "plugin-file-missing": plugin_missing_file,
        "set-without-equals": overrides("train.steps", names="train.steps"),
        "set-empty-segment": overrides("train..steps=3", names="train..steps=3"),
        "set-under-a-value": overrides("name.first=1", names="name: is a value, not a table"),
        "set-unknown-key": overrides("train.stepz=3", names="train.stepz: unknown key; did you mean steps?"),
        "set-nan-weight": overrides("losses.kl_divergence.weight=nan", names="losses.kl_divergence.weight"),
    }
    return params(cases)


@pytest.mark.parametrize("case", _recipe_cases())
def test_bad_recipes_are_refused(case: Callable[[Path], Call], tmp_path: Path, capsys, monkeypatch) -> None:
    refused(capsys, monkeypatch, tmp_path, case(tmp_path))


def test_a_zero_weight_stays_valid_and_recipe_json_stays_standard(tmp_path: Path, capsys, monkeypatch) -> None:
    """The other side of the weight cases: 0 still turns a term off, and the run's recipe.json
    holds no NaN or Infinity (what a NaN weight used to leave there)."""
    monkeypatch.chdir(tmp_path)
    said = vidgan(capsys, ["run", recipe(tmp_path, {"losses.reconstruction.weight": 0.0}), "--out", "r", "-q",
                           *sets("train.steps=1", "train.sample_every=0")])
    assert said.code == 0, said.err
    saved = (tmp_path / "r" / "recipe.json").read_text(encoding="utf-8")
    assert json.loads(saved)["losses"]["reconstruction"]["weight"] == 0.0
    assert "NaN" not in saved and "Infinity" not in saved


# == data files ================================================================================


def _data_cases() -> list[Any]:
    def inspect(make: Callable[[Path], Path], names: Callable[[Path], str] | str, *extra: str):  # noqa: ANN202
        def build(tmp: Path) -> Call:
            target = make(tmp)
            return Call(["data", "inspect", target, "--frames", str(T), "--size", "16", *extra],
                        names(tmp) if callable(names) else names)
        return build

    def folder_with(**files: bytes) -> Callable[[Path], Path]:
        def make(tmp: Path) -> Path:
            folder = tmp / "clips"
            folder.mkdir()
            for name, content in files.items():
                (folder / name.replace("__", ".")).write_bytes(content)
            return folder
        return make

    def npy(array: np.ndarray, allow_pickle: bool = False) -> Callable[[Path], Path]:
        def make(tmp: Path) -> Path:
            folder = tmp / "clips"
            folder.mkdir()
            np.save(folder / "clip.npy", array, allow_pickle=allow_pickle)
            return folder
        return make

    def truncated_npy(tmp: Path) -> Path:
        folder = npy(np.zeros((T, 16, 16, 3), np.uint8))(tmp)
        data = (folder / "clip.npy").read_bytes()
        (folder / "clip.npy").write_bytes(data[: len(data) // 2])
        return folder

    def pickle_as_npy(tmp: Path) -> Path:
        folder = tmp / "clips"
        folder.mkdir()
        (folder / "clip.npy").write_bytes(pickle_bytes())
        return folder

    def short_video(tmp: Path) -> Path:
        folder = tmp / "clips"
        write_video(folder / "short.mp4", torch.zeros(2, 3, 16, 16), fps=8)
        return folder

    def bad_manifest(tmp: Path) -> Path:
        folder = folder_with()(tmp)
        (folder / "manifest.json").write_text("{not json", encoding="utf-8")
        return folder

    def good_clips(tmp: Path) -> Path:
        folder = tmp / "clips"
        write_video(folder / "a.mp4", torch.zeros(T + 2, 3, 16, 16), fps=8)
        write_video(folder / "b.mp4", torch.zeros(T + 2, 3, 16, 16), fps=8)
        return folder

    def out_exists(tmp: Path) -> Call:
        (tmp / "preview.png").write_bytes(b"my picture")
        return Call(["data", "inspect", good_clips(tmp), "--frames", str(T), "--size", "16",
                     "--out", tmp / "preview.png"], str(tmp / "preview.png"))

    def data_root_missing(tmp: Path) -> Call:
        path = recipe(tmp, {"data": {"type": "video_folder", "root": str(tmp / "no_clips")}})
        return Call(["run", path, "--out", "r"], str(tmp / "no_clips"))

    def data_option_typo(tmp: Path) -> Call:
        path = recipe(tmp, {"data": {"type": "video_folder", "root": str(tmp), "on_eror": "skip"}})
        return Call(["validate", path], "data.on_eror: unknown key; did you mean on_error?")

    def verify_no_manifest(tmp: Path) -> Call:
        return Call(["data", "verify", good_clips(tmp)], "manifest.json")

    def prepare_src_missing(tmp: Path) -> Call:
        return Call(["data", "prepare", "weizmann", tmp / "weizmann_src", tmp / "out"], str(tmp / "weizmann_src"))

    def prepare_into_user_files(tmp: Path) -> Call:
        (tmp / "src").mkdir()
        (tmp / "src" / "daria_walk.avi").write_bytes(b"a video")
        (tmp / "out").mkdir()
        (tmp / "out" / "thesis.txt").write_text("do not lose me", encoding="utf-8")
        return Call(["data", "prepare", "weizmann", tmp / "src", tmp / "out"], str(tmp / "out"))

    cases = {
        "inspect-missing": inspect(lambda tmp: tmp / "no_clips", lambda tmp: str(tmp / "no_clips")),
        "inspect-empty-folder": inspect(folder_with(), lambda tmp: str(tmp / "clips")),
        "inspect-all-bad-names-each": inspect(folder_with(a__mp4=b"not a video", b__gif=b"GIF89a"),
                                              lambda tmp: f"{tmp / 'clips'}/a.mp4: cannot decode"),
        "inspect-all-bad-says-why": inspect(folder_with(a__mp4=b"not a video"), "skipped 1 bad file(s)"),
        "inspect-empty-png": inspect(folder_with(frames__png=b""), "frames.png"),
        "inspect-truncated-npy": inspect(truncated_npy, "clip.npy"),
        "inspect-pickle-as-npy": inspect(pickle_as_npy, "clip.npy"),
        "inspect-object-npy": inspect(npy(np.array([{"a": 1}], dtype=object), allow_pickle=True), "clip.npy"),
        "inspect-npy-2d": inspect(npy(np.zeros((16, 16), np.uint8)), "clip.npy"),
        "inspect-npy-float": inspect(npy(np.zeros((T, 16, 16, 3), np.float64)), "clip.npy"),
        "inspect-too-short": inspect(short_video, "short.mp4"),
        "inspect-broken-manifest": inspect(bad_manifest, "manifest.json"),
        "inspect-out-not-an-image": inspect(good_clips, "preview.txt", "--out", "preview.txt"),
        "inspect-out-exists": out_exists,
        "inspect-bad-split": inspect(good_clips, "--split", "--split", "validation"),
        "run-data-root-missing": data_root_missing,
        "validate-data-option-typo": data_option_typo,
        "verify-no-manifest": verify_no_manifest,
        "prepare-src-missing": prepare_src_missing,
        "prepare-into-user-files": prepare_into_user_files,
    }
    return params(cases)


@pytest.mark.parametrize("case", _data_cases())
def test_bad_data_is_refused(case: Callable[[Path], Call], tmp_path: Path, capsys, monkeypatch) -> None:
    refused(capsys, monkeypatch, tmp_path, case(tmp_path))


# == checkpoints ===============================================================================


def _checkpoint_cases() -> list[Any]:
    def transfer(damage: Callable[[Path], Path | str]):  # noqa: ANN202
        """``vidgan transfer`` on a copy of the run, damaged by ``damage(run) -> what to name``."""
        def build(tmp: Path, run: Path) -> Call:
            copy = copy_run(run, tmp)
            image, video = inputs(tmp)
            names = damage(copy)
            return Call(["transfer", copy, "-i", image, "-v", video, "-o", tmp / "out.mp4"], str(names))
        return build

    def in_checkpoint(relative: str, content: bytes | None):  # noqa: ANN202
        def damage(run: Path) -> Path:
            path = checkpoint_of(run) / relative
            if content is None:
                path.unlink()
            else:
                path.write_bytes(content)
            return path
        return damage

    def truncated(relative: str):  # noqa: ANN202
        def damage(run: Path) -> Path:
            path = checkpoint_of(run) / relative
            path.write_bytes(path.read_bytes()[:100])
            return path
        return damage

    def index_edit(edit: Callable[[dict[str, Any]], None], names: str | None = None):  # noqa: ANN202
        def damage(run: Path) -> Path | str:
            path = checkpoint_of(run) / "index.json"
            edit_json(path, edit)
            return names or path
        return damage

    def rename_decoder(index: dict[str, Any]) -> None:
        index["model"]["params"]["decoder"]["type"] = "conv_frame_decoder_v2"
        for record in index["components"]:
            if record["type"] == "conv_frame_decoder":
                record["type"] = "conv_frame_decoder_v2"

    def wider_decoder(index: dict[str, Any]) -> None:
        index["model"]["params"]["decoder"]["params"]["base_channels"] = 16

    def no_checkpoints(run: Path) -> Path:
        shutil.rmtree(run / "checkpoints")
        return run

    def only_unfinished(run: Path) -> str:
        ckpt = checkpoint_of(run)
        ckpt.rename(ckpt.with_name(f"{ckpt.name}.tmp-4242"))
        return "unfinished *.tmp-* folder"

    def step_without_index(run: Path) -> str:
        (checkpoint_of(run) / "index.json").unlink()
        return f"{checkpoint_of(run).name} without index.json"

    def generate_missing(tmp: Path, run: Path) -> Call:
        image, _ = inputs(tmp)
        return Call(["generate", tmp / "runs" / "tyni", "-i", image, "-o", tmp / "samples"], str(tmp / "runs" / "tyni"))

    def eval_missing(tmp: Path, run: Path) -> Call:
        return Call(["eval", tmp / "runs" / "tyni", "-o", tmp / "card", "--no-fvd"], str(tmp / "runs" / "tyni"))

    def eval_damaged(tmp: Path, run: Path) -> Call:
        copy = copy_run(run, tmp)
        path = checkpoint_of(copy) / "decoder" / "model.safetensors"
        path.write_bytes(pickle_bytes())
        return Call(["eval", copy, "-o", tmp / "card", "--no-fvd", "-n", "2", "-k", "2"], str(path))

    def a_file(tmp: Path, run: Path) -> Call:
        image, video = inputs(tmp)
        (tmp / "model.pt").write_bytes(pickle_bytes())
        return Call(["transfer", tmp / "model.pt", "-i", image, "-v", video, "-o", tmp / "out.mp4"],
                    f"{tmp / 'model.pt'} is a file")

    def missing(tmp: Path, run: Path) -> Call:
        image, video = inputs(tmp)
        return Call(["transfer", tmp / "runs" / "tyni", "-i", image, "-v", video, "-o", tmp / "out.mp4"],
                    str(tmp / "runs" / "tyni"))

    cases = {
        "missing": missing,
        "a-pickle-file": a_file,
        "no-checkpoints": transfer(no_checkpoints),
        "only-unfinished": transfer(only_unfinished),
        "step-without-index": transfer(step_without_index),
        "index-not-json": transfer(in_checkpoint("index.json", b"{\"format\": ")),
        "index-other-format": transfer(index_edit(lambda index: index.update(format="keras"))),
        "index-newer-format": transfer(index_edit(lambda index: index.update(format_version=99),
                                                  names="uses checkpoint format 99")),
        "weights-truncated": transfer(truncated("decoder/model.safetensors")),
        "weights-are-a-pickle": transfer(in_checkpoint("decoder/model.safetensors", pickle_bytes())),
        "weights-missing": transfer(in_checkpoint("decoder/model.safetensors", None)),
        "component-not-installed": transfer(index_edit(rename_decoder, names="conv_frame_decoder_v2")),
        "weights-do-not-fit": transfer(index_edit(wider_decoder, names="decoder/model.safetensors")),
        "ema-weights-missing": transfer(index_edit(lambda index: index.update(ema_slots=["decoder"]),
                                                   names="ema/decoder/model.safetensors")),
        "generate-missing": generate_missing,
        "eval-missing": eval_missing,
        "eval-weights-are-a-pickle": eval_damaged,
    }
    return params(cases)


@pytest.mark.parametrize("case", _checkpoint_cases())
def test_bad_checkpoints_are_refused(case: Callable[[Path, Path], Call], tiny_run: Path, tmp_path: Path,
                                     capsys, monkeypatch) -> None:
    refused(capsys, monkeypatch, tmp_path, case(tmp_path, tiny_run))


# == inference arguments =======================================================================

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="the case is a CPU-only torch's")


def _inference_cases() -> list[Any]:
    def named(names: str | Callable[[Path], str], tmp: Path) -> str:
        return names(tmp) if callable(names) else names

    def transfer(*extra: Any, names: str | Callable[[Path], str], image: Any = None, video: Any = None,
                 out: str = "out.mp4", prepare: Callable[[Path], Any] | None = None):  # noqa: ANN202
        def build(tmp: Path, run: Path) -> Call:
            good_image, good_video = inputs(tmp)
            if prepare is not None:
                prepare(tmp)
            i = image(tmp) if image is not None else good_image
            v = video(tmp) if video is not None else good_video
            return Call(["transfer", run, "-i", i, "-v", v, "-o", tmp / out, *extra], named(names, tmp))
        return build

    def generate(*extra: Any, names: str | Callable[[Path], str],
                 prepare: Callable[[Path], Any] | None = None):  # noqa: ANN202
        def build(tmp: Path, run: Path) -> Call:
            image, _ = inputs(tmp)
            if prepare is not None:
                prepare(tmp)
            return Call(["generate", run, "-i", image, "-o", tmp / "samples", *extra], named(names, tmp))
        return build

    def evaluate(*extra: Any, names: str | Callable[[Path], str],
                 prepare: Callable[[Path], Any] | None = None):  # noqa: ANN202
        def build(tmp: Path, run: Path) -> Call:
            if prepare is not None:
                prepare(tmp)
            args = [e(tmp) if callable(e) else e for e in extra]
            return Call(["eval", run, "-o", tmp / "card", "--no-fvd", "-n", "2", "-k", "2", *args], named(names, tmp))
        return build

    def text_file(name: str) -> Callable[[Path], Path]:
        def make(tmp: Path) -> Path:
            (tmp / name).write_text("hello", encoding="utf-8")
            return tmp / name
        return make

    def short_video(tmp: Path) -> Path:
        return Path(write_video(tmp / "short.mp4", torch.zeros(2, 3, 16, 16), fps=8))

    def array_image(tmp: Path) -> Path:
        np.save(tmp / "image.npy", np.zeros((16, 16, 5), np.uint8))
        return tmp / "image.npy"

    def earlier_samples(tmp: Path) -> None:
        (tmp / "samples").mkdir()
        (tmp / "samples" / "sample_000.mp4").write_bytes(b"an earlier sample")

    def non_empty_card(tmp: Path) -> None:
        (tmp / "card").mkdir()
        (tmp / "card" / "thesis.tex").write_text("do not lose me", encoding="utf-8")

    cases = {
        "transfer-device-cuda": (transfer("--device", "cuda", names="--device cuda"), no_cuda),
        "transfer-device-gpu": transfer("--device", "gpu", names="--device gpu"),
        "transfer-device-cuda-99": transfer("--device", "cuda:99", names="--device cuda:99"),
        "generate-device-cuda": (generate("--device", "cuda", names="--device cuda"), no_cuda),
        "generate-device-gpu": generate("--device", "gpu", names="--device gpu"),
        "eval-device-cuda": (evaluate("--device", "cuda", names="--device cuda"), no_cuda),
        "eval-device-gpu": evaluate("--device", "gpu", names="--device gpu"),
        "transfer-out-not-a-video": transfer(names="--out", out="out.txt"),
        "transfer-out-exists": transfer(names=lambda tmp: f"{tmp / 'out.mp4'} exists",
                                        prepare=lambda tmp: (tmp / "out.mp4").write_bytes(b"my video")),
        "transfer-out-a-folder": transfer(names=lambda tmp: f"{tmp / 'videos.mp4'} is a folder", out="videos.mp4",
                                          prepare=lambda tmp: (tmp / "videos.mp4").mkdir()),
        "transfer-out-under-a-file": transfer(names=lambda tmp: f"{tmp / 'notes'} is a file", out="notes/a.mp4",
                                              prepare=lambda tmp: (tmp / "notes").write_bytes(b"my notes")),
        "generate-out-a-file": generate(names=lambda tmp: f"{tmp / 'samples'} is a file",
                                        prepare=lambda tmp: (tmp / "samples").write_bytes(b"my notes")),
        "generate-earlier-samples": generate(names="sample_000.mp4 exists", prepare=earlier_samples),
        "generate-format-png": generate("--format", "png", names="--format png"),
        "generate-zero-samples": generate("-n", "0", names="'-n'"),
        "generate-100000000-samples": generate("-n", "100000000", names="-n 100000000"),
        "image-missing": transfer(names=lambda tmp: str(tmp / "face.png"), image=lambda tmp: tmp / "face.png"),
        "image-a-text-file": transfer(names=lambda tmp: str(tmp / "face.png"), image=text_file("face.png")),
        "image-an-array": transfer(names=lambda tmp: str(tmp / "image.npy"), image=array_image),
        "video-missing": transfer(names=lambda tmp: str(tmp / "drive.mp4"), video=lambda tmp: tmp / "drive.mp4"),
        "video-a-text-file": transfer(names=lambda tmp: str(tmp / "drive.mp4"), video=text_file("drive.mp4")),
        "video-too-short": transfer(names=lambda tmp: str(tmp / "short.mp4"), video=short_video),
        "model-set-without-equals": transfer("--model-set", "decoder.base_channels", names="decoder.base_channels"),
        "model-set-unknown-slot": transfer("--model-set", "decodr.x=1", names="no slot 'decodr'"),
        "model-set-changes-weights": transfer("--model-set", "decoder.base_channels=16",
                                              names="decoder/model.safetensors"),
        "eval-joint-by": evaluate("--joint-by", "lpips", names="--joint-by lpips"),
        "eval-data-missing": evaluate("--data", lambda tmp: tmp / "test.toml", names=lambda tmp: str(tmp / "test.toml")),
        "eval-fvd-set-nested": evaluate("--fvd-set", "a.b=1", names="--fvd-set 'a.b=1'"),
        "eval-out-not-empty": evaluate(names=lambda tmp: f"--out {tmp / 'card'} is not empty", prepare=non_empty_card),
    }
    return params(cases)


@pytest.mark.parametrize("case", _inference_cases())
def test_bad_inference_arguments_are_refused(case: Callable[[Path, Path], Call], tiny_run: Path, tmp_path: Path,
                                             capsys, monkeypatch) -> None:
    run_files = folder_bytes(tiny_run)
    refused(capsys, monkeypatch, tmp_path, case(tmp_path, tiny_run))
    assert folder_bytes(tiny_run) == run_files


# == run folders ===============================================================================


def _run_folder_cases() -> list[Any]:
    def run_into(prepare: Callable[[Path, Path], Path], names: Callable[[Path], str] | str, *extra: str):  # noqa: ANN202
        """``vidgan run`` of the module run's recipe into ``prepare(tmp, run) -> folder``."""
        def build(tmp: Path, run: Path) -> Call:
            target = prepare(tmp, run)
            return Call(["run", recipe(tmp), "--out", target, "-q", *sets(*RUN_SETS), *extra],
                        names(tmp) if callable(names) else names)
        return build

    def a_file(tmp: Path, run: Path) -> Path:
        (tmp / "runs").write_text("my notes", encoding="utf-8")
        return tmp / "runs"

    def user_files(tmp: Path, run: Path) -> Path:
        (tmp / "photos").mkdir()
        (tmp / "photos" / "holiday.jpg").write_bytes(b"\xff\xd8 a photo")
        return tmp / "photos"

    def the_run(tmp: Path, run: Path) -> Path:
        return copy_run(run, tmp)

    def damaged_recipe_json(tmp: Path, run: Path) -> Path:
        copy = copy_run(run, tmp)
        (copy / "recipe.json").write_text('{"name": "tiny", ', encoding="utf-8")
        return copy

    def damaged_index(tmp: Path, run: Path) -> Path:
        copy = copy_run(run, tmp)
        (checkpoint_of(copy) / "index.json").write_text("[", encoding="utf-8")
        return copy

    def weights_only(tmp: Path, run: Path) -> Path:
        copy = copy_run(run, tmp)
        for name in ("training_state.json", "training_state.safetensors"):
            (checkpoint_of(copy) / name).unlink()
        return copy

    cases = {
        "out-is-a-file": run_into(a_file, lambda tmp: f"{tmp / 'runs'} exists and is a file"),
        "out-holds-user-files": run_into(user_files, lambda tmp: f"{tmp / 'photos'}: it is not empty but has no"),
        "resume-in-user-files": run_into(user_files, lambda tmp: f"resume in {tmp / 'photos'}", "--resume"),
        "existing-run-without-resume": run_into(the_run, "already holds a run"),
        "resume-with-another-recipe": run_into(the_run, "losses.reconstruction.weight", "--resume",
                                               "--set", "losses.reconstruction.weight=5.0"),
        "resume-with-fewer-steps": run_into(the_run, "train.steps = 1", "--resume", "--set", "train.steps=1"),
        "resume-damaged-recipe-json": run_into(damaged_recipe_json, "recipe.json is damaged", "--resume"),
        "resume-damaged-index": run_into(damaged_index, "index.json", "--resume"),
        "resume-weights-only": run_into(weights_only, "holds weights only", "--resume"),
        "device-cuda-99": run_into(lambda tmp, run: tmp / "new", "train.device = 'cuda:99'",
                                   "--set", 'train.device="cuda:99"'),
    }
    return params(cases)


@pytest.mark.parametrize("case", _run_folder_cases())
def test_bad_run_folders_are_refused(case: Callable[[Path, Path], Call], tiny_run: Path, tmp_path: Path,
                                     capsys, monkeypatch) -> None:
    refused(capsys, monkeypatch, tmp_path, case(tmp_path, tiny_run))


# == plugins ===================================================================================


def installed_plugin(site: Path) -> None:
    """A distribution installed in ``site`` (a dist-info folder, as pip writes one) with a
    ``vidgan_kit`` entry point that registers ``fake_video_discriminator``."""
    (site / "vidgan_fake_plugin.py").write_text(
        "from vidgan_kit import hookimpl\n"
        "from vidgan_builtin.networks.discriminators import Conv3dVideoDiscriminator\n\n"
        "@hookimpl\n"
        "def vidgan_register_components(registry):\n"
        "    registry.add('discriminator', 'fake_video_discriminator', Conv3dVideoDiscriminator)\n",
        encoding="utf-8",
    )
    info = site / "vidgan_fake_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vidgan-fake-plugin\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[vidgan_kit]\nfake_plugin = vidgan_fake_plugin\n", encoding="utf-8")


def _plugin_cases() -> list[Any]:
    def with_plugin(body: str, names: str, name: str = "my_plugin.py"):  # noqa: ANN202
        def build(tmp: Path) -> Call:
            path = plugin_file(tmp, body, name)
            return Call(["--plugin", path, "validate", recipe(tmp)], names.format(path=path))
        return build

    def module_missing(tmp: Path) -> Call:
        return Call(["--plugin", "no_such_vidgan_plugin", "validate", recipe(tmp)], "no_such_vidgan_plugin")

    def file_missing(tmp: Path) -> Call:
        return Call(["--plugin", tmp / "mine.py", "validate", recipe(tmp)], str(tmp / "mine.py"))

    def env_module_missing(tmp: Path) -> Call:
        return Call(["validate", recipe(tmp)], "no_such_vidgan_plugin", {"VIDGAN_PLUGINS": "no_such_vidgan_plugin"})

    def recipe_plugin_broken(tmp: Path) -> Call:
        plugin_file(tmp, "raise RuntimeError('half-written plugin')\n", "broken.py")
        return Call(["validate", recipe(tmp, {"plugins": ["broken.py"]})], str(tmp / "broken.py"))

    def blocked_model(tmp: Path) -> Call:
        return Call(["validate", recipe(tmp)], "VIDGAN_BLOCK_PLUGINS keeps the installed plugin(s) dual_mtgan",
                    {"VIDGAN_BLOCK_PLUGINS": "dual_mtgan"})

    def autoload_off(tmp: Path) -> Call:
        path = recipe(tmp, {"model.video_discriminator": {"type": "fake_video_discriminator"}})
        return Call(["validate", path], "plugin autoload is off (VIDGAN_DISABLE_PLUGIN_AUTOLOAD=1)",
                    {"VIDGAN_DISABLE_PLUGIN_AUTOLOAD": "1"})

    def autoload_off_show_component(tmp: Path) -> Call:
        return Call(["show-component", "fake_video_discriminator"], "plugin autoload is off",
                    {"VIDGAN_DISABLE_PLUGIN_AUTOLOAD": "1"})

    register = "@hookimpl\ndef vidgan_register_components(registry):\n    {}\n"
    command = "@hookimpl\ndef vidgan_register_commands(app):\n    {}\n"
    cases = {
        "module-missing": module_missing,
        "file-missing": file_missing,
        "env-module-missing": env_module_missing,
        "import-fails": with_plugin("import no_such_dependency_of_mine\n", "{path}"),
        "syntax-error": with_plugin("def broken(:\n", "{path}"),
        "register-raises": with_plugin(register.format("raise KeyError('oops')"), "'my_plugin'"),
        "duplicate-component": with_plugin(
            "from vidgan_builtin.networks.discriminators import Conv3dVideoDiscriminator\n"
            + register.format("registry.add('discriminator', 'conv3d_video_discriminator', Conv3dVideoDiscriminator)"),
            "'conv3d_video_discriminator' is registered twice"),
        "unknown-kind": with_plugin(register.format("registry.add('widget', 'my_widget', object)"), "'widget'"),
        "component-without-config": with_plugin(
            register.format("registry.add('discriminator', 'my_disc', lambda config: None)"), "'my_disc'"),
        "component-name-not-snake-case": with_plugin(
            "from vidgan_builtin.networks.discriminators import Conv3dVideoDiscriminator\n"
            + register.format("registry.add('discriminator', 'My-Disc', Conv3dVideoDiscriminator)"), "'My-Disc'"),
        "hook-signature-wrong": with_plugin("@hookimpl\ndef vidgan_register_components(reg, extra):\n    pass\n",
                                            "'my_plugin'"),
        "command-hook-raises": with_plugin(command.format("raise ValueError('no commands today')"), "'my_plugin'"),
        "recipe-plugin-broken": recipe_plugin_broken,
        "blocked-builtin": blocked_model,
        "autoload-off-recipe": autoload_off,
        "autoload-off-show-component": autoload_off_show_component,
    }
    return params(cases)


@pytest.fixture
def fake_plugin_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """:func:`installed_plugin` in ``tmp_path/site``, on ``sys.path`` for this test."""
    site = tmp_path / "site"
    site.mkdir()
    installed_plugin(site)
    monkeypatch.syspath_prepend(str(site))


@pytest.mark.parametrize("case", _plugin_cases())
@pytest.mark.usefixtures("fake_plugin_installed")
def test_bad_plugins_are_refused(case: Callable[[Path], Call], tmp_path: Path, capsys, monkeypatch) -> None:
    refused(capsys, monkeypatch, tmp_path, case(tmp_path))


@pytest.mark.usefixtures("fake_plugin_installed")
def test_the_installed_test_plugin_loads_when_autoload_is_on(tmp_path: Path, capsys, monkeypatch) -> None:
    """The autoload case above is about autoload, not a broken distribution: with autoload on,
    the same recipe validates."""
    monkeypatch.delenv("VIDGAN_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    path = recipe(tmp_path, {"model.video_discriminator": {"type": "fake_video_discriminator"}})
    said = vidgan(capsys, ["validate", path])
    assert said.code == 0, said.err


# == what is no error, but used to go wrong quietly ============================================


def test_resume_of_a_folder_without_a_run_says_so_and_names_a_close_run(tiny_run: Path, tmp_path: Path,
                                                                         capsys, monkeypatch) -> None:
    """``--resume`` stays safe on a fresh run (job schedulers always pass it), but a mistyped path
    no longer starts a new run silently: the note names the folder and the run it resembles."""
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    runs.mkdir()
    copy_run(tiny_run, runs)  # runs/run
    said = vidgan(capsys, ["run", recipe(tmp_path), "--out", runs / "rnu", "--resume", "-q", *sets(*RUN_SETS)])
    assert said.code == 0, said.err
    assert f"note: {runs / 'rnu'} holds no run yet, so --resume starts a new one there" in said.err
    assert f"did you mean {runs / 'run'}?" in said.err
    assert (runs / "rnu" / "recipe.json").is_file()


def test_a_resume_removes_the_folders_of_writes_a_kill_cut_short(tiny_run: Path, tmp_path: Path,
                                                                  capsys, monkeypatch) -> None:
    """Folders of a checkpoint write or deletion that a kill -9 interrupted are deleted when the run
    resumes; one whose process still runs is left alone, and so is every complete checkpoint."""
    monkeypatch.chdir(tmp_path)
    run = copy_run(tiny_run, tmp_path)
    ckpts = run / "checkpoints"
    complete = checkpoint_of(run)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead_pid = int(dead.stdout)
    leftovers = [ckpts / f"step-00000004.tmp-{dead_pid}", ckpts / f"step-00000001.tmp-del-{dead_pid}",
                 ckpts / f"step-00000002.tmp-old-{dead_pid}"]
    for folder in leftovers:
        shutil.copytree(complete, folder)
    alive = ckpts / f"step-00000006.tmp-{os.getppid()}"  # a process that certainly runs
    alive.mkdir()
    said = vidgan(capsys, ["run", recipe(tmp_path), "--out", run, "--resume", "-q", *sets(*RUN_SETS[1:]),
                           "--set", "train.steps=3"])
    assert said.code == 0, said.err
    assert not any(folder.exists() for folder in leftovers)
    assert alive.is_dir()
    assert sorted(p.name for p in ckpts.iterdir()) == ["step-00000003", alive.name]  # keep_checkpoints = 1


def test_generate_overwrite_leaves_only_this_calls_samples(tiny_run: Path, tmp_path: Path, capsys,
                                                          monkeypatch) -> None:
    """An earlier call's extra samples would pass for this call's: ``--overwrite`` removes them,
    and nothing else in the folder."""
    monkeypatch.chdir(tmp_path)
    image, _ = inputs(tmp_path)
    out = tmp_path / "samples"
    assert vidgan(capsys, ["generate", tiny_run, "-i", image, "-o", out, "-n", "3", "--format", "gif"]).code == 0
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    said = vidgan(capsys, ["generate", tiny_run, "-i", image, "-o", out, "-n", "1", "--format", "mp4", "--overwrite"])
    assert said.code == 0, said.err
    assert "removed 4 sample(s) of an earlier call" in said.out
    assert sorted(p.name for p in out.iterdir()) == ["grid.mp4", "notes.txt", "sample_000.mp4"]


def test_the_matrix_covers_every_area_with_sixty_cases() -> None:
    counts = {area: len(cases()) for area, cases in {
        "recipes": _recipe_cases, "data": _data_cases, "checkpoints": _checkpoint_cases,
        "inference": _inference_cases, "run folders": _run_folder_cases, "plugins": _plugin_cases}.items()}
    assert all(n >= 10 for n in counts.values()), counts
    assert sum(counts.values()) >= 60, counts


def test_the_recipe_writer_keeps_nan_and_infinity() -> None:
    """A guard on the cases above: a writer that dropped NaN would make the NaN cases test nothing."""
    table = tomllib.loads(toml_dump({"w": float("nan"), "i": float("inf")}))
    assert math.isnan(table["w"]) and table["i"] == math.inf
