"""Reference prose -> structured checks, curated by hand for tools/import_reference.py.

Keyed by (op, the constraint text exactly as the reference CSV words it). The import tool
fails when a CSV row carries text this table does not know, so a refreshed reference
whose wording changed is re-read by a person instead of silently losing a check.
An empty list means the text is carried as no check, for the reason given beside it.
"""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]


def const(*inputs: int, **extra: Any) -> Row:
    return {"kind": "const-input", "inputs": list(inputs), **extra}


def rank(low: int, high: int, *inputs: int) -> Row:
    return {"kind": "rank", "inputs": list(inputs or (0,)), "min": low, "max": high}


def attr(name: str, *values: Any, **when: Any) -> Row:
    row: Row = {"kind": "attr-in", "attr": name, "values": list(values)}
    if when:
        row["when"] = when
    return row


def note(message: str, severity: str = "warning") -> Row:
    return {"kind": "note", "message": message, "severity": severity}


DILATIONS_1 = {"kind": "attr-all-in", "attr": "dilations", "values": [1]}
POOL_2D_3D = [rank(4, 5), DILATIONS_1]
AXES_CONST = [const(1)]
SAME_ACTIVATIONS = [{"kind": "same-direction-activations"}]
# TensorRT quantizes symmetrically: a Q/DQ with a zero point is a limit of its quantization,
# not a missing constant (GK105 would send fix to fold-constants, which cannot help).
SYMMETRIC = {
    "kind": "input-zero",
    "inputs": [2],
    "code": "GK110",
    "message": "TensorRT quantizes symmetrically: the zero point must be 0",
}

