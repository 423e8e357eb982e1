"""Image and video files in and out of the toolkit's tensor layout.

Everything here speaks ``[T, C, H, W]`` (a clip) or ``[C, H, W]`` (an image), float32 RGB
in [-1, 1], the layout of :mod:`vidgan_kit.layout`; the uint8 ``[..., H, W, 3]`` arrays
that decoders produce appear only in the ``*_array`` functions, which data sets use to
avoid converting frames they will drop. Failures caused by the files themselves raise
:class:`~vidgan_kit.errors.DataError` naming the file. Writers are atomic.

:mod:`.tfrecord` reads and writes TFRecord files and ``tf.train.Example`` messages (the
container some data sets ship in) without TensorFlow.

This package knows nothing about models or data sets: data sets (in plugins), inference
and the trainer's previews all build on it.
"""

from __future__ import annotations

from ._common import tensor_to_uint8, uint8_to_tensor
from .grid import frame_grid, video_grid
from .image import (
    IMAGE_EXTENSIONS,
    image_size,
    pil_to_rgb_array,
    probe_image,
    read_image,
    read_image_array,
    write_image,
)
from .resize import FitMode, resize_video
from .tfrecord import crc32c, encode_example, masked_crc32c, parse_example, read_tfrecords, write_tfrecords
from .video import (
    VIDEO_EXTENSIONS,
    VIDEO_WRITERS,
    VideoInfo,
    VideoWriter,
    iter_video_arrays,
    probe_video,
    read_video,
    read_video_array,
    write_video,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "VIDEO_WRITERS",
    "FitMode",
    "VideoInfo",
    "VideoWriter",
    "crc32c",
    "encode_example",
    "frame_grid",
    "image_size",
    "iter_video_arrays",
    "masked_crc32c",
    "parse_example",
    "pil_to_rgb_array",
    "probe_image",
    "probe_video",
    "read_image",
    "read_image_array",
    "read_tfrecords",
    "read_video",
    "read_video_array",
    "resize_video",
    "tensor_to_uint8",
    "uint8_to_tensor",
    "video_grid",
    "write_image",
    "write_tfrecords",
    "write_video",
]
