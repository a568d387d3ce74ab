"""Fixtures for launch tests (defined in launch_helpers.py, shared with tests/slurm)."""

from launch_helpers import make_submission, registry, slurm_shims, write_spec  # noqa: F401
