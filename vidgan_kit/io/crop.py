"""Finding the subject of raw footage and cropping it to a steady square, as data sets are cropped.

Public data sets frame their subject the same way in every clip: a face or a person
centred in a square. Footage that users bring is not, and a model trained on centred
subjects transfers badly to it. :func:`crop_subject` finds the subject of a clip
``[T, C, H, W]`` (an image is a clip of one frame), chooses ONE square box for the whole
clip and crops every frame with it. One box, not one per frame, so the subject's own
motion is kept and the background does not swim; the box holds the subject wherever it
goes during the clip.

Two detectors:

``face``
    OpenCV's frontal-face Haar cascade (Viola-Jones), whose trained weights ship inside
    ``opencv-python-headless`` 4.x (the ``crop`` extra; OpenCV 5 moved the cascades out of
    that package). The largest face of each examined frame is kept; the track of face
    boxes is median-filtered over time (five detections) so single false detections drop
    out, and the crop holds the union of the filtered boxes.
``motion``
    Pure torch, no extra. The background is the per-pixel temporal median (the subject
    moves, so each pixel shows the scene most of the time); a pixel is foreground where
    it differs from the background by more than a threshold taken from the data (the
    median difference plus six robust standard deviations, 1.4826 × MAD, and at least
    ``MIN_THRESHOLD``). Specks smaller than 3×3 pixels are opened away, each frame's box is
    the central 98 % of its foreground pixels along x and y, and the crop holds the union
    of the frames' boxes. Needs a static camera and a moving subject: a still image or a
    panning camera has no usable foreground.

``auto`` tries ``face`` first (when a face is found in at least a third of the examined
frames), then ``motion``, then falls back to the centred square, and says in
:attr:`CropBox.note` why it moved on. Either way the box is padded by ``margin`` (a
fraction of the detected box's longer side, per side), made square, limited to the
frame's shorter side and shifted to lie inside the frame.

Detection runs on at most ``MAX_EXAMINED`` frames spread evenly over the clip, shrunk so
their shorter side is at most ``ANALYSIS_SIDE`` pixels; boxes are reported in source
pixels.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError, ShapeError, VidganError
from ._common import tensor_to_uint8
from .resize import resize_video

__all__ = [
    "ANALYSIS_SIDE",
    "DEFAULT_MARGIN",
    "MAX_EXAMINED",
    "MIN_THRESHOLD",
    "CropBox",
    "Detection",
    "Subject",
    "crop_frames",
    "crop_subject",
    "find_boxes",
    "require_face_detector",
]

Subject = Literal["auto", "face", "motion"]
SUBJECTS: tuple[str, ...] = ("auto", "face", "motion")

#: Room around the detected box, per side, as a fraction of its longer side: a face box
#: (brows to mouth) grows to the whole head, a body box keeps some floor and air.
DEFAULT_MARGIN = 0.25
#: Frames a detector examines at most, spread evenly over the clip.
MAX_EXAMINED = 48
#: Detection resolution: frames are shrunk so that their shorter side is at most this.
ANALYSIS_SIDE = 320
#: Smallest foreground threshold, in [-1, 1] units (about 13 of 255): codec noise stays background.
MIN_THRESHOLD = 0.1
#: A face must be found in at least this share of the examined frames to be the subject.
MIN_FACE_SHARE = 1 / 3

_MAD_SIGMAS = 6.0  # the foreground threshold: median + this many robust standard deviations
_STAT_SAMPLE = 1 << 16  # pixels the threshold's median and MAD are taken from
_TRIM = 0.01  # each frame's motion box keeps the central 1 - 2 * _TRIM of its foreground pixels
_SMOOTH = 5  # median-filter window of the face track, in detections
_CASCADE = "haarcascade_frontalface_default.xml"
_INSTALL = "pip install 'vidgan-kit[crop]'"


@dataclass(frozen=True)
class Detection:
    """One raw detection in frame ``frame``: a box in source pixels."""

    frame: int
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class CropBox:
    """The square a clip is cropped to: left ``x``, top ``y`` and side ``size``, in source pixels.

    ``detector`` is what found the subject (``face``, ``motion``, or ``centre`` when
    nothing was found and the centred square is used), ``detections`` its raw per-frame
    boxes, ``examined`` how many frames it looked at, and ``note`` why ``auto`` passed
    over a detector.
    """

    x: int
    y: int
    size: int
    detector: Literal["face", "motion", "centre"]
    frame_height: int
    frame_width: int
    detections: tuple[Detection, ...] = ()
    examined: int = 0
    margin: float = DEFAULT_MARGIN
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (what ``vidgan data crop`` writes to ``crops.json``)."""
        return asdict(self) | {"detections": [asdict(d) for d in self.detections]}


# -- shared steps ----------------------------------------------------------------------------


