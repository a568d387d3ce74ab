"""Package resources come from the package: a wheel installed outside the checkout finds the sbatch
template and the recipes (package data), compiles a NeMo-Aligner hetjob and a spec that extends a
recipe. Built from a copy of the sources, so nothing is written into the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

HETJOB = """
[experiment]
name = "wheel-hetjob"
[judge]
checkpoint = "/ckpt/judge.nemo"
[data]
train = ["train.jsonl"]
[cluster]
executor = "slurm"
"""

FROM_RECIPE = """
extends = "rationalerm/genrm-gated"
[experiment]
name = "wheel-recipe"
[judge]
checkpoint = "/ckpt/judge.nemo"
"""


def _run(argv, cwd, env):
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{argv}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory, repo_root):
    """(python of a fresh virtualenv holding the built wheel, its environment, a folder outside the checkout)."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(repo_root / name, src / name)
    shutil.copytree(repo_root / "rcstudio", src / "rcstudio", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(root / "dist"),
          str(src)], cwd=root, env=env)
    (wheel,) = (root / "dist").glob("rcstudio-*.whl")
    venv = root / "venv"
    # --system-site-packages: the dependencies come from this Python, rcstudio from the wheel only
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], cwd=root, env=env)
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], cwd=root, env=env)
    outside = root / "work"
    outside.mkdir()
    env = env | {"PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", "RCSTUDIO_HOME": str(root / "home")}
    env.pop("RCSTUDIO_RECIPES", None)
    env.pop("RCSTUDIO_NEMO_CONF", None)
    return python, env, outside, venv


def test_the_venv_imports_the_wheel_not_the_checkout(installed, repo_root):
    python, env, outside, venv = installed
    where = _run([str(python), "-c", "import rcstudio; print(rcstudio.__file__)"], cwd=outside, env=env).strip()
    assert Path(where).resolve().is_relative_to(venv.resolve()), where
    assert not Path(where).resolve().is_relative_to(repo_root.resolve())


def test_installed_wheel_compiles_a_hetjob_and_a_recipe_spec(installed):
    python, env, outside, venv = installed
    rcstudio = str(venv / "bin" / "rcstudio")
    (outside / "hetjob.toml").write_text(HETJOB)
    (outside / "recipe.toml").write_text(FROM_RECIPE)
    listed = json.loads(_run([rcstudio, "recipes", "list", "--json"], cwd=outside, env=env))
    paths = {r["name"]: r["path"] for r in listed["recipes"]}
    assert Path(paths["rationalerm/genrm-gated"]).resolve().is_relative_to(venv.resolve())

    out = json.loads(_run([rcstudio, "compile", "hetjob.toml", "--out", "build", "--json"], cwd=outside, env=env))
    (run,) = out["runs"]
    assert run["mode"] == "sbatch"
    script = Path(run["script"]).read_text()
    assert "#SBATCH hetjob" in script and "--het-group=1" in script
    assert "train_gpt_reinforce_actor.py" in script and "/opt/NeMo-Aligner" in script

    out = json.loads(_run([rcstudio, "compile", "recipe.toml", "--out", "build2", "--json"], cwd=outside, env=env))
    (run,) = out["runs"]
    resolved = (Path(run["run_dir"]) / "spec.resolved.toml").read_text()
    assert 'form = "gated"' in resolved and "tensor_parallel = 4" in resolved  # from the recipe
    assert "#SBATCH hetjob" in Path(run["script"]).read_text()
