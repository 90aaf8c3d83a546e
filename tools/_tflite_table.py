"""graphkit's ONNX -> TFLite lowering table, as rows (tools/import_reference.py writes tflite.toml).

Conservative by design: an op is marked as lowering to builtins only where the builtin
(or a short exact composition of builtins) computes the ONNX semantics; ops whose only
lowering is a TensorFlow kernel in the Flex allowlist are `flex`; everything else is
unsupported, with the pass that removes it where one exists. dtype lists name what the
builtin kernels take (float16 is accepted because the converter computes it in float32);
float64 only in Cast and the ops that rearrange it (no arithmetic kernel takes it), so
elsewhere a float64 tensor reports GK202 with fix float64-to-float32.
Builtin names are checked against tflite_builtin_ops.csv, Flex names against the allowlist.
"""

from __future__ import annotations

from typing import Any

F = ["float32", "float16"]
FQ = F + ["int8", "uint8", "int16"]  # float kernels that also run quantized
ARITH = F + ["int32", "int64", "int8", "uint8", "int16"]
CMP = F + ["int32", "int64", "int8", "uint8", "int16"]
MOVE = F + ["int8", "uint8", "int16", "int32", "int64", "bool"]  # data movement
REARRANGE = MOVE + ["float64"]  # RESHAPE, SQUEEZE, EXPAND_DIMS, TRANSPOSE move float64 too
BOOL = ["bool"]
REDUCE = F + ["int32", "int64", "int8", "uint8"]

Row = dict[str, Any]
# LSTM, GRU and RNN unrolled over their time steps
UNROLLED = ["FULLY_CONNECTED", "UNPACK", "SPLIT", "LOGISTIC", "TANH", "RELU", "MUL", "ADD",
            "SUB", "PACK"]


def b(
    op: str, tflite: str | list[str], dtypes: list[str] | None = None, *checks: Row, **extra: Any
) -> Row:
    """An op that lowers to the named TFLite builtins."""
    names = [tflite] if isinstance(tflite, str) else tflite
    row: Row = {"op": op, "tflite": names}
    if dtypes is not None:
        row["dtypes"] = _with_narrow(dtypes)
    row.update(extra)
    if checks:
        row["checks"] = list(checks)
    return row


# the emitter computes these types in the wider one (CAST before and after: lowering/_widen.py)
NARROW = {"float32": ["float16"], "int32": ["int8", "uint8", "int16", "uint16"],
          "int64": ["uint32"]}


def _with_narrow(dtypes: list[str]) -> list[str]:
    found = list(dtypes)
    for wide, narrow in NARROW.items():
        if wide in dtypes:
            found += [d for d in narrow if d not in found]
    return found


def flex(
    op: str, tf_ops: list[str], dtypes: list[str] | None = None, *checks: Row, fix: str = ""
) -> Row:
    """An op only Select TF ops run; `fix`: the pass that rewrites it into builtin ops."""
    row: Row = {"op": op, "status": "flex", "flex": tf_ops}
    if dtypes is not None:
        row["dtypes"] = dtypes
    if fix:
        row["fix"] = fix
    if checks:
        row["checks"] = list(checks)
    return row


def no(op: str, message: str, fix: str | None = None) -> Row:
    row: Row = {"op": op, "status": "unsupported", "message": message}
    if fix:
        row["fix"] = fix
    return row


def const(*inputs: int) -> Row:
    return {"kind": "const-input", "inputs": list(inputs)}


def run_time(*inputs: int) -> Row:
    """Inputs the builtin reads as tensors at run time: refused only where they are, or come
    from, an initializer that is also a graph input (fix folds those)."""
    return {"kind": "const-input", "inputs": list(inputs), "run_time": True}


def rank(low: int, high: int, *inputs: int) -> Row:
    return {"kind": "rank", "inputs": list(inputs or (0,)), "min": low, "max": high}


def attr(name: str, *values: Any, message: str | None = None, **when: Any) -> Row:
    row: Row = {"kind": "attr-in", "attr": name, "values": list(values)}
    if when:
        row["when"] = when
    if message:
        row["message"] = message
    return row


def all_ones(name: str) -> Row:
    return {"kind": "attr-all-in", "attr": name, "values": [1]}


def unused(*outputs: int) -> Row:
    return {"kind": "output-unused", "outputs": list(outputs)}


