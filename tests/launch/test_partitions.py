"""Partition limits from `sinfo` lines and the check that refuses a run no node can hold."""

from __future__ import annotations

import pytest

from rcstudio.compile.plan import LaunchPlan
from rcstudio.errors import UserError
from rcstudio.launch.executors import Submission
from rcstudio.launch.partitions import check_runs, misfit, parse_sinfo

LINES = ["debug*|8|65536|(null)|infinite|2|vm,vm-2",
         "gpu|64|512000|gpu:a100:4(S:0-1)|2-00:00:00|3|g[1-3]",
         "gpu|96|1024000|gpu:h100:8|2-00:00:00|1|g4"]


def test_parse_sinfo_keeps_the_largest_node_per_partition():
    debug, gpu = parse_sinfo(LINES)
    assert (debug.name, debug.default, debug.cpus_per_node, debug.gpus_per_node, debug.max_time_min) == (
        "debug", True, 8, 0, None)
    assert (gpu.cpus_per_node, gpu.gpus_per_node, gpu.nodes, gpu.max_time_min) == (96, 8, 4, 2880)


def test_misfit_names_the_key_and_the_limits():
    parts = parse_sinfo(LINES)
    key, message, hint = misfit(LaunchPlan(argv=("x",), cpus_per_task=16, time="00:10:00"), parts)
    assert key == "cluster.cpus_per_task" and "16 CPUs" in message and "has 8" in message
    assert "--set cluster.cpus_per_task=8" in hint and "no GPUs per node" in hint
    assert misfit(LaunchPlan(argv=("x",), cpus_per_task=8), parts) is None
    key, message, _ = misfit(LaunchPlan(argv=("x",), cpus_per_task=8, gpus_per_node=1), parts)
    assert key == "cluster.gpus_per_node"
    assert misfit(LaunchPlan(argv=("x",), cpus_per_task=32, gpus_per_node=8, partition="gpu"), parts) is None
    key, _, _ = misfit(LaunchPlan(argv=("x",), partition="gpu", time="3-00:00:00"), parts)
    assert key == "cluster.time"
    key, message, hint = misfit(LaunchPlan(argv=("x",), partition="batch"), parts)
    assert key == "cluster.partition" and "partition debug" in hint
    assert misfit(LaunchPlan(argv=("x",), cpus_per_task=999), []) is None  # nothing known: sbatch decides


def test_check_runs_raises_a_user_error(tmp_path):
    sub = Submission("r-1", tmp_path, LaunchPlan(argv=("x",), cpus_per_task=16))
    with pytest.raises(UserError) as info:
        check_runs([sub], parse_sinfo(LINES))
    assert info.value.location.key == "cluster.cpus_per_task" and "r-1" in info.value.message
