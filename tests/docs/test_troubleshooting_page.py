"""``docs/when-something-goes-wrong.md`` quotes messages as the code prints them.

Each quoted block follows a ``<!-- message: NAME -->`` comment; NAME is a scenario below,
which makes the same mistake in a scratch folder laid out as the page says (``recipes/``
linked in, runs under ``runs/``) through the real entry point. Every line of the block must
be a line of what the command printed, and the command must end with exit code 2.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from vidgan_kit.cli import main
from vidgan_kit.cli._common import reset_state
from vidgan_kit.io import write_video

from .blocks import DOCS, REPO

PAGE = DOCS / "when-something-goes-wrong.md"
MESSAGE = re.compile(r"<!--\s*message:\s*(?P<name>[\w-]+)\s*-->\s*\n```text\n(?P<body>.*?)^```", re.M | re.S)

pytestmark = pytest.mark.slow


def _cli(*args: str) -> int:
    """The ``vidgan`` entry point in this process; returns the exit code."""
    try:
        main(list(args))
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        reset_state()


def _short_run() -> None:
    assert _cli("run", "recipes/tiny.toml", "--set", "train.steps=2", "-q") == 0


def _inputs() -> None:
    Path("in").mkdir()
    write_video("in/drive.mp4", torch.zeros(2, 3, 16, 16), fps=8)
    from vidgan_kit.io import write_image

    write_image("in/face.png", torch.zeros(3, 16, 16))


def _bad_clips() -> None:
    Path("clips").mkdir()
    Path("clips/walk.mp4").write_bytes(b"not a video")


def _photos() -> None:
    Path("photos").mkdir()
    Path("photos/holiday.jpg").write_bytes(b"a photo")


def _broken_plugin() -> None:
    Path("my_plugin.py").write_text("import my_missing_dependency\n", encoding="utf-8")


def _nothing() -> None:
    pass


def _example_installed() -> bool:
    try:
        metadata.distribution("vidgan-example-discriminator")
    except metadata.PackageNotFoundError:
        return False
    return True


#: name → (set-up in the scratch folder, command line, environment, why it cannot run here or None)
SCENARIOS: dict[str, tuple[Callable[[], None], list[str], dict[str, str], str | None]] = {
    "unknown-key": (_nothing, ["validate", "recipes/tiny.toml", "--set", "train.step=100"], {}, None),
    "nan-weight": (_nothing, ["validate", "recipes/tiny.toml", "--set", "losses.reconstruction.weight=nan"], {}, None),
    "huge-clip": (_nothing, ["validate", "recipes/tiny.toml", "--set", "video.frames=100000000"], {}, None),
    "no-cuda": (_nothing, ["run", "recipes/tiny.toml", "--set", 'train.device="cuda"'], {},
                "CUDA is available" if torch.cuda.is_available() else None),
    "not-a-device": (_nothing, ["run", "recipes/tiny.toml", "--set", 'train.device="gpu"'], {}, None),
    "fp16-on-cpu": (_nothing, ["run", "recipes/tiny.toml", "--set", 'train.precision="fp16"'], {}, None),
    "run-exists": (_short_run, ["run", "recipes/tiny.toml", "--set", "train.steps=2"], {}, None),
    "resume-other-recipe": (_short_run, ["run", "recipes/tiny.toml", "--resume", "--set", "train.steps=4",
                                         "--set", "losses.kl_divergence.weight=0.1"], {}, None),
    "not-a-run": (_photos, ["run", "recipes/tiny.toml", "--out", "photos"], {}, None),
    "no-such-run": (_inputs, ["transfer", "runs/tyni", "-i", "in/face.png", "-v", "in/drive.mp4", "-o", "out.mp4"],
                    {}, None),
    "output-exists": (lambda: (_short_run(), _inputs(), Path("out.mp4").write_bytes(b"mine")),
                      ["transfer", "runs/tiny", "-i", "in/face.png", "-v", "in/drive.mp4", "-o", "out.mp4"], {}, None),
    "video-too-short": (lambda: (_short_run(), _inputs()),
                        ["transfer", "runs/tiny", "-i", "in/face.png", "-v", "in/drive.mp4", "-o", "a.mp4"], {}, None),
    "data-all-bad": (_bad_clips, ["data", "inspect", "clips"], {}, None),
    "data-root-missing": (_nothing, ["run", "recipes/tiny.toml", "--set",
                                     'data={type="video_folder", root="my_clips"}'], {}, None),
    "autoload-off": (_nothing, ["validate", "recipes/tiny.toml", "--set",
                                'model.video_discriminator={type="frame_difference_video_discriminator"}'],
                     {"VIDGAN_DISABLE_PLUGIN_AUTOLOAD": "1"},
                     None if _example_installed() else "the example plugin is not installed"),
    "plugin-fails": (_broken_plugin, ["--plugin", "my_plugin.py", "validate", "recipes/tiny.toml"], {}, None),
    "fvd-weights": (_short_run, ["eval", "runs/tiny", "--out", "card", "-n", "2", "-k", "2"],
                    {"VIDGAN_CACHE": "cache"}, None),
}


def quoted() -> dict[str, str]:
    text = PAGE.read_text(encoding="utf-8")
    return {m.group("name"): m.group("body") for m in MESSAGE.finditer(text)}


def run_scenario(name: str, folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
                 ) -> tuple[int, str]:
    set_up, args, env, _ = SCENARIOS[name]
    (folder / "recipes").symlink_to(REPO / "recipes")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("VIDGAN_QUIET", "1")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    set_up()
    capsys.readouterr()
    code = _cli(*args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_every_quoted_message_has_its_scenario_and_the_reverse() -> None:
    assert sorted(quoted()) == sorted(SCENARIOS)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.skipif(s[3] is not None, reason=str(s[3])))
                                  for n, s in SCENARIOS.items()])
def test_the_page_quotes_what_the_code_prints(name: str, tmp_path: Path, monkeypatch, capsys) -> None:
    code, printed = run_scenario(name, tmp_path, monkeypatch, capsys)
    assert code == 2, printed
    lines = {line.rstrip() for line in printed.splitlines()}
    missing = [line for line in quoted()[name].splitlines() if line.strip() and line.rstrip() not in lines]
    assert not missing, f"{name}: the page quotes lines the code does not print:\n{missing}\n--- printed:\n{printed}"
