"""The NeMo-Aligner v0.7.0 engine: what its sources do with the values rcstudio compiles."""