def _check_clip(frames: torch.Tensor, name: str = "frames") -> None:
    if not isinstance(frames, torch.Tensor) or frames.dim() != 4 or frames.shape[1] not in (1, 3):
        shape = tuple(frames.shape) if isinstance(frames, torch.Tensor) else type(frames).__name__
        raise ShapeError(f"{name}: expected a clip [T, C, H, W] with C = 1 or 3 (an image is image[None]), got {shape}")
    if not frames.is_floating_point():
        raise ShapeError(f"{name}: expected floating-point frames in [-1, 1], got dtype {frames.dtype}")
    if frames.shape[0] == 0 or frames.shape[2] == 0 or frames.shape[3] == 0:
        raise ShapeError(f"{name}: the clip is empty, shape {tuple(frames.shape)}")


def _examined(frames: torch.Tensor) -> tuple[list[int], torch.Tensor, float]:
    """(indices of the examined frames, those frames at the analysis size, source pixels per analysis pixel)."""
    t, _, h, w = frames.shape
    picks = sorted({round(i) for i in torch.linspace(0, t - 1, min(t, MAX_EXAMINED)).tolist()})
    small = frames[picks].detach().to("cpu", torch.float32)
    scale = max(1.0, min(h, w) / ANALYSIS_SIDE)
    if scale > 1.0:
        small = resize_video(small, max(1, round(h / scale)), max(1, round(w / scale)), mode="stretch")
        scale = h / small.shape[-2]
    return picks, small, scale


def _square(box: tuple[float, float, float, float], margin: float, height: int, width: int) -> tuple[int, int, int]:
    """``(x, y, size)``: the square around ``box = (x0, y0, x1, y1)`` padded by ``margin``, inside the frame."""
    x0, y0, x1, y1 = box
    limit = min(height, width)
    side = int(min(limit, max(1, round(max(x1 - x0, y1 - y0) * (1 + 2 * margin)))))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    x = int(min(max(round(cx - side / 2), 0), width - side))
    y = int(min(max(round(cy - side / 2), 0), height - side))
    return x, y, side


# -- the face detector -----------------------------------------------------------------------


@functools.cache
def _cascade() -> Any:
    try:
        import cv2
    except ImportError:
        raise VidganError(f"face detection needs OpenCV (opencv-python-headless); install it with {_INSTALL}, "
                          "or crop by motion (subject 'motion')") from None
    if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
        raise VidganError(
            f"OpenCV {cv2.__version__} has no Haar cascades (OpenCV 5 moved them out of opencv-python-headless); "
            f"{_INSTALL} installs a 4.x release that ships them, or crop by motion (subject 'motion')"
        )
    path = f"{cv2.data.haarcascades}{_CASCADE}"
    classifier = cv2.CascadeClassifier(path)
    if classifier.empty():
        raise VidganError(f"OpenCV {cv2.__version__} could not load its face cascade {path!r}; "
                          f"reinstall it with {_INSTALL}")
    return classifier


def require_face_detector() -> None:
    """Raise a :class:`VidganError` naming the extra to install unless face detection works."""
    _cascade()


def _median_filter(values: torch.Tensor, window: int) -> torch.Tensor:
    """Each row replaced by the median of the ``window`` rows around it (shorter at the ends)."""
    half = window // 2
    n = len(values)
    return torch.stack([values[max(0, i - half) : min(n, i + half + 1)].median(dim=0).values for i in range(n)])


def _face_box(frames: torch.Tensor) -> tuple[tuple[float, float, float, float] | None, list[Detection], int, str]:
    """(union of the smoothed face boxes or None, raw detections, frames examined, why not)."""
    cascade = _cascade()
    picks, small, scale = _examined(frames)
    rgb = tensor_to_uint8(small).astype(np.float32)
    grey = np.rint(rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).astype(np.uint8)  # ITU-R BT.601 luma
    found: list[Detection] = []
    for index, image in zip(picks, grey):
        faces = cascade.detectMultiScale(image, scaleFactor=1.1, minNeighbors=5, minSize=(20, 20))
        if len(faces):
            fx, fy, fw, fh = max((tuple(int(v) for v in f) for f in faces), key=lambda f: f[2] * f[3])
            found.append(Detection(index, round(fx * scale), round(fy * scale), round(fw * scale), round(fh * scale)))
    if len(found) < MIN_FACE_SHARE * len(picks):
        why = f"a face in {len(found)} of {len(picks)} examined frames (needs a third)"
        return None, found, len(picks), why
    boxes = torch.tensor([[d.x, d.y, d.x + d.width, d.y + d.height] for d in found], dtype=torch.float64)
    smooth = _median_filter(boxes, _SMOOTH)
    x0, y0 = smooth[:, 0].min().item(), smooth[:, 1].min().item()
    x1, y1 = smooth[:, 2].max().item(), smooth[:, 3].max().item()
    return (x0, y0, x1, y1), found, len(picks), ""


# -- the motion detector ---------------------------------------------------------------------


