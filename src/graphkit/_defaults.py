"""Defaults the CLI shows in --help, kept where reading them imports nothing heavy."""

DEFAULT_RTOL = 1e-3  # validation: relative tolerance per output
DEFAULT_ATOL = 1e-4  # validation: absolute tolerance per output
DEFAULT_MODEL_TIMEOUT = 300.0  # seconds one model of a folder may take to diagnose
