"""vidgan_kit.io.crop: the subject found in drawn clips, one steady square per clip, and the missing extra."""

from __future__ import annotations

import itertools
import sys

import pytest
import torch

from tests.io.crop_clips import face_clip, walking_blob
from vidgan_kit.errors import DataError, ShapeError, VidganError
from vidgan_kit.io import resize_video
from vidgan_kit.io.crop import (
    DEFAULT_MARGIN,
    MIN_THRESHOLD,
    CropBox,
    _cascade,
    crop_frames,
    crop_subject,
    find_boxes,
    require_face_detector,
)


def _has_cascades() -> bool:
    try:
        require_face_detector()
    except VidganError:
        return False
    return True


needs_cascades = pytest.mark.skipif(
    not _has_cascades(), reason="OpenCV's Haar cascades are not installed (pip install 'vidgan-kit[crop]')"
)


def _holds(box: CropBox, subject: tuple[float, float, float, float]) -> bool:
    x0, y0, x1, y1 = subject
    return box.x <= x0 and box.y <= y0 and box.x + box.size >= x1 and box.y + box.size >= y1


def _inside_frame(box: CropBox) -> bool:
    return box.x >= 0 and box.y >= 0 and box.x + box.size <= box.frame_width and box.y + box.size <= box.frame_height


# -- faces -------------------------------------------------------------------------------------


@needs_cascades
def test_a_drawn_face_drifting_over_a_panning_background_gets_one_steady_box_around_it() -> None:
    clip, ovals = face_clip(frames=16, speed=1.0)
    box = find_boxes(clip, subject="face")
    assert box.detector == "face" and box.examined == 16
    assert len(box.detections) >= 14  # found in (nearly) every frame
    assert all(_holds(box, oval) for oval in ovals)
    assert _inside_frame(box)
    # The face's path with the margin, not the frame: 44 px high, 15 px of travel.
    span = max(d.x + d.width for d in box.detections) - min(d.x for d in box.detections)
    assert box.size <= round(span * (1 + 2 * DEFAULT_MARGIN)) + 1 and box.size < 0.85 * 120
    # The raw detections follow the face smoothly: no jumps between neighbouring frames.
    xs = [d.x + d.width / 2 for d in box.detections]
    assert max(abs(a - b) for a, b in itertools.pairwise(xs)) <= 4
    assert xs[-1] - xs[0] == pytest.approx(15, abs=5)  # the face moved 15 px
    # Steady over the clip: its two halves, cropped apart, get nearly the same square.
    first, second = find_boxes(clip[:8], subject="face"), find_boxes(clip[8:], subject="face")
    assert abs(first.size - second.size) <= 0.15 * box.size
    assert abs((first.x + first.size / 2) - (second.x + second.size / 2)) <= 0.2 * box.size


@needs_cascades
def test_auto_prefers_the_face_and_passes_over_an_oval_without_features() -> None:
    clip, _ = face_clip(frames=12)
    assert find_boxes(clip).detector == "face"
    blank, _ = face_clip(frames=12, features=False)  # the same oval, no eyes, brows, nose or mouth
    box = find_boxes(blank)
    assert box.detector == "motion"
    assert "face: a face in 0 of 12 examined frames" in box.note
    with pytest.raises(DataError, match="the face detector found no subject"):
        find_boxes(blank, subject="face")


@needs_cascades
def test_a_face_in_a_still_image_is_found() -> None:
    clip, ovals = face_clip(frames=1)
    cropped, box = crop_subject(clip, 48)
    assert box.detector == "face" and len(box.detections) == 1 and box.examined == 1
    assert _holds(box, ovals[0])
    assert cropped.shape == (1, 3, 48, 48)


def test_without_opencv_face_detection_names_the_extra_and_auto_uses_motion(monkeypatch) -> None:
    _cascade.cache_clear()
    monkeypatch.setitem(sys.modules, "cv2", None)  # `import cv2` raises ImportError
    try:
        with pytest.raises(VidganError, match=r"pip install 'vidgan-kit\[crop\]'"):
            require_face_detector()
        clip, _ = walking_blob(frames=8)
        with pytest.raises(VidganError, match=r"vidgan-kit\[crop\]"):
            find_boxes(clip, subject="face")
        box = find_boxes(clip)
        assert box.detector == "motion" and "Haar cascades are not installed" in box.note
    finally:
        _cascade.cache_clear()


# -- motion ------------------------------------------------------------------------------------


