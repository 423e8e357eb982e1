"""TFRecord framing, CRC-32C and tf.train.Example decoding, against files encoded by hand."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest

from vidgan_kit.errors import DataError
from vidgan_kit.io import crc32c, encode_example, masked_crc32c, parse_example, read_tfrecords, write_tfrecords

from .tfrecord_by_hand import crc32c_bitwise, example, field, masked, tfrecord_bytes, varint


def test_crc32c_matches_published_check_values() -> None:
    # RFC 3720 (iSCSI), appendix B.4, and the catalogue's check value for "123456789".
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    assert crc32c(bytes(range(31, -1, -1))) == 0x113FDB5C


@pytest.mark.parametrize("size", [0, 1, 5, 63, 2047, 2048, 2049, 4096 + 64 * 3 + 17, 9000])
def test_vectorised_crc32c_equals_the_bitwise_definition(size: int) -> None:
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    assert crc32c(data) == crc32c_bitwise(data)
    assert masked_crc32c(data) == masked(data)


def test_records_and_examples_read_exactly(tmp_path: Path) -> None:
    images = [bytes([t]) * 12 for t in range(3)]
    records = [example(images), b"", os.urandom(3000)]
    path = tmp_path / "a.tfrecords"
    path.write_bytes(tfrecord_bytes(records))
    assert list(read_tfrecords(path)) == records

    features = parse_example(records[0])
    assert features["2/image_aux1/encoded"] == [images[2]]
    np.testing.assert_array_equal(features["0/action"], np.float32([0.5, -1.0, 0.0, 2.0]))
    assert features["length"].dtype == np.int64 and features["length"].tolist() == [7, 300]
    # The writer's framing is byte-identical to the specification's.
    assert write_tfrecords(tmp_path / "b.tfrecords", records).read_bytes() == path.read_bytes()


def test_example_variants_negative_unpacked_and_unknown_fields() -> None:
    float_key = varint(1 << 3 | 5)  # field 1, wire type 5 (fixed32): one float per field
    unpacked_floats = field(2, float_key + struct.pack("<f", 1.5) + float_key + struct.pack("<f", -2.0))
    unpacked_ints = field(3, varint(1 << 3 | 0) + varint(-3) + varint(1 << 3 | 0) + varint(2**40))
    unknown = varint(9 << 3 | 0) + varint(42)  # a field this schema does not know: skipped
    entries = b"".join(
        field(1, field(1, name) + field(2, value))
        for name, value in [(b"f", unpacked_floats), (b"i", unpacked_ints), (b"empty", b"")]
    )
    features = parse_example(unknown + field(1, entries + unknown))
    assert features["f"].tolist() == [1.5, -2.0]
    assert features["i"].tolist() == [-3, 2**40]
    assert features["empty"] == []
    round_trip = parse_example(encode_example({"b": [b"x", b""], "i": [-1, 5], "f": np.float32([0.25])}))
    assert round_trip["b"] == [b"x", b""] and round_trip["i"].tolist() == [-1, 5] and round_trip["f"].tolist() == [0.25]


def test_corrupted_record_names_file_record_and_offset(tmp_path: Path) -> None:
    records = [b"first record", b"second record", b"third"]
    data = bytearray(tfrecord_bytes(records))
    second = 16 + len(records[0])  # byte offset of record 1
    data[second + 12 + 3] ^= 0x01  # flip one bit inside record 1's data
    path = tmp_path / "bad.tfrecords"
    path.write_bytes(bytes(data))
    reader = read_tfrecords(path)
    assert next(reader) == records[0]
    with pytest.raises(DataError, match=rf"bad\.tfrecords'?, record 1 \(byte offset {second}\): data CRC mismatch"):
        next(reader)
    assert len(list(read_tfrecords(path, verify=False))) == 3  # opting out reads it as is

    data = bytearray(tfrecord_bytes(records))
    data[0] ^= 0x01  # record 0's length field
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="record 0 .*length field's CRC"):
        list(read_tfrecords(path))

    path.write_bytes(tfrecord_bytes(records)[:-3])
    with pytest.raises(DataError, match="record 2 .*truncated"):
        list(read_tfrecords(path))


def test_malformed_example_is_a_data_error() -> None:
    with pytest.raises(DataError, match="not a tf.train.Example"):
        parse_example(field(1, b"\x0a\xff\x01"))  # a field that declares more bytes than remain
