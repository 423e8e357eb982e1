"""Images: round trips, every colour mode read as RGB, broken files named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vidgan_kit.errors import DataError
from vidgan_kit.io import image_size, probe_image, read_image, read_image_array, write_image


def test_png_round_trip_is_exact_to_8_bits(tmp_path: Path) -> None:
    image = torch.rand(3, 10, 14, generator=torch.Generator().manual_seed(0)) * 2 - 1
    back = read_image(write_image(tmp_path / "x.png", image))
    assert back.shape == (3, 10, 14)
    assert float((back - image).abs().max()) <= 1 / 127.5 / 2 + 1e-6
    assert image_size(tmp_path / "x.png") == (10, 14)


def test_jpeg_round_trip_is_close(tmp_path: Path) -> None:
    image = torch.linspace(-1, 1, 32).view(1, 1, 32).expand(3, 16, 32).contiguous()
    back = read_image(write_image(tmp_path / "x.jpg", image))
    assert float((back - image).abs().mean()) < 0.03


@pytest.mark.parametrize("mode", ["L", "RGBA", "LA", "P", "1", "CMYK"])
def test_every_mode_is_read_as_rgb(tmp_path: Path, mode: str) -> None:
    rgb = (np.arange(5 * 6 * 3).reshape(5, 6, 3) * 3 % 256).astype(np.uint8)
    Image.fromarray(rgb).convert(mode).save(tmp_path / "x.png" if mode != "CMYK" else tmp_path / "x.jpg")
    path = tmp_path / ("x.png" if mode != "CMYK" else "x.jpg")
    array = read_image_array(path)
    assert array.shape == (5, 6, 3) and array.dtype == np.uint8


def test_rgba_keeps_the_colour_and_drops_alpha(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(read_image_array(tmp_path / "a.png")[0, 0], [200, 0, 0])


def test_16_bit_grey_is_scaled_not_clipped(tmp_path: Path) -> None:
    grey = np.array([[0, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(grey).save(tmp_path / "g.png")
    out = read_image_array(tmp_path / "g.png")[0, :, 0]
    np.testing.assert_array_equal(out, [0, 128, 255])


def test_palette_with_transparency(tmp_path: Path) -> None:
    img = Image.new("P", (4, 4), 1)
    img.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    img.info["transparency"] = 0
    img.save(tmp_path / "p.png", transparency=0)
    np.testing.assert_array_equal(read_image_array(tmp_path / "p.png")[0, 0], [10, 200, 30])


def test_broken_images_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="missing.png.*does not exist"):
        read_image(tmp_path / "missing.png")
    write_image(tmp_path / "full.png", torch.rand(3, 64, 64) * 2 - 1)
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cut.png"):
        read_image(tmp_path / "cut.png")
    (tmp_path / "junk.png").write_bytes(b"junk" * 10)
    with pytest.raises(DataError, match="junk.png"):
        image_size(tmp_path / "junk.png")


def test_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"\.png"):
        write_image(tmp_path / "x.xyz", torch.zeros(3, 2, 2))


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_probe_image_catches_truncation_without_decoding(tmp_path: Path, ext: str) -> None:
    path = write_image(tmp_path / f"full{ext}", torch.rand(3, 32, 96) * 2 - 1)
    assert probe_image(path) == (32, 96)
    data = path.read_bytes()
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(data[: int(len(data) * 0.9)])
    assert image_size(cut) == (32, 96)  # the header alone looks fine
    with pytest.raises(DataError, match=f"cut{ext}.*truncated"):
        probe_image(cut)
