"""Keep stdout for `--json` output while importing libraries that print on import.

With WANDB_MODE=offline, importing `transformers.integrations.integration_utils` (pulled in by
`sentence_transformers` and `trl`) prints "[INFO] Running in WANDB offline mode" to stdout, which
would break a command whose stdout must be one JSON object; the transformers Trainer likewise
prints every log dict on stdout. Those imports and the training loop run inside
`stdout_to_stderr()`: the lines still reach the user, on stderr.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send whatever the block prints on stdout to stderr."""
    with contextlib.redirect_stdout(sys.stderr):
        yield
