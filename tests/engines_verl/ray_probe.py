"""Stand-in for verl's trainer in the Slurm test: joins the job's Ray cluster ($RAY_ADDRESS), runs
one task pinned to each alive node, writes results/ray_probe.json, exits 1 unless it saw 2 nodes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy


@ray.remote(num_cpus=1)
def where() -> str:
    return ray.get_runtime_context().get_node_id()


def main() -> int:
    ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=False)
    alive = [n for n in ray.nodes() if n["Alive"]]
    ran_on = ray.get([where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote()
                      for n in alive])
    out = {"alive": len(alive), "node_ids": sorted(n["NodeID"] for n in alive), "ran_on": sorted(ran_on),
           "address": os.environ["RAY_ADDRESS"], "run_dir": os.environ.get("RCSTUDIO_RUN_DIR", "")}
    ray.shutdown()
    path = Path(os.environ["RCSTUDIO_RUN_DIR"]) / "results" / "ray_probe.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"ray probe: {out['alive']} alive nodes", flush=True)
    return 0 if out["alive"] == 2 else 1


if __name__ == "__main__":
    sys.exit(main())