TENSORRT: dict[tuple[str, str], list[Row]] = {
    (
        "Attention",
        "Q/K/V/attn_mask must be rank 4; inputs past_key, past_value, nonpad_kv_seqlen "
        "unsupported; outputs present_key, present_value, qk_matmul_output unsupported; attrs "
        "qk_matmul_output_mode and softcap unsupported; head counts taken from dim 1 of Q and "
        "of K/V",
    ): [
        rank(4, 4, 0, 1, 2, 3),
        {"kind": "input-absent", "inputs": [4, 5, 6]},
        {"kind": "output-unused", "outputs": [1, 2, 3]},
        attr("qk_matmul_output_mode", 0),
        attr("softcap", 0.0),
    ],
    ("AveragePool", "2D or 3D only; dilations unset or all 1"): POOL_2D_3D,
    ("Constant", "attrs sparse_value, value_string, value_strings unsupported"): [
        {"kind": "attr-absent", "attrs": ["sparse_value", "value_string", "value_strings"]},
    ],
    ("CumSum", "axis must be a build-time constant"): [const(1)],
    ("CumSum", "axis must be an initializer"): [const(1)],
    ("DeformConv", "1D or 2D spatial only; begin and end pads must match per spatial axis"): [
        rank(3, 4),
        {"kind": "pads-symmetric"},
    ],
    ("DequantizeLinear", "x_zero_point must be 0"): [SYMMETRIC],
    ("QuantizeLinear", "y_zero_point must be 0"): [SYMMETRIC],
    ("Dropout", "is_training must be an initializer equal to false"): [
        {"kind": "input-zero", "inputs": [2]},
    ],
    ("EyeLike", "input must have static shape"): [{"kind": "static-shape", "inputs": [0]}],
    ("GridSample", "input must be rank 4"): [rank(4, 4)],
    ("GRU", "bidirectional: forward and reverse activations must be identical"): SAME_ACTIVATIONS,
    ("RNN", "bidirectional: forward and reverse activations must be identical"): SAME_ACTIVATIONS,
    (
        "LSTM",
        "bidirectional: forward and reverse activations must be identical; input_forget must "
        "be 0; layout must be 0",
    ): SAME_ACTIVATIONS + [attr("input_forget", 0), attr("layout", 0)],
    ("Hardmax", "size of the axis dimension must be a build-time constant"): [
        {"kind": "static-axis-dim", "input": 0, "attr": "axis"},
    ],
    ("If", "both branches' outputs must have equal rank and distinct names"): [
        note("TensorRT needs both branches' outputs to have equal rank and distinct names", "info"),
    ],
    ("LayerNormalization", "only output Y (first output) supported"): [
        {"kind": "output-unused", "outputs": [1, 2]},
    ],
    (
        "Loop",
        "scan-output length must be static; loop-carried values must keep the same shape "
        "every iteration",
    ): [
        note(
            "TensorRT needs static scan-output lengths and loop-carried shapes that do not "
            "change between iterations",
            "info",
        ),
    ],
    ("LpPool", "dilations unset or all 1"): [DILATIONS_1],
    ("MaxPool", "2D or 3D only; Indices output unsupported; dilations unset or all 1"): POOL_2D_3D
    + [{"kind": "output-unused", "outputs": [1]}],
    ("OneHot", "depth must be a build-time constant"): [const(1)],
    ("Pad", "axes input must be an initializer"): [const(3)],
    ("Slice", "axes input must be an initializer"): [const(3)],
    (
        "Resize",
        "coordinate_transformation_mode in {half_pixel, pytorch_half_pixel, "
        "tf_half_pixel_for_nn, asymmetric, align_corners}; mode in {nearest, linear}; "
        "nearest_mode in {floor, ceil, round_prefer_floor, round_prefer_ceil}; "
        "keep_aspect_ratio_policy=stretch only; "
        "if scales is a tensor input then axes must be 0..rank-1 in order; antialias unsupported",
    ): [
        attr(
            "coordinate_transformation_mode",
            "half_pixel",
            "pytorch_half_pixel",
            "tf_half_pixel_for_nn",
            "asymmetric",
            "align_corners",
        ),
        attr("mode", "nearest", "linear"),
        attr("nearest_mode", "floor", "ceil", "round_prefer_floor", "round_prefer_ceil"),
        attr("keep_aspect_ratio_policy", "stretch"),
        attr("antialias", 0),
        {
            "kind": "attr-absent",
            "attrs": ["axes"],
            "severity": "warning",
            "message": "with a scales input, TensorRT needs axes to list 0..rank-1 in order",
        },
    ],
    ("RotaryEmbedding", "position_ids must be INT64"): [
        {"kind": "dtype", "inputs": [3], "dtypes": ["int64"]},
    ],
    ("ScatterND", "reduction must be none"): [attr("reduction", "none")],
    ("ScatterND", "reduction unsupported"): [attr("reduction", "none")],
    ("Squeeze", "axes must be resolvable to a constant"): AXES_CONST,
    ("Squeeze", "axes input must be an initializer"): AXES_CONST,
    ("Unsqueeze", "axes must be resolvable to a constant"): AXES_CONST,
    ("Unsqueeze", "axes must be a constant tensor"): AXES_CONST,
    ("STFT", "frame_step and window must be initializers; real-valued input only"): [
        const(1, 2),
        note("TensorRT takes only a real-valued signal (last dimension 1)", "info"),
    ],
    ("TensorScatter", "past_cache and update must be rank 4; axis must be -2"): [
        rank(4, 4, 0, 1),
        attr("axis", -2),
    ],
    ("TopK", "sorted must be 1; K must be < 3840"): [
        attr("sorted", 1),
        {"kind": "input-max", "input": 1, "max": 3839},
    ],
    (
        "DynamicQuantizeLinear",
        "not supported as an op; can instead be written as a model-local "
        "function that maps to TensorRT's IDynamicQuantize",
    ): [],  # carried as the message
    **{
        (op, "axes input must be an initializer"): AXES_CONST
        for op in (
            "ReduceL1",
            "ReduceL2",
            "ReduceLogSum",
            "ReduceLogSumExp",
            "ReduceMax",
            "ReduceMean",
            "ReduceMin",
            "ReduceProd",
            "ReduceSum",
            "ReduceSumSquare",
        )
    },
    **{
        (op, "seed ignored"): [
            {
                "kind": "attr-absent",
                "attrs": ["seed"],
                "severity": "warning",
                "message": "TensorRT ignores the seed",
            }
        ]
        for op in ("RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike")
    },
}

# Checks the matrix does not state as a restriction but graphkit adds (the op imports, but
# deployment needs a rewrite).
TENSORRT_EXTRA: dict[str, list[Row]] = {
    "NonMaxSuppression": [
        {
            "kind": "note",
            "code": "GK109",
            "fix": "nms",
            "severity": "warning",
            "message": "imports as TensorRT's NMS layer with a data-dependent output size; "
            "the nms pass cuts the graph or swaps in a fixed-size NMS",
        }
    ],
}

# TensorRT dtype names -> the loader's names.
TRT_DTYPES = {
    "FP32": "float32",
    "FP16": "float16",
    "BF16": "bfloat16",
    "FP8": "float8",
    "FP4": "float4",
    "INT4": "int4",
    "INT8": "int8",
    "INT32": "int32",
    "INT64": "int64",
    "UINT8": "uint8",
    "BOOL": "bool",
}