# axes given at run time are taken (the reducers read them as a tensor); the emitter's
# lowering (_reduce.py) asks for their length when converting
REDUCE_CHECKS: tuple[Row, ...] = ()
# TFLite's quantization spec: int8 weights (Conv, FullyConnected) have zero point 0; its
# kernels ignore any other, so a Q/DQ weight with one cannot be taken as it is.
SYMMETRIC = {
    "kind": "symmetric-weight",
    "inputs": [1],
    "code": "GK110",
    "message": "TFLite's int8 weights are symmetric: the zero point must be 0",
}
NO_QUANT = (
    "quantized ONNX ops are not in graphkit's TFLite table; quantize with the TFLite converter"
)
QCONV = ["CAST", "SUB", "PAD", "TRANSPOSE", "SPLIT_V", "CONV_2D", "DEPTHWISE_CONV_2D", "ADD"]
QLINEAR = ["CAST", "SUB", "MUL", "DIV", "ROUND", "ADD", "MAXIMUM", "MINIMUM", "RESHAPE"]
NO_SEQ = "sequence and optional values have no TFLite builtin form"
BODY = "no builtin; lowered as its ONNX function body where every node of that body lowers"


def _elementwise() -> list[Row]:
    return [
        b("Abs", "ABS", F + ["int8", "int16", "int32"]),
        b("Acos", ["MUL", "SUB", "SQRT", "ATAN2"], F),  # atan2(sqrt(1 - x^2), x)
        b("Acosh", ["MUL", "SUB", "SQRT", "ADD", "LOG"], F),  # log(x + sqrt(x^2 - 1))
        b("Add", "ADD", ARITH),
        b("And", "LOGICAL_AND", BOOL),
        b("Asin", ["MUL", "SUB", "SQRT", "ATAN2"], F),  # atan2(x, sqrt(1 - x^2))
        b("Asinh", ["ABS", "MUL", "ADD", "SQRT", "LOG", "SIGN"], F),
        b("Atan", ["MUL", "ADD", "ATAN2"], F),  # atan2(x, 1)
        b("Atanh", ["ADD", "SUB", "DIV", "LOG", "MUL"], F),
        b(
            "BitShift",
            ["CAST", "GATHER", "MUL", "RIGHT_SHIFT", "SELECT_V2"],
            ["int8", "uint8", "int16", "uint16", "int32", "uint32"],
        ),
        b("BitCast", "BITCAST", F + ["int8", "int16", "int32", "int64", "uint8", "uint16",
                                     "uint32", "uint64", "bool"]),
        # a & b = (a + b - (a ^ b)) >> 1 on 16-bit halves (lowering/_bitwise.py)
        b("BitwiseAnd", ["BITCAST", "RIGHT_SHIFT", "MUL", "SUB", "ADD", "BITWISE_XOR"],
          ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]),
        b("BitwiseNot", "BITWISE_XOR", ["int8", "int16", "int32", "uint8", "uint16", "uint32"]),
        b("BitwiseOr", ["BITCAST", "RIGHT_SHIFT", "MUL", "SUB", "ADD", "BITWISE_XOR"],
          ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]),
        b("BitwiseXor", "BITWISE_XOR", ["int8", "int16", "int32", "uint8", "uint16", "uint32"]),
        b("Ceil", "CEIL", F),
        b("Celu", ["MAXIMUM", "MINIMUM", "DIV", "EXP", "SUB", "MUL", "ADD"], F),
        b(
            "Clip",
            ["RELU", "RELU6", "RELU_N1_TO_1", "MAXIMUM", "MINIMUM"],
            F + ["int8", "uint8", "int16", "int32", "int64"],
        ),
        b("Cos", "COS", F),
        b("Cosh", ["EXP", "NEG", "ADD", "MUL"], F),
        b("Div", "DIV", F + ["int32"]),
        b("Elu", "ELU", F + ["int8"]),
        b("Equal", "EQUAL", MOVE + ["string"]),
        # Abramowitz-Stegun 7.1.26: |error| < 1.5e-7, inside graphkit's validation tolerance.
        b("Erf", ["ABS", "SIGN", "MUL", "ADD", "DIV", "EXP", "SUB"], F),
        b("Exp", "EXP", F),
        b("Floor", "FLOOR", F),
        b("Gelu", "GELU", F),
        b("Greater", "GREATER", CMP),
        b("GreaterOrEqual", "GREATER_EQUAL", CMP),
        b("HardSigmoid", ["MUL", "ADD", "MAXIMUM", "MINIMUM"], F),
        b("HardSwish", "HARD_SWISH", FQ),
        b("IsInf", ["ABS", "EQUAL", "LESS", "GREATER", "LOGICAL_AND"], F),
        b("IsNaN", "NOT_EQUAL", F),  # x != x
        b("LeakyRelu", "LEAKY_RELU", FQ),
        b("Less", "LESS", CMP),
        b("LessOrEqual", "LESS_EQUAL", CMP),
        b("Log", "LOG", F),
        b("Max", "MAXIMUM", ARITH),
        b("Mean", ["ADD", "MUL"], F),
        b("Min", "MINIMUM", ARITH),
        b("Mish", ["EXP", "ADD", "LOG", "TANH", "MUL"], F),
        b(
            "Mod",
            ["FLOOR_MOD", "ABS", "NEG", "LESS", "NOT_EQUAL", "LOGICAL_AND", "SUB", "SELECT_V2"],
            F + ["int32", "int64"],
        ),
        b("Mul", "MUL", ARITH),
        b("Neg", "NEG", F + ["int8", "int32", "int64"]),
        b("Not", "LOGICAL_NOT", BOOL),
        b("Or", "LOGICAL_OR", BOOL),
        b("Pow", "POW", F + ["int32"]),
        b("PRelu", "PRELU", FQ),
        b("Reciprocal", "DIV", F),
        b("Relu", "RELU", FQ),
        b("Round", "ROUND", F),  # both round half to even
        b("Selu", ["EXP", "SUB", "MUL", "ADD", "MAXIMUM", "MINIMUM"], F),
        b("Shrink", ["LESS", "GREATER", "SELECT_V2", "ADD", "SUB"], F),
        b("Sigmoid", "LOGISTIC", FQ),
        b("Sign", "SIGN", F + ["int32"]),
        b("Sin", "SIN", F),
        b("Sinh", ["EXP", "NEG", "SUB", "MUL"], F),
        b("Softplus", ["EXP", "ADD", "LOG"], F),
        b("Softsign", ["ABS", "ADD", "DIV"], F),
        b("Sqrt", "SQRT", F),
        b("Sub", "SUB", ARITH),
        b("Sum", ["ADD", "ADD_N"], ARITH),
        b("Swish", ["LOGISTIC", "MUL"], F),
        b("Tan", ["SIN", "COS", "DIV"], F),
        b("Tanh", "TANH", FQ),
        b("ThresholdedRelu", ["GREATER", "SELECT_V2"], F),
        b("Xor", "NOT_EQUAL", BOOL),
    ]


