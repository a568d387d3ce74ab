"""The verl engine (PyPI `verl`, pinned 0.9.1): GRPO on Qwen3 across Slurm nodes through Ray.

One package, one job each module:
- `settings`: the `[rl.verl]` table (engine-only keys) and its cross-field checks;
- `mapping`: the spec's shared `[rl]` settings as verl Hydra overrides, in verl's units (pure);
- `env`: which Python has verl (verl pins transformers < 5.11, so it lives in its own environment);
- `check`: composition against verl's packaged Hydra configs + type checks + verl's `validate_config`
  (runs in the verl Python; the compiler calls it as a subprocess when verl is not importable here);
- `compile`: the run dir's `compiled/overrides.txt`, `compiled/config.yaml`, `compiled/job.sbatch`;
- `data`: parquet for verl's `RLHFDataset` from the one shared prep (`rcstudio.engines.prepare`);
- `reward`: `compute_score`, the function verl imports by path, calling rcstudio's hybrid reward;
- `job.sbatch.tmpl`: Ray head + workers over the job's nodes, the matcher's vLLM, then the trainer.
Nothing here imports torch or verl at module level: the core stays importable without them.
"""

VERL_VERSION = "0.9.1"
ENGINE_NAME = "verl"
