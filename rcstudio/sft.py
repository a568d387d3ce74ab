"""The supervised loop that teaches a judge the judgment format: the format warm-up before GRPO
(engines/warmup.py) and the priming of `tiny://` test models (tiny_model.py) share it."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any


def sft_steps(lm: Any, encoded: Sequence[tuple[list[int], list[int]]], steps: int, lr: float, seed: int = 0,
              on_step: Callable[[int, float], None] | None = None) -> list[float]:
    """`steps` AdamW steps, one seeded-random example each, loss on the completion tokens only."""
    import torch

    if not encoded or steps <= 0:
        return []
    rng = random.Random(seed)
    device = next(lm.parameters()).device
    opt = torch.optim.AdamW(lm.parameters(), lr=lr)
    losses: list[float] = []
    lm.train()
    for step in range(steps):
        p, y = rng.choice(list(encoded))
        ids = torch.tensor([p + y], device=device)
        labels = torch.tensor([[-100] * len(p) + y], device=device)
        loss = lm(input_ids=ids, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(step + 1, losses[-1])
    lm.eval()
    return losses