def test_a_walking_blob_on_a_still_noisy_scene_is_held_for_the_whole_walk() -> None:
    clip, bodies = walking_blob(frames=20)
    box = find_boxes(clip, subject="motion")
    assert box.detector == "motion" and box.examined == 20
    assert all(_holds(box, body) for body in bodies)
    assert _inside_frame(box)
    assert box.size <= round(61 * (1 + 2 * DEFAULT_MARGIN)) + 2  # the walk is 52 x 61 px
    # The raw per-frame boxes follow the walker (2 px a frame) and are about its size.
    assert len(box.detections) >= 18
    first, last = box.detections[0], box.detections[-1]
    assert last.x - first.x == pytest.approx(38, abs=6)
    assert all(abs(d.height - 61) <= 8 and d.width <= 24 for d in box.detections)


def test_the_foreground_threshold_comes_from_the_data_so_strong_sensor_noise_is_not_motion() -> None:
    # Noise of 0.05 crosses MIN_THRESHOLD in a sixth of the pixels: a fixed threshold would box the frame.
    clip, bodies = walking_blob(frames=20, noise=0.05, seed=3)
    assert ((clip - clip.median(dim=0).values).abs().amax(dim=1) > MIN_THRESHOLD).float().mean() > 0.15
    assert all(_holds(find_boxes(clip, subject="motion"), body) for body in bodies)
    assert find_boxes(clip, subject="motion", margin=0.0).size <= 64  # the walk (61 px high), not the 96 px frame


def test_a_still_clip_has_no_motion_and_auto_falls_back_to_the_centred_square() -> None:
    still = walking_blob(frames=1)[0].expand(6, -1, -1, -1).clone()
    with pytest.raises(DataError, match="the motion detector found no subject"):
        find_boxes(still, subject="motion")
    box = find_boxes(still)
    assert (box.detector, box.x, box.y, box.size) == ("centre", 16, 0, 96)
    assert "motion: no pixel differs" in box.note


def test_the_margin_widens_the_box_and_the_frame_limits_it() -> None:
    clip, _ = walking_blob(frames=20)
    sizes = [find_boxes(clip, subject="motion", margin=m).size for m in (0.0, 0.1, 0.3, 5.0)]
    assert sizes[0] < sizes[1] < sizes[2] <= sizes[3] == 96  # at most the frame's shorter side
    assert sizes[0] == pytest.approx(61, abs=3)  # the walk's height, unpadded
    with pytest.raises(ValueError, match="margin"):
        find_boxes(clip, margin=-0.1)


def test_a_subject_at_the_edge_gets_a_box_shifted_inside_the_frame() -> None:
    clip, bodies = walking_blob(frames=10)
    shifted = clip.roll(44, dims=-1)  # the walk now ends 2 px from the right edge
    box = find_boxes(shifted, subject="motion")
    assert _inside_frame(box) and box.x + box.size == box.frame_width
    assert all(_holds(box, (x0 + 44, y0, x1 + 44, y1)) for x0, y0, x1, y1 in bodies)


# -- cropping ----------------------------------------------------------------------------------


def test_crop_frames_cuts_the_box_and_resizes_it() -> None:
    clip = torch.rand(3, 3, 40, 60) * 2 - 1
    box = CropBox(x=10, y=5, size=30, detector="motion", frame_height=40, frame_width=60)
    assert torch.equal(crop_frames(clip, box, 30), clip[:, :, 5:35, 10:40])
    small = crop_frames(clip, box, 12)
    assert small.shape == (3, 3, 12, 12)
    assert torch.allclose(small, resize_video(clip[:, :, 5:35, 10:40], 12, 12))
    with pytest.raises(ShapeError, match="does not lie inside the 60x40 frames"):
        crop_frames(clip, CropBox(x=40, y=0, size=30, detector="motion", frame_height=40, frame_width=60), 12)


def test_bad_input_is_refused_with_the_expected_layout() -> None:
    with pytest.raises(ShapeError, match=r"\[T, C, H, W\].*image\[None\]"):
        find_boxes(torch.zeros(3, 32, 32))
    with pytest.raises(ShapeError, match="floating-point"):
        find_boxes(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="subject must be one of auto, face, motion"):
        find_boxes(torch.zeros(2, 3, 32, 32), subject="body")  # type: ignore[arg-type]


def test_the_box_records_what_found_it_for_printing() -> None:
    clip, _ = walking_blob(frames=6)
    record = find_boxes(clip, subject="motion").to_dict()
    assert record["detector"] == "motion" and record["examined"] == 6
    assert set(record["detections"][0]) == {"frame", "x", "y", "width", "height"}
