"""Reading and writing single images (Pillow), always as RGB in the toolkit's range.

Grey, palette, RGBA and 16-bit files are converted to 8-bit RGB on reading rather than
rejected: data sets mix them freely, and the models only ever see three channels.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import DataError, ShapeError
from ._common import atomic_output, existing_file, tensor_to_uint8, uint8_to_tensor

__all__ = [
    "IMAGE_EXTENSIONS",
    "read_image",
    "read_image_array",
    "image_size",
    "pil_to_rgb_array",
    "probe_image",
    "write_image",
]

#: Extensions recognised as still images (frames of a clip, strips, targets).
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm")

_PIL_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".bmp": "BMP",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".ppm": "PPM",
}


def pil_to_rgb_array(image: Image.Image) -> np.ndarray:
    """Any Pillow image → ``[H, W, 3]`` uint8 RGB.

    Alpha is dropped (not composited): data sets such as the Weizmann strips carry a
    constant alpha channel, and compositing onto an invented background would change the
    colours. 16-bit grey is scaled to 8 bits instead of being clipped to white.
    """
    mode = image.mode
    if mode == "RGB":
        return np.asarray(image, dtype=np.uint8)
    if mode.startswith("I"):  # 16/32-bit grey, as Pillow opens 16-bit PNGs
        grey = np.asarray(image).astype(np.float64) / 257.0
        grey = np.clip(np.round(grey), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    if mode == "F":
        raise DataError("floating-point images (mode 'F') are not supported; save them as 8-bit PNG")
    if mode in ("P", "PA") and "transparency" in image.info:
        image = image.convert("RGBA")  # Pillow's recommended route for palette transparency
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def read_image_array(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode an image file to ``[H, W, 3]`` uint8 RGB; :class:`DataError` names the file."""
    p = existing_file(path, "image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(p) as img:
                img.load()  # decode now, so a truncated file fails here and not later
                return pil_to_rgb_array(img)
    except DataError as exc:
        raise DataError(f"cannot use image {str(p)!r}: {exc}") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise DataError(f"cannot decode image {str(p)!r} (expected a readable image file): {exc}") from None


def read_image(path: str | os.PathLike[str]) -> torch.Tensor:
    """Read an image as ``[C, H, W]`` float32 RGB in [-1, 1]."""
    return uint8_to_tensor(read_image_array(path))


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(height, width)`` from the file's header, without decoding the pixels."""
    p = existing_file(path, "image file")
    try:
        with Image.open(p) as img:
            width, height = img.size
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"cannot read image {str(p)!r} (expected a readable image file): {exc}") from None
    return height, width


def _complete(path: Path, image_format: str | None) -> bool:
    """Whether the file ends the way its format requires (cheap: reads the last bytes)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 4096))
        tail = f.read()
    if image_format == "PNG":
        return tail.endswith(b"IEND\xaeB`\x82")
    if image_format == "JPEG":  # some cameras append data after the end marker: look near the end
        return b"\xff\xd9" in tail
    if image_format == "GIF":
        return tail.endswith(b"\x3b")
    return True


def probe_image(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(height, width)`` from the header, after checking that the file is not cut short.

    Decoding every image to validate it would make indexing a data set as slow as one
    epoch; PNG, JPEG and GIF files instead end with a fixed marker, which a truncated
    download lacks. Data sets call this once per file when they index a folder.
    """
    p = existing_file(path, "image file")
    try:
        with Image.open(p) as img:
            width, height = img.size
            image_format = img.format
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"cannot read image {str(p)!r} (expected a readable image file): {exc}") from None
    if not _complete(p, image_format):
        raise DataError(f"image {str(p)!r} is truncated: its {image_format} end marker is missing")
    return height, width


def write_image(path: str | os.PathLike[str], image: torch.Tensor) -> Path:
    """Write ``[C, H, W]`` (C = 1 or 3) in [-1, 1] to a PNG/JPEG/... chosen by the extension.

    The file appears atomically (written beside it, then renamed).
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in _PIL_FORMATS:
        raise DataError(
            f"cannot write image {str(p)!r}: unknown extension {ext or '(none)'!r}; "
            f"supported: {', '.join(_PIL_FORMATS)}"
        )
    if not isinstance(image, torch.Tensor) or image.dim() != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ShapeError(f"image: expected [C, H, W], got {shape}")
    array = tensor_to_uint8(image, "image")
    with atomic_output(p) as tmp:
        kwargs = {"quality": 95} if _PIL_FORMATS[ext] in ("JPEG", "WEBP") else {}
        Image.fromarray(array).save(tmp, format=_PIL_FORMATS[ext], **kwargs)
    return p
