"""Backends: one folder per target (its lowering, emitter and runner)."""