def _nn() -> list[Row]:
    return [
        b(
            "ArgMax",
            ["ARG_MAX", "REVERSE_V2", "SUB", "RESHAPE"],
            F + ["int8", "uint8", "int32"],
        ),
        b(
            "ArgMin",
            ["ARG_MIN", "REVERSE_V2", "SUB", "RESHAPE"],
            F + ["int8", "uint8", "int32"],
        ),
        b(
            # 1-D as 2-D on height 1 (RESHAPE, as a 1-D Conv); 3-D, dilated, or counting
            # the padding in ceil mode: tap by tap (lowering/_pool_taps.py)
            "AveragePool",
            ["AVERAGE_POOL_2D", "PAD", "MUL", "RESHAPE", "PADV2", "STRIDED_SLICE", "ADD"],
            FQ,
            rank(3, 5),
            {
                "kind": "padded",
                "severity": "info",
                "when": {"count_include_pad": 0},
                "message": "padding is left out of the mean only where pads match TFLite SAME",
            },
        ),
        # statistics given at run time: factor and offset computed (RSQRT, MUL, SUB); in
        # training mode, the batch's (MEAN, SQUARED_DIFFERENCE)
        b("BatchNormalization", ["MUL", "ADD", "RSQRT", "SUB", "RESHAPE", "MEAN",
                                 "SQUARED_DIFFERENCE"], F, run_time(1, 2, 3, 4)),
        b(
            "Conv",
            ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_3D", "EXPAND_DIMS", "SQUEEZE", "PAD"],
            F + ["int8", "int16"],
            rank(3, 5),
            run_time(1),
            SYMMETRIC,
        ),
        b(
            "ConvTranspose",
            ["TRANSPOSE_CONV", "CONV_3D_TRANSPOSE", "ADD"],
            F,
            rank(3, 5),
            run_time(1),
            all_ones("dilations"),
            SYMMETRIC,
        ),
        b(
            "Gemm",
            ["FULLY_CONNECTED", "BATCH_MATMUL", "TRANSPOSE", "MUL", "ADD"],
            F + ["int8"],
            SYMMETRIC,
        ),
        b("GlobalAveragePool", "MEAN", FQ),
        b("GlobalLpPool", ["ABS", "POW", "SUM", "MUL", "SQRT"], F),
        b("GlobalMaxPool", "REDUCE_MAX", FQ),
        b(
            "GroupNormalization",
            ["RESHAPE", "MEAN", "SQUARED_DIFFERENCE", "ADD", "RSQRT", "MUL"],
            F,
        ),
        b("Hardmax", ["ARG_MAX", "ONE_HOT"], F),
        b("InstanceNormalization", ["MEAN", "SQUARED_DIFFERENCE", "ADD", "RSQRT", "MUL", "SUB"], F),
        b(
            "LayerNormalization",
            ["MEAN", "SQUARED_DIFFERENCE", "ADD", "RSQRT", "MUL", "SUB"],
            F,
            unused(1, 2),
        ),
        b("LogSoftmax", ["LOG_SOFTMAX", "TRANSPOSE", "RESHAPE"], F),
        b("LpNormalization", ["ABS", "SQUARE", "SUM", "SQRT", "EQUAL", "SELECT_V2", "DIV"], F,
          attr("p", 1, 2)),
        # 1-D, 3-D or dilated: tap by tap, as AveragePool (lowering/_pool_taps.py)
        b("LpPool", ["SQUARE", "ABS", "POW", "PAD", "AVERAGE_POOL_2D", "MUL", "SQRT", "PADV2",
                     "STRIDED_SLICE", "ADD", "RESHAPE"], F, rank(3, 5)),
        b("LRN", "LOCAL_RESPONSE_NORMALIZATION", F, rank(4, 4)),
        # the emitter's lowering (_recurrent.py) checks layout, clip, constant weights and
        # sequence_lens: UNIDIRECTIONAL_SEQUENCE_LSTM where it fits, else unrolled
        b("LSTM", ["UNIDIRECTIONAL_SEQUENCE_LSTM", "REVERSE_V2", "FILL", "STRIDED_SLICE"]
          + UNROLLED, F),
        b("MatMul", ["BATCH_MATMUL", "FULLY_CONNECTED", "EXPAND_DIMS", "SQUEEZE"],
          F + ["int8", "int16"], SYMMETRIC),
        b(
            "MaxPool",  # as AveragePool (tap by tap: MAXIMUM of STRIDED_SLICEs)
            ["MAX_POOL_2D", "PADV2", "RESHAPE", "STRIDED_SLICE", "MAXIMUM"],
            FQ,
            rank(3, 5),
            unused(1),
        ),
        b(
            "MeanVarianceNormalization",
            ["MEAN", "SQUARED_DIFFERENCE", "SUB", "ADD", "RSQRT", "MUL"],
            F,
        ),
        b("RMSNormalization", ["MUL", "MEAN", "ADD", "RSQRT"], F),
        b("RNN", UNROLLED, F),
        b("Softmax", ["SOFTMAX", "TRANSPOSE", "RESHAPE"], FQ),
        b("GRU", UNROLLED, F),
        # The emitter lowers these as onnx's function body where every node of it lowers
        # (lowering/_function.py); decompose would inline the same body, so it is no fix.
        no("Attention", BODY),
        no("CausalConvWithState", BODY),
        # lowering/_deform.py: the moved taps sampled by one GATHER, then BATCH_MATMUL
        b("DeformConv", ["RESHAPE", "STRIDED_SLICE", "ADD", "SUB", "MUL", "FLOOR",
                         "GREATER_EQUAL", "LESS_EQUAL", "LOGICAL_AND", "MAXIMUM", "MINIMUM",
                         "CAST", "CONCATENATION", "TRANSPOSE", "GATHER", "SELECT_V2", "SUM",
                         "BATCH_MATMUL"], F),
        # lowering/_grid.py: coordinates, taps and weights computed, one GATHER of the taps
        b("GridSample", ["RESHAPE", "STRIDED_SLICE", "ADD", "SUB", "MUL", "DIV", "ROUND", "FLOOR",
                         "LESS", "GREATER", "LESS_EQUAL", "GREATER_EQUAL", "NOT_EQUAL",
                         "LOGICAL_AND", "LOGICAL_OR", "SELECT_V2", "MAXIMUM", "MINIMUM", "CAST",
                         "CONCATENATION", "TRANSPOSE", "GATHER", "SUM"], F),
        # lowering/_roi.py: fixed sampling_ratio, the samples' taps read by one GATHER
        b("RoiAlign", ["MUL", "SUB", "ADD", "DIV", "MAXIMUM", "MINIMUM", "FLOOR", "GREATER_EQUAL",
                       "LESS_EQUAL", "LOGICAL_AND", "SELECT_V2", "CAST", "CONCATENATION",
                       "STRIDED_SLICE", "RESHAPE", "GATHER", "SUM", "REDUCE_MAX", "TRANSPOSE"], F),
        # lowering/_attention.py: RoPE from halves (or even/odd lanes) and the caches;
        # LinearAttention's recurrence unrolled over its static sequence
        b("RotaryEmbedding", ["RESHAPE", "GATHER", "SPLIT", "SPLIT_V", "MUL", "SUB", "ADD",
                              "CONCATENATION"], F),
        b("LinearAttention", ["RESHAPE", "SPLIT", "EXP", "MUL", "SUB", "ADD", "BATCH_MATMUL",
                              "CONCATENATION"], F),
        no("MaxRoiPool", "no RoI-pool builtin"),
        # lowering/_col2im.py: a constant table of the entries each pixel sums, one GATHER;
        # MaxUnpool's last write per element found by UNSORTED_SEGMENT_MAX
        b("MaxUnpool", ["RESHAPE", "GREATER_EQUAL", "LESS", "LOGICAL_AND", "SELECT_V2", "CAST",
                        "UNSORTED_SEGMENT_MAX", "STRIDED_SLICE", "MAXIMUM", "GATHER"],
          ["float32", "int32", "int64"]),
        b("Col2Im", ["RESHAPE", "PAD", "GATHER", "SUM", "EQUAL", "CAST", "REDUCE_MIN", "MUL"],
          ["float32", "int32", "int64"]),
        b("AffineGrid", ["BATCH_MATMUL", "RESHAPE"], F),
        no("NegativeLogLikelihoodLoss", BODY),
        no("SoftmaxCrossEntropyLoss", BODY),
    ]


