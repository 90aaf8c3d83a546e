"""onnxruntime's own registry, read live: its operator schemas and its CPU kernels.

The ORT target's analysis (graphkit.backends.ort.target) reads which kernel takes a node;
the runner reads which ops onnxruntime knows at all. It sits down here, beside the runner,
so that neither reaches into the other's layer.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

NO_END = 2**31 - 1  # onnxruntime's "no upper bound" on a kernel's version range


@dataclass(frozen=True)
class Kernel:
    start: int
    end: int
    constraints: Mapping[str, frozenset[str]]  # type parameter or formal name -> types

    def covers(self, since: int) -> bool:
        # onnxruntime: an open-ended kernel matches only its own start version.
        if self.end == NO_END:
            return self.start == since
        return self.start <= since <= self.end

    def rejects(self, bound: Mapping[str, str]) -> str | None:
        """The first constraint whose bound type this kernel does not take (None: accepts)."""
        for key, allowed in self.constraints.items():
            actual = bound.get(key)
            if actual is not None and actual not in allowed:
                return key
        return None


@dataclass(frozen=True)
class Formal:
    name: str
    type_str: str  # a type parameter ("T") or a fixed type ("tensor(int64)")
    variadic: bool


@dataclass(frozen=True)
class Schema:
    since: int
    inputs: tuple[Formal, ...]
    outputs: tuple[Formal, ...]
    deprecated: bool


@dataclass(frozen=True)
class OrtRegistry:
    """onnxruntime's schemas and CPU kernels, indexed by (domain, op)."""

    version: str
    schemas: Mapping[tuple[str, str], tuple[Schema, ...]]  # ascending `since`
    kernels: Mapping[tuple[str, str], tuple[Kernel, ...]]
    max_opset: Mapping[str, int]  # domain -> highest version any schema has

    def schema(self, domain: str, op: str, opset: int) -> Schema | None:
        found = None
        for schema in self.schemas.get((domain, op), ()):
            if schema.since > opset:
                break
            found = schema
        return found

    def kernels_for(self, domain: str, op: str, since: int) -> list[Kernel]:
        return [k for k in self.kernels.get((domain, op), ()) if k.covers(since)]


@functools.cache
def ort_registry() -> OrtRegistry:
    """Read once per process: the installed onnxruntime does not change while we run."""
    import onnxruntime
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_c

    schemas: dict[tuple[str, str], list[Schema]] = {}
    max_opset: dict[str, int] = {}
    for raw in ort_c.get_all_operator_schema():
        schemas.setdefault((raw.domain, raw.name), []).append(_schema(raw))
        max_opset[raw.domain] = max(max_opset.get(raw.domain, 0), raw.since_version)
    kernels: dict[tuple[str, str], list[Kernel]] = {}
    for raw in ort_c.get_all_opkernel_def():
        if raw.provider != "CPUExecutionProvider":
            continue
        start, end = raw.version_range
        constraints = {key: frozenset(types) for key, types in raw.type_constraints.items()}
        kernels.setdefault((raw.domain, raw.op_name), []).append(Kernel(start, end, constraints))
    return OrtRegistry(
        version=onnxruntime.__version__,
        schemas={key: tuple(sorted(v, key=lambda s: s.since)) for key, v in schemas.items()},
        kernels={key: tuple(v) for key, v in kernels.items()},
        max_opset=max_opset,
    )


def _schema(raw) -> Schema:
    variadic = raw.FormalParameterOption.Variadic

    def formals(params) -> tuple[Formal, ...]:
        return tuple(Formal(p.name, p.typeStr, p.option == variadic) for p in params)

    return Schema(raw.since_version, formals(raw.inputs), formals(raw.outputs), raw.deprecated)
