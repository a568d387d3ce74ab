"""The NeMo-Aligner v0.7.0 engine (REINFORCE actor + rcstudio's reward server, one Slurm hetjob).

`settings.py`: the `[rl.nemo_aligner]` table; `engine.py`: the seam (checks, compile, job steps);
`compile.py`: overrides, composed config and the hetjob script.
"""