def _shape_ops() -> list[Row]:
    # CumSum's axis, Pad's pads, Split's sizes and the Squeeze/Unsqueeze axes: the lowering
    # asks for them when converting (a constant, or computed from constants and static
    # shapes), so the emitter's check is the one diagnose reports
    return [
        b(
            "Cast",
            "CAST",
            None,
            attr(
                "to",
                1,
                2,
                3,
                4,
                5,
                6,
                7,
                9,
                10,
                11,
                12,
                message="TFLite casts to float32/16/64, int8/16/32/64, uint8/16/32 and bool",
            ),
            dtype_inputs=[],
        ),
        b("CastLike", "CAST", REARRANGE, dtype_inputs=[1]),
        b("Compress", ["WHERE", "GATHER", "RESHAPE"], MOVE),
        b("Concat", "CONCATENATION", MOVE),
        b("Constant", [], None, {"kind": "attr-absent", "attrs": ["sparse_value"]}),
        b("ConstantOfShape", "FILL", None, dtype_inputs=[]),
        # an axis given at run time as an int32 scalar (RESHAPE, CAST)
        b("CumSum", ["CUMSUM", "RESHAPE", "CAST"], ["float32", "int32", "int64"]),
        # an exact scan of MULs (lowering/_cumulative.py); a run-time axis picks one scan
        b("CumProd", ["SLICE", "PADV2", "MUL", "REVERSE_V2", "RESHAPE", "FLOOR_MOD", "EQUAL",
                      "SELECT_V2"], ["float32", "int32", "int64"]),
        b("DepthToSpace", ["DEPTH_TO_SPACE", "RESHAPE", "TRANSPOSE"], MOVE, rank(4, 4)),
        # the lowering (_tensor.py) passes it through where it cannot train, mask included
        b("Dropout", [], None),
        b("Expand", "BROADCAST_TO", MOVE),
        b("EyeLike", [], None, {"kind": "static-shape", "inputs": [0]}),
        b("Flatten", "RESHAPE", REARRANGE),
        b(
            "Gather",
            "GATHER",
            MOVE,
            {"kind": "input-nonneg", "inputs": [1], "message": "GATHER takes no negative indices"},
        ),
        b(
            "GatherElements",
            ["GATHER_ND", "CONCATENATION", "RESHAPE", "CAST", "SHAPE", "RANGE", "BROADCAST_TO",
             "EXPAND_DIMS"],
            MOVE,
        ),
        b("GatherND", ["GATHER_ND", "CONCATENATION"], MOVE),
        b("Identity", [], None),
        b("NonZero", ["NOT_EQUAL", "WHERE", "TRANSPOSE", "CAST"], MOVE),
        b("OneHot", ["CAST", "FLOOR_MOD", "SELECT_V2", "ONE_HOT", "GATHER"], None),
        b(
            "Pad",
            # pads given at run time or negative (cropping): lowering/_operands.py
            ["PAD", "PADV2", "MIRROR_PAD", "RESHAPE", "TRANSPOSE", "SLICE", "SHAPE", "SUM",
             "SUB", "MINIMUM", "MAXIMUM", "NEG", "CAST", "FLOOR_MOD", "EQUAL", "MUL"],
            MOVE,
            attr("mode", "constant", "reflect"),
        ),
        b("Range", "RANGE", ["float32", "int32", "int64"]),
        b("Reshape", "RESHAPE", REARRANGE),
        b("ReverseSequence", "REVERSE_SEQUENCE", MOVE),
        b(
            "ScatterND",  # mul/max/min: one update row at a time (lowering/_scatter.py)
            ["SCATTER_ND", "CAST", "ADD", "GREATER", "SELECT_V2", "RESHAPE", "GATHER",
             "MUL", "MAXIMUM", "MINIMUM"],
            ["float32", "int32", "int64"],
            attr("reduction", "none", "add", "mul", "max", "min"),
        ),
        b(
            "ScatterElements",  # mul/max/min: one update row at a time (lowering/_scatter.py)
            ["CONCATENATION", "SCATTER_ND", "CAST", "ADD", "GREATER", "SELECT_V2", "RESHAPE",
             "GATHER", "MUL", "MAXIMUM", "MINIMUM"],
            ["float32", "int32", "int64"],
            attr("reduction", "none", "add", "mul", "max", "min"),
        ),
        b("Shape", ["SHAPE", "SLICE"], None, dtype_inputs=[]),
        b("Size", ["SHAPE", "REDUCE_PROD"], None, dtype_inputs=[]),
        b("Slice", "STRIDED_SLICE", MOVE),
        b("SpaceToDepth", "SPACE_TO_DEPTH", MOVE, rank(4, 4)),
        b("Split", ["SPLIT", "SPLIT_V"], MOVE),
        b("Squeeze", "SQUEEZE", REARRANGE),
        b("Tile", "TILE", MOVE),
        b(
            "TopK",
            ["TOPK_V2", "TRANSPOSE", "NEG", "CAST"],
            F + ["int8", "uint8", "int32", "int64"],
            {
                "kind": "dtype",
                "inputs": [0],
                "dtypes": F + ["int32", "int64"],
                "when": {"largest": 0},
                "message": "smallest-k is computed as top-k of -x",
            },
        ),
        b("Transpose", "TRANSPOSE", REARRANGE, rank(0, 6)),
        b("Trilu", ["RANGE", "SUB", "GREATER_EQUAL", "LESS_EQUAL", "SELECT_V2", "SHAPE"], MOVE,
          {"kind": "static-shape", "inputs": [0]}),
        b(
            "Unique",
            ["UNIQUE", "RESHAPE"],
            MOVE,
            attr("sorted", 0, message="UNIQUE keeps first-occurrence order"),
            {"kind": "attr-absent", "attrs": ["axis"]},
            unused(1, 3),
        ),
        b("Unsqueeze", ["EXPAND_DIMS", "RESHAPE"], REARRANGE),
        b("Where", "SELECT_V2", MOVE, dtype_inputs=[1]),
    ]


