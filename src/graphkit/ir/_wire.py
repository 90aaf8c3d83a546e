"""The protobuf wire format, as far as graphkit reads and writes it by hand.

_stream writes a model's graph with its initializers streamed after it; _mapped finds where
the weights lie in a file without parsing it. Both need only keys, varints and
length-delimited fields: https://protobuf.dev/programming-guides/encoding/.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5


class WireError(Exception):
    """The bytes are not protobuf this reader handles (truncated, groups, a zero field)."""


@dataclass(frozen=True)
class Field:
    number: int
    wire: int
    key: int  # where the field's key starts
    start: int  # where its value starts (after the length, for length-delimited fields)
    end: int


def fields(view: memoryview, start: int, end: int) -> Iterator[Field]:
    """The fields of the message in view[start:end], in file order, without their values."""
    position = start
    while position < end:
        key, value_start = read_varint(view, position, end)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            _, value_end = read_varint(view, value_start, end)
        elif wire == FIXED64:
            value_end = value_start + 8
        elif wire == FIXED32:
            value_end = value_start + 4
        elif wire == LENGTH_DELIMITED:
            length, value_start = read_varint(view, value_start, end)
            value_end = value_start + length
        else:  # groups: no ONNX message has them
            raise WireError(f"wire type {wire} at byte {position}")
        if number == 0 or value_end > end:
            raise WireError(f"field {number} at byte {position} runs past its message")
        yield Field(number, wire, position, value_start, value_end)
        position = value_end


def read_varint(view: memoryview, position: int, end: int) -> tuple[int, int]:
    """The varint at `position` and where it ends."""
    value = shift = 0
    while position < end and shift < 64:
        byte = view[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
    raise WireError(f"a varint at byte {position} is cut short or too long")


def field_size(number: int, size: int) -> int:
    """Bytes a length-delimited field of `size` bytes takes, key and length included."""
    return len(key(number)) + len(varint(size)) + size


def key(number: int) -> bytes:
    """The key of length-delimited field `number`."""
    return varint(number << 3 | LENGTH_DELIMITED)


def varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        if not number:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)
