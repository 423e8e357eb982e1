"""`vidgan data inspect | prepare | verify` through the command line, in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
from clip_files import indexed_frames, write_strip
from PIL import Image
from standins import person_clip, write_avi
from typer.testing import CliRunner

from tests._actors import NUMBERED, write_actor_strips
from vidgan_kit.cli import build_app
from vidgan_kit.cli._common import reset_state

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory, host) -> Path:
    """A Weizmann stand-in prepared through the command line (with --verify)."""
    root = tmp_path_factory.mktemp("weizmann")
    write_avi(root / "src" / "daria_bend.avi", person_clip(12, (70, 60), seed=1))
    write_avi(root / "src" / "ido_jack.avi", person_clip(15, (70, 110), seed=2))
    reset_state(host=host)
    result = CliRunner().invoke(build_app(), ["data", "prepare", "weizmann", str(root / "src"), str(root / "out"),
                                              "--verify"])
    reset_state()
    assert result.exit_code == 0, result.output
    assert "classes" in result.stdout and "bend (1), jack (1)" in result.stdout
    assert "ok: 2 files" in result.stdout and "match its manifest" in result.stdout
    return root / "out"


def test_prepare_refuses_a_non_empty_output(cli, prepared: Path) -> None:
    before = sorted(p.relative_to(prepared) for p in prepared.rglob("*"))
    result = cli("data", "prepare", "weizmann", prepared.parent / "src", prepared)
    assert result.exit_code == 2
    assert "is not empty" in result.stderr and "--overwrite" in result.stderr and "Traceback" not in result.output
    assert sorted(p.relative_to(prepared) for p in prepared.rglob("*")) == before


def test_verify_both_spellings_detect_a_changed_file(cli, prepared: Path, tmp_path: Path) -> None:
    for args in (("data", "verify", prepared), ("data", "prepare", "--verify", prepared)):
        result = cli(*args)
        assert result.exit_code == 0, result.output
        assert "ok: 2 files" in result.stdout
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in prepared.rglob("*"):
        if path.is_file():
            target = copy / path.relative_to(prepared)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    strip = copy / "jack" / "ido_jack.png"
    Image.open(strip).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(strip)
    for args in (("data", "verify", copy), ("data", "prepare", "--verify", copy)):
        result = cli(*args)
        assert result.exit_code == 2
        assert "1 mismatch" in result.stderr and "jack/ido_jack.png" in result.stderr
    result = cli("data", "verify", tmp_path)
    assert result.exit_code == 2 and "no manifest.json" in result.stderr


def test_inspect_a_prepared_folder_and_write_a_preview(cli, prepared: Path, tmp_path: Path) -> None:
    preview = tmp_path / "preview.png"
    result = cli("data", "inspect", prepared, "--frames", "4", "--out", preview)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "folder prepared as weizmann" in text and "frame_strips" in text
    cells = [line.split("│") for line in text.splitlines() if line.count("│") == 3]
    rows = {cell[1].strip(): cell[2].strip() for cell in cells}
    assert rows["train split"] == rows["test split"] == "2 clips, 2 items"  # by time: every clip in both
    assert rows["frames per clip (train)"] == "12 / 13.5 / 15 (min / median / max)"
    assert rows["usable frames (train part)"] == "8 / 9 / 10"  # the first 2/3
    assert "bend (1), jack (1)" in text and "64x64 (2)" in text
    with Image.open(preview) as img:  # 2 rows of 4 frames, 2 px padding
        assert img.size == (4 * 66 + 2, 2 * 66 + 2)
    stamp = preview.stat().st_mtime_ns
    result = cli("data", "inspect", prepared, "--frames", "4", "--out", preview)
    assert result.exit_code == 2 and "exists; pass --overwrite" in result.stderr
    assert preview.stat().st_mtime_ns == stamp
    assert cli("data", "inspect", prepared, "--frames", "4", "--out", preview, "--overwrite").exit_code == 0


def test_inspect_a_recipe_lists_bad_files_instead_of_stopping(cli, tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    for i, cls in enumerate(["run", "run", "walk"]):
        write_strip(clips / cls / f"c{i}.png", indexed_frames(6 + i))
    (clips / "walk" / "broken.png").write_bytes(b"not a png")
    recipe = tmp_path / "r.toml"
    text = (REPO / "recipes" / "tiny.toml").read_text()
    recipe.write_text(text.replace('type = "synthetic_shapes"',
                                   f'type = "frame_strips"\nroot = "{clips}"\nsplit_mode = "by_time"'))
    result = cli("data", "inspect", recipe, "--set", "video.frames=2", "--set", "video.height=8",
                 "--set", "video.width=8")
    assert result.exit_code == 0, result.output
    assert "run (2), walk (1)" in result.stdout and "6 / 7 / 8" in result.stdout
    assert "skipped 1 bad file(s)" in result.stdout and "broken.png" in result.stdout
    assert "with on_error = 'raise' building would stop" in result.stdout


def test_inspect_shows_the_identities_of_each_split(cli, tmp_path: Path) -> None:
    write_actor_strips(tmp_path / "actors", range(3), frames=6, size=8)
    recipe = tmp_path / "r.toml"
    recipe.write_text((REPO / "recipes" / "tiny.toml").read_text().replace(
        'type = "synthetic_shapes"',
        f'type = "frame_strips"\nroot = "{tmp_path / "actors"}"\nsplit_mode = "by_identity"\n'
        f"identity_pattern = '{NUMBERED['identity_pattern']}'\nidentity_divisor = 8\ntest_identities = [1]"))
    result = cli("data", "inspect", recipe, "--set", "video.height=8", "--set", "video.width=8")
    assert result.exit_code == 0, result.output
    assert "train identities" in result.stdout and "0 (4 clips), 2 (4)" in result.stdout
    assert "test identities" in result.stdout and "held out: 1 (4 clips)" in result.stdout


def test_inspect_synthetic_recipe_and_bad_targets(cli, tmp_path: Path) -> None:
    result = cli("data", "inspect", REPO / "recipes" / "tiny.toml")
    assert result.exit_code == 0, result.output
    assert "synthetic_shapes" in result.stdout and "circle" in result.stdout
    result = cli("data", "inspect", tmp_path / "nothing")
    assert result.exit_code == 2 and "does not exist" in result.stderr
    result = cli("data", "inspect", tmp_path, "--out", tmp_path / "p.gif")
    assert result.exit_code == 2 and "choose an image file" in result.stderr