def _resize() -> list[Row]:
    spatial = "TFLite resizes only the spatial axes: batch and channel must keep their size"
    # modes, roundings and coordinate modes the two builtins lack are two BATCH_MATMULs by
    # ONNX's own weights along each axis (lowering/_resize.py); with scales, sizes or roi
    # known at run time only, or axes, the weights are built in the model from them
    # (lowering/_resize_dynamic.py, _resize_axis.py)
    dynamic = ["RANGE", "GATHER", "CAST", "FLOOR", "CEIL", "ADD", "SUB", "MUL", "DIV", "ABS",
               "MAXIMUM", "MINIMUM", "EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER",
               "GREATER_EQUAL", "LOGICAL_OR", "SELECT_V2", "SUM", "ONE_HOT", "BATCH_MATMUL",
               "RESHAPE", "CONCATENATION", "SHAPE", "SLICE"]
    return [
        b(
            "Resize",
            ["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", *dynamic],
            FQ,
            rank(4, 4),
            attr("mode", "nearest", "linear", "cubic"),
            {"kind": "resize-spatial-only", "sizes": 3, "code": "GK110", "message": spatial},
        ),
        b(
            "Upsample",
            dynamic,
            FQ,
            rank(4, 4),
            attr("mode", "nearest", "linear", "bilinear"),
            {"kind": "resize-spatial-only", "scales": 1, "code": "GK110", "message": spatial},
        ),
    ]


