"""The NeMo-Aligner v0.7.0 engine (REINFORCE actor + rcstudio's reward server, one Slurm hetjob).

`settings.py`: the `[rl.nemo_aligner]` table; `engine.py`: the seam (checks, compile, job steps);
`compile.py`: overrides, composed config and the hetjob script. What v0.7.0's sources do with the
compiled values: `batching.py` (batch units, LR schedule), `families.py` (which base models run),
`reward_link.py` (token, request timeout), `container.py` (image check), `actor_auth.py` (the
token on the actor's requests).
"""
