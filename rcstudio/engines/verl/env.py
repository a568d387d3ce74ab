"""Which Python runs verl's own code at compile time.

verl 0.9.1 pins `transformers<5.11`, while the TRL engine's environment runs a newer transformers;
so verl lives in a second environment (`scripts/setup.sh` builds `.venv-verl`, a venv over the main
site-packages that only adds verl and its pins). The compiler uses, in order: `$RCSTUDIO_VERL_PYTHON`,
this interpreter when it can import verl, `<repo>/.venv-verl/bin/python`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from rcstudio.errors import UserError

ENV_VAR = "RCSTUDIO_VERL_PYTHON"
VENV_DIR = ".venv-verl"


def verl_importable() -> bool:
    return importlib.util.find_spec("verl") is not None


def repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


def verl_python() -> str | None:
    """The interpreter to run verl code with; None = this one (verl is importable here)."""
    env = os.environ.get(ENV_VAR)
    if env:
        if not Path(env).exists():
            raise UserError(f"{ENV_VAR}={env} does not exist", key="rl.engine",
                            hint="point it at a python with verl==0.9.1, or unset it")
        # compare without resolving links: a venv's python is a link to the base interpreter, and which
        # environment it runs in depends on the path it is started by
        return None if os.path.abspath(env) == os.path.abspath(sys.executable) else env
    if verl_importable():
        return None
    venv = repo_root() / VENV_DIR / "bin" / "python"
    if venv.exists():
        return str(venv)
    raise UserError("verl 0.9.1 is not installed for this rcstudio (needed to check the compiled config)",
                    key="rl.engine",
                    hint=f"run scripts/setup.sh (it builds {VENV_DIR}/), or set {ENV_VAR} to a python with "
                         "verl==0.9.1")