def _reduce() -> list[Row]:
    return [
        b("ReduceL1", ["ABS", "SUM"], F, *REDUCE_CHECKS),
        b("ReduceL2", ["MUL", "SUM", "SQRT"], F, *REDUCE_CHECKS),
        b("ReduceLogSum", ["SUM", "LOG"], F, *REDUCE_CHECKS),
        b("ReduceLogSumExp", ["REDUCE_MAX", "SUB", "EXP", "SUM", "LOG", "ADD"], F, *REDUCE_CHECKS),
        b("ReduceMax", ["REDUCE_MAX", "REDUCE_ANY"], REDUCE + BOOL, *REDUCE_CHECKS),
        b("ReduceMean", "MEAN", REDUCE, *REDUCE_CHECKS),
        b("ReduceMin", ["REDUCE_MIN", "REDUCE_ALL"], REDUCE + BOOL, *REDUCE_CHECKS),
        b("ReduceProd", "REDUCE_PROD", REDUCE, *REDUCE_CHECKS),
        b("ReduceSum", "SUM", REDUCE, *REDUCE_CHECKS),
        b("ReduceSumSquare", ["MUL", "SUM"], F, *REDUCE_CHECKS),
    ]


def _other() -> list[Row]:
    # with constant inputs the emitter computes them when converting (lowering/_fold.py)
    window = "no builtin; only a size known when converting (a constant) is lowered"
    return [
        b("If", "IF", None),
        b("Multinomial", "MULTINOMIAL", F),
        b(
            "NonMaxSuppression",
            # one NON_MAX_SUPPRESSION_V4 per image and class, ONNX's triplets built around
            # them (the emitter's _nms.py); the nms pass gives the fixed-size form on request
            ["NON_MAX_SUPPRESSION_V4", "UNPACK", "RESHAPE", "RANGE", "GATHER", "MUL", "ADD",
             "PACK", "CONCATENATION", "CAST", "FULLY_CONNECTED", "MINIMUM", "BITCAST"],
            F,
        ),
        # the float arithmetic ONNX defines (lowering/_quant.py): scale and zero point
        # constant or given at run time, per tensor, per axis or per block
        b("QuantizeLinear", ["DIV", "ROUND", "ADD", "MAXIMUM", "MINIMUM", "CAST", "RESHAPE",
                             "GATHER"], F),
        b("DequantizeLinear", ["CAST", "SUB", "MUL", "RESHAPE", "GATHER"],
          ["int8", "uint8", "int16", "uint16", "int32"]),
        b("RandomNormal", ["RANDOM_STANDARD_NORMAL", "MUL", "ADD"], None, dtype_inputs=[]),
        b(
            "RandomNormalLike",
            ["SHAPE", "RANDOM_STANDARD_NORMAL", "MUL", "ADD"],
            None,
            dtype_inputs=[],
        ),
        b("RandomUniform", ["RANDOM_UNIFORM", "MUL", "ADD"], None, dtype_inputs=[]),
        b("RandomUniformLike", ["SHAPE", "RANDOM_UNIFORM", "MUL", "ADD"], None, dtype_inputs=[]),
        # the Leibniz formula up to 4x4 (lowering/_det.py)
        b("Det", ["RESHAPE", "GATHER", "REDUCE_PROD", "MUL", "SUM"], F),
        # TRANSPOSE/RESHAPE/SUM/GATHER around BATCH_MATMUL, of static shapes
        # (lowering/_einsum.py; decompose needs them static too)
        b("Einsum", ["TRANSPOSE", "RESHAPE", "GATHER", "SUM", "BATCH_MATMUL"], F,
          {"kind": "static-shape", "inputs": [0, 1, 2, 3]}),
        flex("RegexFullMatch", ["StaticRegexFullMatch"], ["string"]),
        no("Bernoulli", "random op without a builtin"),
        no("BlackmanWindow", window),
        no("HammingWindow", window),
        no("HannWindow", window),
        no("MelWeightMatrix", window),
        # PAD and SLICE by amounts known when converting (lowering/_crop.py)
        b("CenterCropPad", ["PAD", "SLICE"], ["float32", "int32", "int64"]),
        b(
            "DynamicQuantizeLinear",
            ["REDUCE_MIN", "REDUCE_MAX", "MINIMUM", "MAXIMUM", "SUB", "EQUAL", "SELECT_V2",
             "DIV", "ROUND", "ADD", "CAST"],
            ["float32"],
        ),
        # float32 products exact on the centered integers while the sums stay below 2^24
        # (longer sums in slices added in int32), requantized as ONNX defines it
        # (lowering/_qlinear.py, _qconv.py)
        b("ConvInteger", QCONV, ["int8", "uint8"]),
        b("MatMulInteger", ["CAST", "SUB", "SPLIT_V", "BATCH_MATMUL", "ADD"], ["int8", "uint8"]),
        b("QLinearConv", [*QCONV, *QLINEAR], ["int8", "uint8"]),
        b("QLinearMatMul", ["SPLIT_V", "BATCH_MATMUL", *QLINEAR], ["int8", "uint8"]),
        # WHILE with condition and body subgraphs (the emitter's _control.py); scan
        # outputs are refused there
        b("Loop", ["WHILE", "LESS", "LOGICAL_AND", "ADD", "RESHAPE"], None, dtype_inputs=[]),
        # ai.onnx.preview.training's optimizers: their formulas, elementwise
        # (lowering/_training.py)
        *[b(op, ["CAST", "ADD", "SUB", "MUL", "DIV", "SQRT", "POW", "GREATER", "SELECT_V2"],
            ["float32"], domain="ai.onnx.preview.training")
          for op in ("Adagrad", "Adam", "Momentum")],
        # ai.onnx.ml's comparisons and gathers (lowering/_ml.py); a LabelEncoder of strings
        # is refused there
        b("Binarizer", ["GREATER", "SELECT_V2"], ["float32", "int32", "int64"],
          domain="ai.onnx.ml"),
        b("ArrayFeatureExtractor", ["RESHAPE", "GATHER"], ["float32", "int32", "int64"],
          domain="ai.onnx.ml"),
        b("LabelEncoder", ["EQUAL", "NOT_EQUAL", "SELECT_V2"],
          ["float32", "int32", "int64", "string"], domain="ai.onnx.ml"),
        # each tree unrolled into comparisons along its leaves' paths (lowering/_tree.py);
        # float64 is refused there
        b("TreeEnsemble", ["GATHER", "LESS_EQUAL", "LESS", "GREATER_EQUAL", "GREATER", "EQUAL",
                           "NOT_EQUAL", "LOGICAL_OR", "LOGICAL_AND", "LOGICAL_NOT",
                           "SELECT_V2", "ADD", "MINIMUM", "MAXIMUM"],
          ["float32", "float64"], domain="ai.onnx.ml"),
        # unrolled over its static scan length (lowering/_scan.py)
        b("Scan", ["GATHER", "EXPAND_DIMS", "CONCATENATION", "RESHAPE", "SHAPE"], None,
          dtype_inputs=[]),
        # a product by constant cos/sin matrices for static lengths (lowering/_spectral.py)
        b("DFT", ["TRANSPOSE", "SLICE", "RESHAPE", "FULLY_CONNECTED", "FLOOR_MOD", "EQUAL",
                  "SELECT_V2"], F),
        # frames by GATHER, the window, then DFT's product (lowering/_spectral.py)
        b("STFT", ["GATHER", "RESHAPE", "CAST", "MUL", "ADD", "TRANSPOSE", "SLICE",
                   "FULLY_CONNECTED"], F),
        # Opset 11 renamed Scatter ScatterElements: lowered as ScatterElements is
        b("Scatter", ["CONCATENATION", "SCATTER_ND", "CAST", "ADD", "GREATER", "SELECT_V2"],
          ["float32", "int32", "int64"]),
        no("TensorScatter", "no lowering in graphkit's table"),
        no("ImageDecoder", "no image-decoder builtin"),
        b("TfIdfVectorizer", ["RESHAPE", "SLICE", "EQUAL", "LOGICAL_AND", "CAST", "SUM", "ADD",
                              "BATCH_MATMUL", "GREATER", "MUL"], ["int32", "int64"]),
        no("StringConcat", "no string builtins"),
        no("StringNormalizer", "no string builtins"),
        no("StringSplit", "no string builtins"),
        *(
            no(op, NO_SEQ)
            for op in (
                "ConcatFromSequence",
                "Optional",
                "OptionalGetElement",
                "OptionalHasElement",
                "SequenceAt",
                "SequenceConstruct",
                "SequenceEmpty",
                "SequenceErase",
                "SequenceInsert",
                "SequenceLength",
                "SequenceMap",
                "SplitToSequence",
            )
        ),
    ]


def tflite_rows() -> list[Row]:
    return _elementwise() + _nn() + _shape_ops() + _resize() + _reduce() + _other()
