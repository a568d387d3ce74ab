"""The launch plan types, defined with the engines that produce them (rcstudio/engines/plan.py);
re-exported here, where launch/ and older code import them from."""

from rcstudio.engines.plan import (CompiledRun, LaunchPlan, cluster_fields, command_plan, needs_gpus,
                                   rcstudio_argv, rcstudio_shell)

__all__ = ["CompiledRun", "LaunchPlan", "cluster_fields", "command_plan", "needs_gpus", "rcstudio_argv",
           "rcstudio_shell"]
