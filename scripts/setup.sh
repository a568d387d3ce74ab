#!/usr/bin/env bash
# Installs rcstudio with every extra into the current Python (use a virtualenv if you prefer).
# torch is pinned to the CPU build first: an unpinned torch resolves to a multi-GB CUDA wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
want_torch=${RCSTUDIO_TORCH:-torch==2.13.0}
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  "$PY" -m pip install -q "$want_torch"
fi
"$PY" -m pip install -q -e ".[all,dev]"
# verl 0.9.1 pins transformers<5.11, which the TRL engine's environment does not meet: verl gets a
# second environment layered over this one (it sees everything installed above and only adds verl's
# packages and its 4 pins). rcstudio finds it as .venv-verl/ (or $RCSTUDIO_VERL_PYTHON).
VERL_VENV=.venv-verl
if [ "${RCSTUDIO_SKIP_VERL:-0}" != 1 ]; then
  if [ ! -x "$VERL_VENV/bin/python" ]; then
    "$PY" -m venv --system-site-packages "$VERL_VENV"
  fi
  # the pin is the `verl` extra of pyproject.toml (tests/engines_verl check they agree)
  "$VERL_VENV/bin/python" -m pip install -q "verl==0.9.1"
fi
