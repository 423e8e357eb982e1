"""TFRecord files and tf.train.Example messages encoded by hand, for the reader's tests.

Written from the TFRecord and protobuf specifications, independently of
``vidgan_kit.io.tfrecord`` (CRC-32C bit by bit, no table; field by field encoding), so a
bug shared by the reader and a writer cannot hide.
"""

from __future__ import annotations

import struct


def crc32c_bitwise(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def masked(data: bytes) -> int:
    c = crc32c_bitwise(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(n: int) -> bytes:
    """Base-128 varint; negative numbers as their 64-bit two's complement (10 bytes)."""
    n &= (1 << 64) - 1
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def example(images: list[bytes], key: str = "{t}/image_aux1/encoded") -> bytes:
    """A tf.train.Example holding one raw image per step, plus actions (float) and a counter (int64)."""
    entries = b""
    for t, image in enumerate(images):
        bytes_feature = field(1, field(1, image))  # Feature.bytes_list = BytesList{value: [image]}
        entries += field(1, field(1, key.format(t=t).encode()) + field(2, bytes_feature))
        floats = field(2, field(1, struct.pack("<4f", 0.5, -1.0, 0.0, 2.0)))  # packed FloatList
        entries += field(1, field(1, f"{t}/action".encode()) + field(2, floats))
    ints = field(3, field(1, varint(7) + varint(300)))  # packed Int64List
    entries += field(1, field(1, b"length") + field(2, ints))
    return field(1, entries)  # Example.features = Features{feature: entries}


def tfrecord_bytes(records: list[bytes]) -> bytes:
    out = b""
    for record in records:
        length = struct.pack("<Q", len(record))
        out += length + struct.pack("<I", masked(length)) + record + struct.pack("<I", masked(record))
    return out
