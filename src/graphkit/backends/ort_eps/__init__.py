"""ONNX Runtime's mobile execution providers (NNAPI, CoreML): which nodes each EP takes.

Analysis only: the session runs on any of them (what the EP does not take stays on the
CPU EP), and its pipeline and NMS form are the portable defaults of the registry row.
"""
