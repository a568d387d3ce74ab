"""The TRL engine: single-node GRPO (`GRPOTrainer`) on the hybrid reward.

`settings.py`: the `[rl.trl]` table; `engine.py`: the seam; `train.py`: the training job.
"""
