"""Is every string in the model valid UTF-8?

ONNX's .proto is proto2, whose parser does not check strings: a name with invalid UTF-8
comes back from protobuf as `bytes`, not `str`, and onnx-ir keeps it so. Nothing fails at
load; the first join, print or save fails later with TypeError or onnx-ir's SerdeError. So
every string field is checked here, on the proto, naming where it is. STRING attributes are
`bytes` in the proto by design, but onnx-ir decodes them as UTF-8, so they are checked too.

One generic walk over the message fields: ~0.05 s on an 8,000-node graph. Tensor data is not
walked (only a tensor's own strings), so weights are never copied out of the proto.
"""

from __future__ import annotations

from collections.abc import Iterator

import onnx
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from graphkit.errors import InputError

_STRING = FieldDescriptor.TYPE_STRING
_MESSAGE = FieldDescriptor.TYPE_MESSAGE
_A = onnx.AttributeProto


def check_text(proto: onnx.ModelProto, origin: str) -> None:
    """Raise InputError naming the first string field that is not valid UTF-8."""
    _walk(proto, (), origin)


def _walk(message: Message, path: tuple[Message, ...], origin: str) -> None:
    path = (*path, message)
    for field, value in _fields(message):
        if field.type == _STRING:
            for text in value if field.is_repeated else (value,):
                if not isinstance(text, str):
                    _refuse(path, field.name, text, origin)
        elif field.type == _MESSAGE:
            for child in value if field.is_repeated else (value,):
                _walk(child, path, origin)
    if isinstance(message, _A) and message.type in {_A.STRING, _A.STRINGS}:
        for name, text in [("s", message.s), *(("strings", t) for t in message.strings)]:
            try:
                text.decode("utf-8")
            except UnicodeDecodeError:
                _refuse(path, name, text, origin)


def _fields(message: Message) -> Iterator[tuple[FieldDescriptor, object]]:
    if not isinstance(message, onnx.TensorProto):
        yield from message.ListFields()
        return
    # ListFields would copy raw_data out: only a tensor's own strings are read.
    descriptor = message.DESCRIPTOR.fields_by_name
    for name in ("name", "doc_string", "external_data", "metadata_props"):
        field = descriptor[name]
        value = getattr(message, name)
        if value:
            yield field, value


def _refuse(path: tuple[Message, ...], field: str, text: bytes, origin: str) -> None:
    where = " > ".join(filter(None, map(_label, path))) or "model"
    raise InputError(f"{origin}: {where}: {field} {text[:40]!r} is not valid UTF-8 text")


def _label(message: Message) -> str:
    """How a message on the path to the bad string is named in the message."""
    if isinstance(message, onnx.NodeProto):
        op = message.op_type
        return f"node {_text(message.name)} ({op if isinstance(op, str) else _text(op)})"
    if isinstance(message, onnx.GraphProto):
        return f"graph {_text(message.name)}"
    if isinstance(message, onnx.FunctionProto):
        return f"function {_text(message.name)}"
    kinds = {onnx.AttributeProto: "attribute", onnx.TensorProto: "tensor",
             onnx.ValueInfoProto: "value"}
    kind = kinds.get(type(message))
    return f"{kind} {_text(message.name)}" if kind else ""


def _text(name: object) -> str:
    return repr(name) if isinstance(name, str) else repr(bytes(name)[:40])  # type: ignore[arg-type]
