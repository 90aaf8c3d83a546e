"""graphkit's IR is onnx-ir's Model/Graph/Node/Value; this package adds safe I/O and interop.

- load_onnx / load_onnx_bytes / model_from_proto: every way in checks well-formedness and
  external data first (one clear InputError line naming the node or tensor); load_onnx
  leaves a file's large weights in the file, as read-only arrays over its memory map;
- save_onnx: atomic writes, weights inline or in one data file inside the output's folder;
- to_graphsurgeon / from_graphsurgeon: the model as an onnx-graphsurgeon Graph and back
  (graphkit.pass_adapters.GraphSurgeonPass runs a graphsurgeon script as a pass);
- to_networkx: the node graph for graph algorithms.
"""

from graphkit.ir._graphsurgeon import from_graphsurgeon, to_graphsurgeon
from graphkit.ir._load import copy_model, load_onnx, load_onnx_bytes, model_from_proto
from graphkit.ir._networkx import to_networkx
from graphkit.ir._save import save_onnx
from graphkit.ir._wellformed import check_well_formed

__all__ = [
    "check_well_formed",
    "copy_model",
    "from_graphsurgeon",
    "load_onnx",
    "load_onnx_bytes",
    "model_from_proto",
    "save_onnx",
    "to_graphsurgeon",
    "to_networkx",
]
