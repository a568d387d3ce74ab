"""Atomic rationale decomposition: annotators' free-text reasoning -> human checklists.

Modules: `prompt` (rules + PROMPT_VERSION), `reply` (validate the LLM's JSON), `sources` (find the
reasoning in a pair), `outcome` (bounds filter, summary), `store` (output files, resume), `audit`
(spot-check markdown), `engine` (async run). The `kind = "data"` job step (W&B, run dir) lives
with the other job steps: `rcstudio/engines/decompose_job.py`.
"""

from __future__ import annotations

from rcstudio.rationale.decompose.engine import audit_file, decompose_file, decompose_items
from rcstudio.rationale.decompose.outcome import Bounds, PairOutcome, Summary
from rcstudio.rationale.decompose.prompt import PROMPT_VERSION, render_decompose_messages
from rcstudio.rationale.decompose.reply import Decomposition, ReplyError, parse_reply

__all__ = [
    "PROMPT_VERSION",
    "Bounds",
    "Decomposition",
    "PairOutcome",
    "ReplyError",
    "Summary",
    "audit_file",
    "decompose_file",
    "decompose_items",
    "parse_reply",
    "render_decompose_messages",
]
