"""TorchScript functions the lowering table calls: the torch code each ONNX op becomes.

Every function here is compiled by torch.jit.script into the artifact, so it must stay
within TorchScript: type-annotated, no closures, no Python-only builtins.
"""
