"""Building a serialized engine with the TensorRT Python API, where `tensorrt` and a GPU are.

The same build as build_engine.sh's trtexec line: the ONNX parser, a strongly typed network
(precision comes from the ONNX tensor types; TensorRT 11 has no other mode, 10.x needs the
flag), one optimization profile for the dynamic inputs, an optional workspace limit and an
optional timing cache that is read before and written after the build.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from graphkit._output import staged_file
from graphkit.backends.tensorrt.profiles import STATIC, InputProfile
from graphkit.errors import InputError, first_line


def build_engine(onnx_path: Path, engine_path: Path, profile: Sequence[InputProfile], *,
                 workspace_mib: int | None = None, timing_cache: Path | None = None
                 ) -> dict[str, Any]:
    """Write `engine_path`; return what the build used (TensorRT's version, flags)."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.ERROR)
    trt.init_libnvinfer_plugins(logger, "")  # EfficientNMS_TRT and the other plugins
    builder = trt.Builder(logger)
    network = builder.create_network(_strongly_typed_flag(trt))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = [first_line(parser.get_error(i)) for i in range(parser.num_errors)]
        first = errors[0] if errors else "no reason given"
        raise InputError(f"TensorRT's ONNX parser refused the model: {first}")
    config = builder.create_builder_config()
    if workspace_mib is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mib << 20)
    _add_profile(builder, config, profile)
    cache_bytes = timing_cache.read_bytes() if timing_cache and timing_cache.is_file() else b""
    config.set_timing_cache(config.create_timing_cache(cache_bytes), False)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise InputError("TensorRT could not build the engine (rerun with --debug for its log)")
    engine_path.write_bytes(bytes(plan))
    if timing_cache is not None:
        with staged_file(timing_cache) as staged:
            Path(staged).write_bytes(bytes(config.get_timing_cache().serialize()))
    return {"tensorrt_version": trt.__version__, "strongly_typed": True,
            "workspace_mib": workspace_mib, "timing_cache": str(timing_cache or "")}


def _strongly_typed_flag(trt: Any) -> int:
    """STRONGLY_TYPED where the enum has it (10.x needs it; 11.x accepts and ignores it)."""
    flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    return 0 if flag is None else 1 << int(flag)


def _add_profile(builder: Any, config: Any, profile: Sequence[InputProfile]) -> None:
    dynamic = [p for p in profile if p.source != STATIC]
    if not dynamic:
        return
    optimization = builder.create_optimization_profile()
    for entry in dynamic:
        optimization.set_shape(entry.name, entry.min, entry.opt, entry.max)
    config.add_optimization_profile(optimization)
