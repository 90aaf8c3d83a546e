"""TensorRT 11.5 as a difference from the 10.15 matrix, for tools/import_reference.py.

The reference CSV holds the 10.15 and 10.1 columns only, and the search index holds no 11.x
`docs/operators.md` of onnx/onnx-tensorrt; what 11.x changed comes from NVIDIA's release
notes, one source per fact (stated beside it). Every op not named here is as in 10.15.
"""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]

VERSION = "11.5"
# github.com/NVIDIA/TensorRT/releases/tag/v11.5: "Added support for ONNX opset 25 and updated
# the supported ONNX release to 1.22.0".
OPSET = [9, 25]
SOURCES = (
    "github.com/NVIDIA/TensorRT/releases/tag/v11.0 (Swish, TRT_Attention, TRT_MoE, "
    "TRT_KVCacheUpdate; deprecated plugins removed) and tag/v11.5 (opset 25, ONNX 1.22, "
    "Squeeze without axes)"
)

# v11.0, Parsers: Swish support. The 11.x matrix is not in the index, so the dtypes are
# those the 10.15 matrix gives the parser's other float activations (HardSwish, Sigmoid).
SWISH: Row = {"op": "Swish", "dtypes": ["float32", "float16", "bfloat16"]}

# v11.0, Parsers: custom operators. The release note names the ops, not their domain;
# "trt" is the domain NVIDIA's own exports write for TensorRT custom ops (an assumption the
# report states). No dtype list is published for them.
CUSTOM_OPS: list[Row] = [
    {"op": name, "domain": "trt", "status": "supported"}
    for name in ("TRT_Attention", "TRT_MoE", "TRT_KVCacheUpdate")
]

# v11.0, Plugins: "Removed deprecated plugins: batchTile, clip, coordConvAC, cropAndResize,
# gelu, leakyRelu, normalize, singleStepLSTM, specialSlice, split, nms, and proposal".
# Plugin directory -> the creator names the parser looks up (plugin/README.md of the 10.x
# tree). singleStepLSTM is left out: that README lists no creator name for it.
REMOVED_PLUGINS: dict[str, tuple[str, ...]] = {
    "batchTile": ("BatchTilePlugin_TRT",),
    "clip": ("Clip_TRT",),
    "coordConvAC": ("CoordConvAC",),
    "cropAndResize": ("CropAndResize",),
    "gelu": ("CustomGeluPluginDynamic",),
    "leakyRelu": ("LReLU_TRT",),
    "normalize": ("Normalize_TRT",),
    "specialSlice": ("SpecialSlice_TRT",),
    "split": ("Split",),
    "nms": ("NMS_TRT", "NMSDynamic_TRT"),
    "proposal": ("Proposal",),
}
PLUGIN_DOMAIN = "TRT"  # as passes/_nms_forms.py writes EfficientNMS_TRT, which 11.x keeps

# v11.5, Parsers: "Added support for Squeeze when axis input is omitted": before 11.5 a
# Squeeze-13+ must give its axes input.
SQUEEZE_AXES_INPUT_FROM = 13
SQUEEZE_NEEDS_AXES: Row = {
    "kind": "input-present",
    "inputs": [1],
    "message": "TensorRT before 11.5 needs Squeeze's axes input (11.5 reads Squeeze without it)",
}


def removed_plugin_entries(version: str) -> list[Row]:
    """One entry per removed plugin name: a plugin node on 10.x, a blocker on 11.x."""
    rows = []
    for plugin, names in REMOVED_PLUGINS.items():
        for name in names:
            row: Row = {"op": name, "domain": PLUGIN_DOMAIN}
            if version == VERSION:
                row["status"] = "unsupported"
                row["message"] = (f"TensorRT 11 removed the deprecated '{plugin}' plugin "
                                  f"({name}) from its plugin library")
            else:
                row["status"] = "supported"
            rows.append(row)
    return rows


def squeeze_entries(entry: Row, version: str) -> list[Row]:
    """Squeeze as 10.x reads it (axes input required from opset 13) or as 11.5 does."""
    if version == VERSION:
        return [entry]
    high = OPSET[1]
    older = {**entry, "opset": [1, SQUEEZE_AXES_INPUT_FROM - 1]}
    newer = {**entry, "opset": [SQUEEZE_AXES_INPUT_FROM, high],
             "checks": [*entry.get("checks", []), SQUEEZE_NEEDS_AXES]}
    return [older, newer]
