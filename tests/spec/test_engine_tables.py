"""Engine tables in the spec: `[rl.<table>]` per registered engine, moved keys, resolved specs."""

from __future__ import annotations

import json

import pytest

from rcstudio.engines import registry
from rcstudio.engines.base import SHARED_METRICS
from rcstudio.spec import dump_resolved, expand, load_resolved, load_spec

GENRM = """
[experiment]
name = "t"
[judge]
checkpoint = "/c.nemo"
[data]
train = ["x.jsonl"]
"""


def test_every_registered_engine_has_a_table_settings_and_an_engine():
    for name in registry.names():
        engine = registry.get(name)
        assert engine.name == name and engine.table == registry.table_of(name)
        assert engine.settings is registry.settings_models()[name]
        assert engine.algorithms and engine.kinds
        assert set(engine.metric_names.values()) <= set(SHARED_METRICS)


@pytest.mark.parametrize("old, line, new", [
    ("[rl]\ntensor_parallel = 4\n", 8, "rl.nemo_aligner.tensor_parallel"),
    ("[rl]\nengine_overrides = []\n", 8, "rl.nemo_aligner.overrides"),
    ("[cluster]\nnemo_aligner_dir = \"/x\"\n", 8, "rl.nemo_aligner.install_dir"),
    ("[cluster]\nactor_command = [\"true\"]\n", 8, "rl.nemo_aligner.actor_command"),
])
def test_a_moved_key_at_its_old_place_names_the_new_place(cli, write, old, line, new):
    path = write(GENRM + old)
    code, out, err = cli("validate", str(path))
    assert code == 2 and "Traceback" not in err
    assert f"{path}:{line}:" in err and f"moved to {new}" in err
    table, field = new.rsplit(".", 1)
    assert f"[{table}]" in err and f"{field} =" in err


def test_a_moved_key_in_set_and_sweep_is_an_error_too(cli, write):
    path = write(GENRM)
    code, _, err = cli("validate", str(path), "--set", "rl.tensor_parallel=2")
    assert code == 2 and "moved to rl.nemo_aligner.tensor_parallel" in err
    code, _, err = cli("validate", str(path), "--set", "sweep.grid.rl.rollout_micro_batch_size=[1, 2]")
    assert code == 2 and "moved to rl.nemo_aligner.rollout_micro_batch_size" in err
    code, out, _ = cli("validate", str(path), "--set", "rl.nemo_aligner.tensor_parallel=2", "--json")
    assert code == 0 and json.loads(out)["ok"]


def test_resolved_spec_holds_only_the_selected_engines_table(write, tmp_path):
    spec = load_spec(write(GENRM + "[rl.nemo_aligner]\ntensor_parallel = 2\n"))
    text = dump_resolved(expand(spec)[0].spec)
    assert "[rl.nemo_aligner]" in text and "tensor_parallel = 2" in text
    assert all(f"[rl.{registry.table_of(n)}]" not in text for n in registry.names() if n != "nemo-aligner")
    (tmp_path / "spec.resolved.toml").write_text(text)
    assert load_resolved(tmp_path).rl == spec.rl


def test_old_run_dirs_still_load(tmp_path, write):
    """A run dir compiled before engine tables keeps loading (resubmit, export, dashboard)."""
    text = dump_resolved(load_spec(write(GENRM)))
    head, _, rest = text.partition("[rl.nemo_aligner]\n")
    old = head + rest[rest.index("\n[") + 1:]  # the run dir's spec without the engine table
    old = old.replace("[rl]\n", "[rl]\ntensor_parallel = 2\nengine_overrides = []\n", 1)
    old = old.replace("[cluster]\n", '[cluster]\nnemo_aligner_dir = "/na"\nactor_command = []\n', 1)
    assert "[rl.nemo_aligner]" not in old
    (tmp_path / "spec.resolved.toml").write_text(old)
    na = load_resolved(tmp_path).rl.nemo_aligner
    assert (na.tensor_parallel, na.install_dir) == (2, "/na")


def test_schema_documents_the_engine_tables(cli):
    code, out, _ = cli("schema")
    doc = json.loads(out)
    rl = doc["$defs"]["RLSection"]
    assert rl["properties"]["engine"]["enum"] == list(registry.names())
    for name in registry.names():
        assert registry.table_of(name) in rl["properties"]


TRL = GENRM + '[rl]\nengine = "trl"\nalgorithm = "grpo"\n'


def test_a_key_of_another_engine_is_an_error_naming_the_engine_that_reads_it(cli, write):
    path = write(TRL + "[rl.nemo_aligner]\ntensor_parallel = 4\n")
    code, out, err = cli("validate", str(path))
    assert code == 2 and "Traceback" not in err and out == ""
    assert f"{path}:11: rl.nemo_aligner.tensor_parallel: only the nemo-aligner engine reads this key" in err
    assert 'rl.engine = "trl"' in err and "hint:" in err and 'set rl.engine = "nemo-aligner"' in err
    path = write(TRL + '[rl.nemo_aligner]\noverrides = ["a=1"]\n')
    code, _, err = cli("validate", str(path))
    assert code == 2 and "rl.nemo_aligner.overrides: only the nemo-aligner engine" in err
    code, _, err = cli("validate", str(write(TRL)), "--set", "rl.nemo_aligner.actor_command=['true']")
    assert code == 2 and "--set: rl.nemo_aligner.actor_command: only the nemo-aligner engine" in err


def test_variant_and_sweep_keys_are_checked_against_their_runs_engine(cli, write):
    variant = '[variants.v]\nenabled = true\n"rl.engine" = "trl"\n"rl.algorithm" = "grpo"\n'
    code, _, err = cli("validate", str(write(GENRM + variant + '"rl.nemo_aligner.tensor_parallel" = 2\n')))
    assert code == 2 and "variants.v.rl.nemo_aligner.tensor_parallel: only the nemo-aligner engine" in err
    assert "variant v runs on" in err
    code, _, err = cli("validate", str(write(TRL + '[sweep.grid]\n"rl.nemo_aligner.tensor_parallel" = [1, 2]\n')))
    assert code == 2 and "sweep.grid.rl.nemo_aligner.tensor_parallel: only the nemo-aligner engine" in err
    # a key for the engine a variant selects is fine in the base spec, and reaches that variant's run
    ok = write(GENRM.replace("[judge]", '[rl]\nengine = "trl"\nalgorithm = "grpo"\n[judge]')
               + "[rl.nemo_aligner]\ntensor_parallel = 2\n"
               + '[variants.na]\nenabled = true\n"rl.engine" = "nemo-aligner"\n"rl.algorithm" = "reinforce"\n')
    code, out, err = cli("validate", str(ok), "--json")
    assert code == 0, err
    runs = expand(load_spec(ok))
    assert "[rl.nemo_aligner]" not in dump_resolved(runs[0].spec)
    assert runs[1].spec.rl.nemo_aligner.tensor_parallel == 2


def test_engine_keys_inherited_from_a_recipe_for_another_engine_do_not_reach_the_run(cli, write):
    write(GENRM + "[rl.nemo_aligner]\ntensor_parallel = 2\n", name="base.toml")
    child = write('extends = "base.toml"\n[experiment]\nname = "c"\n[rl]\nengine = "trl"\nalgorithm = "grpo"\n')
    code, _, err = cli("validate", str(child))
    assert code == 0, err
    assert "nemo_aligner" not in dump_resolved(expand(load_spec(child))[0].spec)
