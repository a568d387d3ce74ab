"""Names that reach paths and scripts: one full-match pattern with a length limit; everything the
validator accepts compiles into an sbatch script that `bash -n` accepts."""

from __future__ import annotations

import json
import subprocess

import pytest

from rcstudio.errors import UserError
from rcstudio.spec.models import NAME_MAX, name_problem

BASE = """
[experiment]
name = {name}

[judge]
model = "meta-llama/Llama-3.1-8B-Instruct"  # a base NeMo-Aligner v0.7.0 trains
checkpoint = "/ckpt/llama-3.1-8b.nemo"
"""


@pytest.mark.parametrize("name", ["v\n", "a\nb", "..", ".hidden", "-flag", "x" * (NAME_MAX + 1), "x" * 300,
                                  "sp ace", "semi;colon", "new\r", "", "tab\t"])
def test_bad_names_are_refused_with_the_key(name, compile_spec):
    assert name_problem(name)
    with pytest.raises(UserError) as info:
        compile_spec(BASE.format(name=json.dumps(name)))
    assert info.value.location.key == "experiment.name"
    with pytest.raises(UserError) as info:
        compile_spec(BASE.format(name='"ok"') + f"[variants.{json.dumps(name)}]\n\"rl.lr\" = 1e-6\n")
    assert info.value.location.key.startswith("variants.")


@pytest.mark.parametrize("name", ["a", "x" * NAME_MAX, "run_1.2-b", "9lives", "_u"])
def test_accepted_names_compile_to_scripts_bash_accepts(name, compile_spec):
    spec = BASE.format(name=json.dumps(name)) + f'[variants.{json.dumps(name)}]\nenabled = true\n"judge.checkpoint" = "/ckpt/other.nemo"\n'
    spec += '[cluster]\nsetup = ["export X=1"]\npartition = "gpu"\n'
    spec += '[sweep]\ngrid = { "rl.lr" = [1e-6, 2e-6] }\n'
    runs = compile_spec(spec)
    assert len(runs) == 3
    for compiled in runs:
        script = compiled.plan.script
        assert script is not None and script.is_file()
        assert len(compiled.run_dir.name) < 100
        subprocess.run(["bash", "-n", str(script)], check=True)
        first = [ln for ln in script.read_text().splitlines()[1:] if ln and not ln.startswith("#")][0]
        assert first == "set -euo pipefail"  # no line above the #SBATCH directives escaped the comments


@pytest.mark.parametrize("key,value", [("cluster.time", '"04:00:00\\n"'), ("cluster.partition", '"gpu\\n"'),
                                       ("cluster.mem", '"64G\\n"'), ("judge.api_key_env", '"KEY\\n"')])
def test_slurm_values_with_a_trailing_newline_are_refused(key, value, compile_spec):
    with pytest.raises(UserError) as info:
        compile_spec(BASE.format(name='"ok"'), overrides=[f"{key}={value}"])
    assert info.value.location.key == key
