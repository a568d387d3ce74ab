"""The actor <-> reward-server link of a NeMo-Aligner v0.7.0 job: token, timeout, step axis.

* v0.7.0's client (`nemo_aligner/servers/http_communicator.py`) waits `inference_timeout_s=600000`
  for an answer and does not retry; any error answer (504 included) ends the actor. So the server's
  per-request deadline must outlast the worst legitimate scoring time and stay below the client's.
  Worst case: `fit` sends every rollout micro-batch of a step before it waits
  (`algorithms/reinforce.py` `_run_inference` collects futures), so one request can queue behind
  the whole step (num_rollout_samples x num_rollouts_per_prompt sequences), scored in waves of
  `reward.matcher.concurrency` LLM calls, each of which may take timeout_s x (max_retries + 1).
* Token: generated per job in the sbatch script, exported (srun passes the environment to both
  het groups), read by `rcstudio serve-reward --token-env` and added to the actor's requests by
  `actor_auth.py`; the value is in no file.
"""

from __future__ import annotations

import math
from typing import Any

TOKEN_ENV = "RCSTUDIO_REWARD_TOKEN"
CLIENT_INFERENCE_TIMEOUT_S = 600000  # http_communicator.py: FuturesModelClient(..., inference_timeout_s=600000)
MARGIN_S = 60.0


def request_timeout_s(spec: Any) -> float:
    """The server's per-request deadline for this spec's worst case (see module docstring)."""
    m, rl = spec.reward.matcher, spec.rl
    sequences = rl.global_batch_size * rl.rollouts_per_prompt
    waves = math.ceil(sequences / max(1, m.concurrency))
    return waves * m.timeout_s * (m.max_retries + 1) + MARGIN_S
