"""Clips with a known subject for the cropping tests: a drawn face, a walking blob, and their backgrounds.

Drawn with torch alone (no OpenCV), in [-1, 1], ``[T, 3, H, W]``; each also returns where its
subject is in every frame, so a test can check that a crop holds it.
"""

from __future__ import annotations

import torch


def _rgb(r: int, g: int, b: int) -> torch.Tensor:
    return torch.tensor([r, g, b], dtype=torch.float32).div(127.5).sub(1.0)[:, None, None]


def _ellipse(h: int, w: int, cx: float, cy: float, rx: float, ry: float) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    return ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0


def _rect(h: int, w: int, x0: float, y0: float, x1: float, y1: float) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    return (xx >= x0) & (xx < x1) & (yy >= y0) & (yy < y1)


def moving_texture(frames: int, h: int, w: int, *, speed: float = 1.5) -> torch.Tensor:
    """A grey checker-like texture drifting right by ``speed`` px per frame (a panning camera)."""
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    clips = []
    for t in range(frames):
        v = 60 + 30 * torch.sin((xx - speed * t) / 7.0) + 20 * torch.cos(yy / 5.0)
        clips.append(v.div(127.5).sub(1.0).expand(3, h, w))
    return torch.stack(clips)


def draw_face(frame: torch.Tensor, cx: float, cy: float, r: float, *, features: bool = True) -> None:
    """Paint a frontal face of height ``2r`` centred at (cx, cy) into ``frame`` [3, H, W], in place.

    A skin-coloured oval with two dark eyes, brows, a nose ridge and a mouth: the light
    and dark regions a frontal-face Haar cascade looks for. ``features=False`` paints the
    bare oval (no face to a detector).
    """
    _, h, w = frame.shape
    frame[:, _ellipse(h, w, cx, cy, 0.8 * r, r)] = _rgb(200, 170, 150)[:, 0]
    if not features:
        return
    ey, ex = cy - 0.25 * r, 0.33 * r
    for side in (-1, 1):
        frame[:, _ellipse(h, w, cx + side * ex, ey, 0.17 * r, 0.08 * r)] = _rgb(40, 30, 30)[:, 0]
        brow = _rect(h, w, cx + side * ex - 0.2 * r, ey - 0.2 * r, cx + side * ex + 0.2 * r, ey - 0.12 * r)
        frame[:, brow] = _rgb(60, 40, 40)[:, 0]
    frame[:, _rect(h, w, cx - 0.04 * r, ey, cx + 0.04 * r, cy + 0.2 * r)] = _rgb(170, 140, 120)[:, 0]
    frame[:, _ellipse(h, w, cx, cy + 0.45 * r, 0.3 * r, 0.08 * r)] = _rgb(90, 40, 40)[:, 0]


def face_clip(frames: int = 16, h: int = 120, w: int = 160, *, r: float = 22.0, features: bool = True,
              start: float = 60.0, speed: float = 1.0) -> tuple[torch.Tensor, list[tuple[float, float, float, float]]]:
    """A face drifting right by ``speed`` px per frame over a texture drifting the other way.

    Returns the clip and, per frame, the face oval's box ``(x0, y0, x1, y1)``.
    """
    clip = moving_texture(frames, h, w, speed=-1.5)
    boxes = []
    for t in range(frames):
        cx, cy = start + speed * t, h / 2
        draw_face(clip[t], cx, cy, r, features=features)
        boxes.append((cx - 0.8 * r, cy - r, cx + 0.8 * r, cy + r))
    return clip, boxes


def walking_blob(frames: int = 20, h: int = 96, w: int = 128, *, noise: float = 0.03,
                 seed: int = 0) -> tuple[torch.Tensor, list[tuple[float, float, float, float]]]:
    """A tall "person" (head and body) walking right across a still, textured, noisy scene.

    Returns the clip and, per frame, the walker's box ``(x0, y0, x1, y1)``.
    """
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    scene = (0.2 * torch.sin(xx / 5.0) * torch.cos(yy / 9.0) - 0.3).expand(3, h, w)
    clip = scene.expand(frames, 3, h, w).clone()
    boxes = []
    for t in range(frames):
        x = 30 + 2.0 * t
        sway = 2 * (t % 4 >= 2)  # the legs alternate
        clip[t, :, _rect(h, w, x, 36, x + 12, 70)] = _rgb(210, 120, 60)[:, 0]  # body
        clip[t, :, _ellipse(h, w, x + 6, 29, 5, 6)] = _rgb(230, 190, 160)[:, 0]  # head
        clip[t, :, _rect(h, w, x + sway, 70, x + 4 + sway, 84)] = _rgb(40, 40, 120)[:, 0]  # legs
        clip[t, :, _rect(h, w, x + 8 - sway, 70, x + 12 - sway, 84)] = _rgb(40, 40, 120)[:, 0]
        boxes.append((x, 23, x + 14, 84))
    clip += noise * torch.randn(clip.shape, generator=g)
    return clip.clamp(-1, 1), boxes