# Ops whose first input is not the tensor the dtype list is about.
TRT_DTYPE_INPUTS: dict[str, list[int]] = {
    "Where": [1, 2],
    "BlackmanWindow": [],
    "HammingWindow": [],
    "HannWindow": [],
    "RandomNormalLike": [],
    "RandomUniformLike": [],
}

POOL_2D = [rank(4, 4)]
QDQ_CONST = [const(1, 2)]

MOBILE: dict[tuple[str, str, str], list[Row]] = {
    **{
        (ep, op, "2D pooling only"): POOL_2D
        for ep in ("nnapi", "coreml")
        for op in ("AveragePool", "GlobalAveragePool", "GlobalMaxPool", "MaxPool")
    },
    **{
        ("mlprogram", op, "2D pooling only (3D/5D not implemented)"): POOL_2D
        for op in ("AveragePool", "GlobalAveragePool", "GlobalMaxPool", "MaxPool")
    },
    ("nnapi", "Conv", "2D conv only; weight and bias must be constant"): [rank(4, 4), const(1, 2)],
    ("coreml", "Conv", "1D or 2D conv only; weight and bias must be constant"): [
        rank(3, 4),
        const(1, 2),
    ],
    ("mlprogram", "Conv", "1D or 2D conv only; bias (if given) must be constant"): [
        rank(3, 4),
        const(2),
    ],
    ("nnapi", "DepthToSpace", "mode DCR only"): [attr("mode", "DCR")],
    ("coreml", "DepthToSpace", "mode DCR only"): [attr("mode", "DCR")],
    ("mlprogram", "DepthToSpace", "mode CRD requires a static input shape"): [
        {"kind": "static-shape", "inputs": [0], "when": {"mode": "CRD"}}
    ],
    ("nnapi", "DequantizeLinear", "scales and zero points must be constant"): QDQ_CONST,
    ("nnapi", "QuantizeLinear", "scales and zero points must be constant"): QDQ_CONST,
    ("nnapi", "Gather", "indices must be constant unless they are int32"): [
        const(1, unless_dtypes=["int32"])
    ],
    ("coreml", "Gather", "scalar indices unsupported"): [rank(1, 1 << 20, 1)],
    ("nnapi", "Gemm", "if B is not constant then transB must be 1"): [const(1, when={"transB": 0})],
    ("coreml", "Gemm", "B must be constant"): [const(1)],
    ("coreml", "MatMul", "B must be constant"): [const(1)],
    ("mlprogram", "Gemm", "B must be constant"): [const(1)],
    (
        "nnapi",
        "Pad",
        "mode=constant only; pads and constant_value must be constant; pads must be >= 0",
    ): [attr("mode", "constant"), const(1, 2), {"kind": "input-nonneg", "inputs": [1]}],
    (
        "coreml",
        "Pad",
        "mode=constant only; only the last two dims may be padded; pads and "
        "constant_value must be constant; axes (if given) must be constant",
    ): [attr("mode", "constant"), {"kind": "pad-last-two-dims"}, const(1, 2, 3)],
    (
        "nnapi",
        "QLinearConv",
        "2D conv only; weight and bias must be constant; scales and zero points must be constant",
    ): [rank(4, 4), const(1, 2, 3, 4, 5, 6, 7, 8)],
    ("nnapi", "QLinearMatMul", "scales and zero points must be constant"): [
        const(1, 2, 4, 5, 6, 7)
    ],
    ("nnapi", "QLinearAdd", "scales and zero points must be constant"): [const(1, 2, 4, 5, 6, 7)],
    ("nnapi", "QLinearAveragePool", "2D pooling only; scales and zero points must be constant"): [
        rank(4, 4),
        const(1, 2, 3, 4),
    ],
    ("nnapi", "QLinearSigmoid", "scales and zero points must be constant"): [const(1, 2, 3, 4)],
    ("nnapi", "Resize", "2D resize only"): [rank(4, 4)],
    (
        "nnapi",
        "Split",
        "split count must divide the axis size evenly; split input (if given) must be constant",
    ): [{"kind": "split-even"}, const(1)],
    ("coreml", "Split", "split sizes (if given) must be constant"): [const(1)],
    ("mlprogram", "Split", "split sizes (if given) must be constant"): [const(1)],
    ("nnapi", "Squeeze", "axes input must be constant"): [const(1)],
    ("nnapi", "Unsqueeze", "axes input must be constant"): [const(1)],
    ("coreml", "Pow", "both inputs must be float32"): [
        {"kind": "dtype", "inputs": [0, 1], "dtypes": ["float32"]}
    ],
    ("mlprogram", "Pow", "both inputs must be float32"): [
        {"kind": "dtype", "inputs": [0, 1], "dtypes": ["float32"]}
    ],
    ("coreml", "PRelu", "slope must be constant with shape [C,1,1] or a single element"): [
        const(1),
        {"kind": "slope-per-channel"},
    ],
    (
        "coreml",
        "Resize",
        "rank-4 input; coordinate_transformation_mode=asymmetric; mode linear or "
        "nearest; nearest_mode=floor; exclude_outside=0; scales or sizes must be constant",
    ): [
        rank(4, 4),
        attr("coordinate_transformation_mode", "asymmetric"),
        attr("mode", "linear", "nearest"),
        attr("nearest_mode", "floor", mode="nearest"),
        attr("exclude_outside", 0),
        const(2, 3),
    ],
    ("coreml", "Shape", "non-default start unsupported; end attribute unsupported"): [
        attr("start", 0),
        {"kind": "attr-absent", "attrs": ["end"]},
    ],
    ("coreml", "Slice", "starts, ends, axes, steps must be constant; empty result unsupported"): [
        const(1, 2, 3, 4),
        note("the CoreML EP rejects a Slice whose result is empty", "info"),
    ],
    ("mlprogram", "Slice", "starts, ends, axes, steps must be constant initializers"): [
        const(1, 2, 3, 4)
    ],
    ("mlprogram", "And", "both inputs must be bool"): [
        {"kind": "dtype", "inputs": [0, 1], "dtypes": ["bool"]}
    ],
    (
        "mlprogram",
        "ConvTranspose",
        "weight and bias must be constant; auto_pad SAME_UPPER/SAME_LOWER "
        "unsupported; kernel_shape must be left default; output_shape unsupported; "
        "output_padding must "
        "be left default",
    ): [
        const(1, 2),
        attr("auto_pad", "NOTSET", "VALID"),
        {"kind": "attr-absent", "attrs": ["kernel_shape", "output_shape"]},
        {"kind": "attr-all-in", "attr": "output_padding", "values": [0]},
    ],
    ("mlprogram", "GatherND", "batch_dims must be 0"): [attr("batch_dims", 0)],
    # The source's 'linear or zeros' mixes mode and padding_mode, so only the explicit
    # combination it rules out is checked.
    (
        "mlprogram",
        "GridSample",
        "rank-4 input; source lists allowed values 'linear' or 'zeros' for "
        "mode; combination mode=linear + padding_mode=reflection + align_corners=0 unsupported",
    ): [
        rank(4, 4),
        {
            "kind": "never",
            "when": {"mode": "linear", "padding_mode": "reflection", "align_corners": 0},
            "message": "mode=linear with padding_mode=reflection and align_corners=0",
        },
    ],
    # MatMul has no transA/alpha/beta attributes: the note cannot apply to a MatMul node.
    (
        "mlprogram",
        "MatMul",
        "source note says only transA=0, alpha=1.0, beta=1.0 is implemented "
        "(Gemm-style attributes)",
    ): [],
    (
        "mlprogram",
        "Reciprocal",
        "CoreML op takes an epsilon (default 1e-4) that ONNX lacks; results may differ slightly",
    ): [note("CoreML's reciprocal adds an epsilon (1e-4): results may differ slightly from ONNX")],
    (
        "mlprogram",
        "Resize",
        "many attribute combinations; valid set defined by ORT coreml "
        "resize_op_builder.cc, not listed",
    ): [note("the attribute combinations the EP takes are not listed; not checked", "info")],
    (
        "mlprogram",
        "Tile",
        "repeats may be constant or a runtime tensor (runtime only in MLProgram); input rank <= 5",
    ): [rank(0, 5)],
    ("mlprogram", "Where", "X and Y must be float or float16"): [
        {"kind": "dtype", "inputs": [1, 2], "dtypes": ["float32", "float16"]}
    ],
    (
        "mlprogram",
        "FusedConv",
        "contrib op created by ORT ConvActivationFusion; lowered to conv "
        "plus activation (Relu, Sigmoid, Tanh, LeakyRelu, Clip, HardSigmoid)",
    ): [],
    (
        "mlprogram",
        "QuickGelu",
        "contrib op created by ORT QuickGeluFusion; lowered to mul/sigmoid/mul",
    ): [],
}
