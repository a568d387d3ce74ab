#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the project, starts the local Slurm cluster
# (Debian's slurmctld/slurmd/slurmdbd + MariaDB + munge; needs root), runs the static checks
# (ruff on the tree, mypy on the typed boundaries listed in pyproject.toml), then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "$(id -u)" = 0 ]; then
  bash slurm/cluster.sh start
else
  echo "not root: the local Slurm cluster is not started; Slurm tests will skip" >&2
fi
python3 -m ruff check rcstudio tests benchmarks scripts
python3 -m mypy
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=offline
exec python3 -m pytest -q "$@"
