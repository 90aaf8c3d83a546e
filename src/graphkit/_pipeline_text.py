"""The pipeline string the CLI and the code share: "fold-constants,fuse{rules=conv-bn}".

Parsing it needs no pass; building the passes it names needs the registry
(graphkit.passes.build_pipeline), and each pass's options come from its dataclass fields
(`instantiate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class PassSpec:
    name: str
    options: Mapping[str, str] = field(default_factory=dict)


def parse_pipeline(text: str) -> list[PassSpec]:
    """Parse the pipeline string the CLI and the code share."""
    specs: list[PassSpec] = []
    for item in _split_top_level(text):
        name, _, rest = item.partition("{")
        name = name.strip()
        if not name:
            raise ValueError(f"empty pass name in pipeline {text!r}")
        options: dict[str, str] = {}
        if rest:
            if not rest.endswith("}"):
                raise ValueError(f"pass '{name}': options must end with '}}' in {item!r}")
            for pair in filter(None, (p.strip() for p in rest[:-1].split(","))):
                key, sep, value = pair.partition("=")
                if not sep:
                    raise ValueError(f"pass '{name}': option {pair!r} is not key=value")
                options[key.strip()] = value.strip()
        specs.append(PassSpec(name, options))
    return specs


def _split_top_level(text: str) -> list[str]:
    items, depth, current = [], 0, []
    for char in text:
        if char == "," and depth == 0:
            items.append("".join(current))
            current = []
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def instantiate(cls: type[Any], options: Mapping[str, str]) -> Any:
    """Build a pass from string options, converting each to its dataclass field's type."""
    declared = {f.name.replace("_", "-"): f for f in fields(cls)} if _is_dataclass(cls) else {}
    kwargs: dict[str, Any] = {}
    for key, raw in options.items():
        if key not in declared:
            allowed = ", ".join(sorted(declared)) or "none"
            raise ValueError(f"pass '{cls.name}' has no option '{key}' (options: {allowed})")
        kwargs[declared[key].name] = _convert(raw, declared[key].type, cls.name, key)
    return cls(**kwargs)


def _is_dataclass(cls: type) -> bool:
    return hasattr(cls, "__dataclass_fields__")


def _convert(raw: str, annotation: Any, pass_name: str, key: str) -> Any:
    kind = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "str")
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if kind.startswith("bool"):
            if raw.lower() not in {"true", "false", "1", "0"}:
                raise ValueError(raw)
            return raw.lower() in {"true", "1"}
        if kind.startswith("tuple"):
            return tuple(part for part in raw.split("+") if part)
    except ValueError:
        raise ValueError(
            f"pass '{pass_name}': option '{key}' expects {kind}, got {raw!r}"
        ) from None
    return raw
