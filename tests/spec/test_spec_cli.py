"""`rcstudio init | validate | schema | compile | recipes`: output, --json and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys


from rcstudio.spec import load_spec


def test_init_writes_a_spec_that_validates_and_compiles(cli, tmp_path):
    path = tmp_path / "exp" / "first.toml"
    code, out, _ = cli("init", str(path))
    assert code == 0 and path.is_file()
    spec = load_spec(path)
    assert spec.experiment.name == "first" and spec.experiment.kind == "genrm-train"
    assert spec.rl.engine == "nemo-aligner"
    assert "#" in path.read_text()  # commented
    code, out, err = cli("compile", str(path), "--out", str(tmp_path / "build"), "--json")
    assert code == 0, err
    run = json.loads(out)["runs"][0]
    assert run["mode"] == "sbatch"
    assert (tmp_path / "build" / run["run_id"] / "compiled" / "job.sbatch").is_file()
    # refuses to overwrite
    code, _, err = cli("init", str(path))
    assert code == 2 and "already exists" in err
    code, _, _ = cli("init", str(tmp_path / "my spec (v2).toml"))
    assert code == 0 and load_spec(tmp_path / "my spec (v2).toml").experiment.name == "my-spec-v2"
    code, _, err = cli("init", "--name", 'x"; evil = "', str(tmp_path / "n.toml"))
    assert code == 2 and not (tmp_path / "n.toml").exists()


def test_init_from_a_recipe(cli, tmp_path, monkeypatch):
    recipes = tmp_path / "recipes"
    (recipes / "team").mkdir(parents=True)
    (recipes / "team" / "base.toml").write_text(
        '# Team base\n[experiment]\nname = "base"\n[judge]\nmodel = "meta-llama/Llama-3.1-8B-Instruct"\ncheckpoint = "/c.nemo"\n')
    monkeypatch.setenv("RCSTUDIO_RECIPES", str(recipes))
    code, _, _ = cli("init", "--recipe", "team/base", str(tmp_path / "mine.toml"))
    assert code == 0
    assert load_spec(tmp_path / "mine.toml").experiment.name == "mine"
    code, _, err = cli("init", "--recipe", "team/bse", str(tmp_path / "x.toml"))
    assert code == 2 and "did you mean team/base?" in err
    code, out, _ = cli("recipes", "list", "--json")
    names = [r["name"] for r in json.loads(out)["recipes"]]
    assert "team/base" in names
    assert next(r for r in json.loads(out)["recipes"] if r["name"] == "team/base")["description"] == "Team base"
    code, out, _ = cli("recipes", "show", "team/base")
    assert code == 0 and 'name = "base"' in out
    code, _, err = cli("recipes", "show", "nope/none")
    assert code == 2


def test_validate_ok_json_and_errors(cli, write):
    path = write('[experiment]\nname = "t"\n[judge]\nmodel = "meta-llama/Llama-3.1-8B-Instruct"\ncheckpoint = "/c"\n[reward]\nform = "additive"\n'
                 '[sweep]\ngrid = { "reward.alpha" = [0.2, 0.4] }\n')
    code, out, _ = cli("validate", str(path))
    assert code == 0 and "2 runs" in out
    code, out, _ = cli("validate", str(path), "--json", "--set", "rl.epochs=1")
    doc = json.loads(out)
    assert doc["ok"] and [r["point"] for r in doc["runs"]] == [{"reward.alpha": 0.2}, {"reward.alpha": 0.4}]
    code, out, err = cli("validate", str(path), "--set", "rl.rollouts_per_promt=2")
    assert code == 2 and out == ""
    assert "error: --set: rl.rollouts_per_promt" in err and "did you mean rollouts_per_prompt?" in err


def test_validate_runs_compile_time_checks(cli, write):
    path = write('[experiment]\nname = "t"\n[rl]\nsave_interval = 15\n')
    code, _, err = cli("validate", str(path))
    assert code == 2 and "judge.checkpoint" in err  # no checkpoint for the actor
    code, _, err = cli("validate", str(path), "--set", "judge.checkpoint=/c.nemo")
    assert code == 2 and "rl.save_interval" in err and "val_check_interval" in err


def test_schema_is_json_schema_of_the_spec(cli, tmp_path):
    code, out, _ = cli("schema")
    doc = json.loads(out)
    assert code == 0 and doc["$schema"].startswith("https://json-schema.org/")
    assert "experiment" in doc["required"]
    rl = doc["$defs"]["RLSection"]
    assert rl["additionalProperties"] is False and "rollouts_per_prompt" in rl["properties"]
    code, _, _ = cli("schema", "--out", str(tmp_path / "s.json"))
    assert json.loads((tmp_path / "s.json").read_text()) == doc


def test_compile_writes_one_dir_per_run_and_a_summary(cli, write, tmp_path):
    path = write('[experiment]\nname = "sw"\n[judge]\nmodel = "meta-llama/Llama-3.1-8B-Instruct"\ncheckpoint = "/c"\n'
                 '[sweep]\ngrid = { "rl.lr" = [1e-6, 2e-6], "rl.seed" = [1, 2] }\n')
    code, out, err = cli("compile", str(path), "--out", str(tmp_path / "b"))
    assert code == 0, err
    dirs = sorted(p.name for p in (tmp_path / "b").iterdir())
    assert len(dirs) == 4 and all(d.startswith("sw-") for d in dirs)
    assert "sw-lr1e-06-seed1" in out and "compiled 4 runs of sw" in out
    assert "rl.lr=1e-06, rl.seed=1" in out and "compiled/job.sbatch" in out


def test_compile_is_all_or_nothing(cli, write, tmp_path):
    path = write('[experiment]\nname = "sw"\n[judge]\nmodel = "meta-llama/Llama-3.1-8B-Instruct"\ncheckpoint = "/c"\n'
                 '[sweep]\ngrid = { "rl.save_interval" = [10, 15] }\n')
    code, _, err = cli("compile", str(path), "--out", str(tmp_path / "b"))
    assert code == 2 and "save_interval" in err
    assert not (tmp_path / "b").exists()


def test_real_process_exit_code_and_no_traceback(write):
    path = write('[experiment]\nname = "t"\n[rl]\nrollouts_per_promt = 4\n')
    proc = subprocess.run([sys.executable, "-m", "rcstudio", "validate", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{path.resolve()}:4: rl.rollouts_per_promt: unknown key" in proc.stderr


def test_schema_accepts_the_example_specs_and_rejects_typos(cli, repo_root):
    """What an editor (taplo / Even Better TOML) does with the schema: check raw TOML files."""
    import tomllib

    import pytest

    jsonschema = pytest.importorskip("jsonschema", reason="dev dependency jsonschema (checks the schema like an editor)")
    code, out, _ = cli("schema")
    schema = json.loads(out)
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted((repo_root / "specs").glob("*.toml")) + [repo_root / "rcstudio" / "spec" / "starter.toml"]:
        errors = list(validator.iter_errors(tomllib.loads(path.read_text())))
        assert not errors, (path, errors[0].message)
    bad = {"experiment": {"name": "x"}, "rl": {"rollouts_per_promt": 4}}
    assert any("rollouts_per_promt" in e.message for e in validator.iter_errors(bad))