def _spans(counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row of ``counts`` [N, L]: the first and one-past-last index of its central 1 - 2 * _TRIM mass."""
    cdf = counts.cumsum(dim=1) / counts.sum(dim=1, keepdim=True).clamp_min(1)
    lo = torch.searchsorted(cdf, torch.full((len(counts), 1), _TRIM, dtype=cdf.dtype)).squeeze(1)
    hi = torch.searchsorted(cdf, torch.full((len(counts), 1), 1 - _TRIM, dtype=cdf.dtype)).squeeze(1)
    return lo, (hi + 1).clamp_max(counts.shape[1])


def _motion_box(frames: torch.Tensor) -> tuple[tuple[float, float, float, float] | None, list[Detection], int, str]:
    """(union of the frames' foreground boxes or None, per-frame boxes, frames examined, why not)."""
    picks, small, scale = _examined(frames)
    if len(picks) < 2:
        return None, [], len(picks), "one frame has no motion"
    background = small.median(dim=0).values
    diff = (small - background).abs().amax(dim=1)  # [S, h, w]
    sample = diff.flatten()[:: max(1, diff.numel() // _STAT_SAMPLE)]  # the statistics need no more pixels
    centre = sample.median()
    mad = (sample - centre).abs().median()
    threshold = max(MIN_THRESHOLD, (centre + _MAD_SIGMAS * 1.4826 * mad).item())
    mask = (diff > threshold).float()[:, None]
    opened = F.max_pool2d(-F.max_pool2d(-mask, 3, 1, 1), 3, 1, 1)[:, 0]  # erode then dilate: specks go
    rows, cols = opened.sum(dim=2), opened.sum(dim=1)  # [S, h], [S, w]
    moving = rows.sum(dim=1) > 0
    if not moving.any():
        return None, [], len(picks), f"no pixel differs from the clip's median frame by more than {threshold:.2f}"
    y0, y1 = _spans(rows)
    x0, x1 = _spans(cols)
    found = [
        Detection(picks[i], round(x0[i].item() * scale), round(y0[i].item() * scale),
                  round((x1[i] - x0[i]).item() * scale), round((y1[i] - y0[i]).item() * scale))
        for i in range(len(picks)) if moving[i]
    ]
    box = (x0[moving].min().item() * scale, y0[moving].min().item() * scale,
           x1[moving].max().item() * scale, y1[moving].max().item() * scale)
    return box, found, len(picks), ""


# -- the public functions --------------------------------------------------------------------


def find_boxes(frames: torch.Tensor, *, subject: Subject = "auto", margin: float = DEFAULT_MARGIN) -> CropBox:
    """The one square box that holds the subject of ``frames`` ``[T, C, H, W]`` in [-1, 1] for the whole clip.

    ``subject = "face"`` or ``"motion"`` uses that detector and raises :class:`DataError`
    when it finds nothing; ``"auto"`` tries the face detector (when OpenCV's cascades are
    installed), then motion, then the centred square, and records its reasons in the
    box's ``note``. ``margin`` pads the detected box on each side by that fraction of its
    longer side.
    """
    _check_clip(frames)
    if subject not in SUBJECTS:
        raise ValueError(f"subject must be one of {', '.join(SUBJECTS)}, got {subject!r}")
    if not (margin >= 0 and math.isfinite(margin)):
        raise ValueError(f"margin must be a finite fraction >= 0, got {margin}")
    _, _, h, w = frames.shape
    notes: list[str] = []
    for name, detect in (("face", _face_box), ("motion", _motion_box)):
        if subject not in ("auto", name):
            continue
        if name == "face" and subject == "auto":
            try:
                _cascade()
            except VidganError:
                notes.append(f"face: OpenCV's Haar cascades are not installed ({_INSTALL})")
                continue
        box, found, examined, why = detect(frames)
        if box is not None:
            x, y, size = _square(box, margin, h, w)
            return CropBox(x, y, size, name, h, w, tuple(found), examined, margin, "; ".join(notes))  # type: ignore[arg-type]
        if subject == name:
            raise DataError(f"the {name} detector found no subject: {why}")
        notes.append(f"{name}: {why}")
    side = min(h, w)
    return CropBox((w - side) // 2, (h - side) // 2, side, "centre", h, w, (), 0, margin, "; ".join(notes))


def crop_frames(frames: torch.Tensor, box: CropBox, size: int) -> torch.Tensor:
    """``frames`` ``[T, C, H, W]`` cropped to ``box`` and resized to ``[T, C, size, size]`` (antialiased)."""
    _check_clip(frames)
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    _, _, h, w = frames.shape
    if box.size < 1 or box.x < 0 or box.y < 0 or box.x + box.size > w or box.y + box.size > h:
        raise ShapeError(f"crop box x={box.x}, y={box.y}, size={box.size} does not lie inside the {w}x{h} frames")
    crop = frames[:, :, box.y : box.y + box.size, box.x : box.x + box.size]
    return resize_video(crop, size, size, mode="stretch")


def crop_subject(
    frames: torch.Tensor, size: int, *, subject: Subject = "auto", margin: float = DEFAULT_MARGIN
) -> tuple[torch.Tensor, CropBox]:
    """Find the subject of ``frames`` (:func:`find_boxes`) and crop to it (:func:`crop_frames`)."""
    box = find_boxes(frames, subject=subject, margin=margin)
    return crop_frames(frames, box, size), box
