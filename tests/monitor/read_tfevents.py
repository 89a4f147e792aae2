#!/usr/bin/env python3
"""Reads a TensorBoard event file with nothing but the standard library, as a check of tandem's
writer that shares none of its code: TFRecord framing (uint64 length, masked CRC-32C of the length,
data, masked CRC-32C of the data; every CRC verified), and tensorflow.Event protos decoded from
protobuf's wire format by hand (event.proto, summary.proto).

Prints one JSON object: {"file_version": ..., "scalars": [[tag, step, value, wall_time], ...],
"session_starts": [step, ...]}. Exits 1, naming the record and byte offset, on a bad CRC, a cut
record or a proto it cannot decode.

usage: read_tfevents.py EVENTS_FILE
"""
import json
import struct
import sys


def _crc_table():
    # CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), one byte at a time: the table is built
    # bit by bit here, sharing nothing with tandem's slicing-by-8 tables.
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(buf: bytes, pos: int):
    value, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise ValueError("varint runs past the end")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def fields(buf: bytes):
    """(field_number, wire_type, value) of each field of one message."""
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"wire type {wire} of field {number}")
        if pos > len(buf):
            raise ValueError(f"field {number} runs past the end")
        yield number, wire, value


def read(path: str):
    out = {"file_version": None, "scalars": [], "session_starts": []}
    data = open(path, "rb").read()
    pos, record = 0, 0
    while pos < len(data):
        if pos + 12 > len(data):
            raise ValueError(f"record {record} at byte {pos}: header cut short")
        (length,) = struct.unpack_from("<Q", data, pos)
        (length_crc,) = struct.unpack_from("<I", data, pos + 8)
        if masked(crc32c(data[pos:pos + 8])) != length_crc:
            raise ValueError(f"record {record} at byte {pos}: the length's CRC does not match")
        body = data[pos + 12:pos + 12 + length]
        if len(body) != length or pos + 16 + length > len(data):
            raise ValueError(f"record {record} at byte {pos}: data cut short")
        (body_crc,) = struct.unpack_from("<I", data, pos + 12 + length)
        if masked(crc32c(body)) != body_crc:
            raise ValueError(f"record {record} at byte {pos}: the data's CRC does not match")
        wall_time, step, summary, session = 0.0, 0, None, None
        for number, wire, value in fields(body):
            if number == 1 and wire == 1:
                (wall_time,) = struct.unpack("<d", value)
            elif number == 2 and wire == 0:
                step = value
            elif number == 3 and wire == 2:
                out["file_version"] = value.decode()
            elif number == 5 and wire == 2:
                summary = value
            elif number == 6 and wire == 2:
                session = value
        if summary is not None:
            for number, wire, value in fields(summary):
                if number != 1 or wire != 2:
                    continue
                tag, simple = None, None
                for n, w, v in fields(value):
                    if n == 1 and w == 2:
                        tag = v.decode()
                    elif n == 2 and w == 5:
                        (simple,) = struct.unpack("<f", v)
                out["scalars"].append([tag, step, simple, wall_time])
        if session is not None:
            for n, w, v in fields(session):
                if n == 1 and w == 0 and v == 1:  # SessionLog.START
                    out["session_starts"].append(step)
        pos += 16 + length
        record += 1
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    try:
        print(json.dumps(read(sys.argv[1])))
    except (OSError, ValueError) as e:
        print(f"{sys.argv[1]}: {e}", file=sys.stderr)
        sys.exit(1)
