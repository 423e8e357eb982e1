"""The page in a real headless Chromium (Debian's), against a server with a tiny trained run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vidgan_kit import VideoGeometry
from vidgan_kit.inference import load_pipeline
from vidgan_kit.io import read_image, read_video, write_image, write_video

from ..e2e.conftest import TINY_GEOMETRY, synthetic_clips
from .conftest import demo_screenshot

#: A source video longer than the tiny model's clips, at a size the model does not take.
SOURCE_FRAMES = 2 * TINY_GEOMETRY.frames + 1


def _inputs(folder: Path) -> tuple[Path, Path]:
    geometry = VideoGeometry(frames=SOURCE_FRAMES, channels=3, height=24, width=24)
    clips = synthetic_clips(geometry, 2)
    image = Path(write_image(folder / "face.png", clips[0, 0]))
    video = Path(write_video(folder / "driving.mp4", clips[1], fps=10))
    return image, video


def _download(page: Any, selector: str, to: Path) -> Path:
    with page.expect_download() as info:
        page.click(selector)
    info.value.save_as(to)
    return to


def test_an_uploaded_image_and_video_give_a_result_to_download(page, runs, tmp_path):
    image, video = _inputs(tmp_path)
    page.set_input_files("#transfer-image", str(image))
    page.set_input_files("#transfer-video", str(video))
    page.click("#transfer-run")
    page.wait_for_selector("#transfer-downloads:not([hidden])")
    assert page.is_hidden("#transfer-error")

    # The tiny model animates one clip at a time: the page transfers its first T frames and says so.
    expected = load_pipeline(runs / "a", notes=lambda _: None).transfer(image, video, frames=TINY_GEOMETRY.frames)
    mp4 = read_video(_download(page, "#download-mp4", tmp_path / "got.mp4"))
    gif = read_video(_download(page, "#download-gif", tmp_path / "got.gif"))
    assert mp4.shape == gif.shape == expected.shape
    # The model's frames, through a lossy codec at 16×16: near, not equal.
    assert (gif - expected).abs().mean() < 0.1
    assert f"{expected.shape[0]} frames" in page.inner_text("#transfer-result-info")
    assert f"animates {TINY_GEOMETRY.frames} frames at a time" in page.inner_text("#transfer-notes")
    # The page plays the result (or shows its GIF where the browser cannot play the MP4).
    page.wait_for_function("() => { const v = document.getElementById('transfer-result');"
                           " const g = document.getElementById('transfer-result-gif');"
                           " return (!v.hidden && v.readyState >= 2) || (!g.hidden && g.naturalWidth > 0); }")


def _tiles(page: Any) -> list[bytes]:
    sources = page.eval_on_selector_all("#samples-grid img", "imgs => imgs.map(i => i.src)")
    return [page.request.get(src).body() for src in sources]


def test_samples_fill_a_grid_and_more_draws_new_ones(page):
    page.click("nav button[data-tab=samples]")
    page.locator(".picks[data-tab=samples][data-kind=image] button").first.click()
    page.fill("#samples-k", "3")
    page.click("#samples-run")
    page.wait_for_function("() => document.querySelectorAll('#samples-grid img').length === 3"
                           " && [...document.querySelectorAll('#samples-grid img')].every(i => i.naturalWidth > 0)")
    first = _tiles(page)
    assert len(set(first)) == 3  # three different motions

    page.click("#samples-more")
    page.wait_for_selector("#samples-grid[data-seed='1']")
    assert page.input_value("#samples-seed") == "1"
    again = _tiles(page)
    assert len(again) == 3 and set(again).isdisjoint(first)
    assert page.is_hidden("#samples-error")


def test_a_text_file_as_the_video_shows_an_error_and_the_page_still_works(page, tmp_path):
    image, video = _inputs(tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a video\n")
    page.set_input_files("#transfer-image", str(image))
    page.set_input_files("#transfer-video", str(notes))
    page.click("#transfer-run")
    page.wait_for_selector("#transfer-error:not([hidden])")
    message = page.inner_text("#transfer-error")
    assert "notes.txt" in message and "not a video" in message
    assert page.is_hidden("#transfer-downloads")

    page.set_input_files("#transfer-video", str(video))
    page.click("#transfer-run")
    page.wait_for_selector("#transfer-downloads:not([hidden])")
    assert page.is_hidden("#transfer-error")


def test_the_model_tab_shows_the_run_and_switches(page):
    page.click("nav button[data-tab=model]")
    rows = dict(zip(page.eval_on_selector_all("#model-info dt", "e => e.map(x => x.textContent)"),
                    page.eval_on_selector_all("#model-info dd", "e => e.map(x => x.textContent)"), strict=True))
    assert rows["Run"] == "a" and rows["Recipe"] == "tiny" and rows["Step"] == "2"
    assert rows["Frame size"].startswith("16×16") and rows["Clip length"] == "4 frames"
    page.select_option("#model-runs", label=page.locator("#model-runs option").nth(1).inner_text())
    page.click("#model-switch")
    page.wait_for_function("() => document.getElementById('model-line').textContent.startsWith('b ·')")
    assert page.is_hidden("#model-error")
    page.select_option("#model-runs", index=0)  # back, for the other tests
    page.click("#model-switch")
    page.wait_for_function("() => document.getElementById('model-line').textContent.startsWith('a ·')")


def test_the_screenshot_comes_from_the_browser(page, tmp_path):
    shot = read_image(demo_screenshot.shoot(page, tmp_path / "demo.png"))  # [C, H, W]
    assert shot.shape[-1] == demo_screenshot.VIEWPORT["width"]
    assert shot.shape[-2] >= demo_screenshot.VIEWPORT["height"] // 2
    assert shot.std() > 0.1  # a page, not a blank frame
