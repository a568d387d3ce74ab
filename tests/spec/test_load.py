"""Loading specs: line-accurate errors with suggestions, extends, --set, ${env:...}, secrets."""

from __future__ import annotations

import pytest

from rcstudio.errors import UserError
from rcstudio.spec import load_spec
from rcstudio.spec.load import parse_override

MINIMAL = """
[experiment]
name = "t"

[judge]
checkpoint = "/ckpt/m.nemo"
"""


def error_of(path, overrides=()) -> UserError:
    with pytest.raises(UserError) as info:
        load_spec(path, overrides)
    return info.value


def test_minimal_spec_loads(write):
    spec = load_spec(write(MINIMAL))
    assert spec.experiment.name == "t" and spec.judge.checkpoint == "/ckpt/m.nemo"
    assert spec.extends is None


def test_unknown_key_points_at_its_line_with_suggestion(write):
    path = write("""
        [experiment]
        name = "t"

        [rl]
        lr = 1e-6
        rollouts_per_promt = 4
    """)
    err = error_of(path)
    assert err.location.line == 6
    assert err.location.key == "rl.rollouts_per_promt"
    assert str(err.location.file) == str(path.resolve())
    assert err.hint == "did you mean rollouts_per_prompt?"
    assert "6: rl.rollouts_per_promt: unknown key" in err.render()


def test_unknown_section_suggests_the_right_one(write):
    err = error_of(write('[experiment]\nname = "t"\n\n[rewards]\nform = "gated"\n'))
    assert (err.location.key, err.location.line, err.hint) == ("rewards", 4, "did you mean reward?")


def test_wrong_type_and_literal_errors_locate_the_value(write):
    err = error_of(write('[experiment]\nname = "t"\n[rl]\nglobal_batch_size = "lots"\n'))
    assert (err.location.key, err.location.line) == ("rl.global_batch_size", 4)
    err = error_of(write('[experiment]\nname = "t"\n[reward]\nform = "gatd"\n'))
    assert err.location.key == "reward.form" and err.hint == "did you mean gated?"


def test_inline_and_dotted_keys_are_located(write):
    path = write("""
        experiment.name = "t"
        reward = { form = "gated", matcher = { kind = "llm", concurrncy = 3 } }
    """)
    err = error_of(path)
    assert (err.location.key, err.location.line) == ("reward.matcher.concurrncy", 2)
    assert err.hint == "did you mean concurrency?"


def test_missing_required_name(write):
    err = error_of(write('[experiment]\nkind = "eval"\n'))
    assert err.location.key == "experiment.name" and err.location.line == 1
    assert "required" in err.message


def test_cross_field_conflict_points_at_the_user_line(write):
    path = write("""
        [experiment]
        name = "t"

        [reward]
        form = "gated"
        alpha = 0.5
    """)
    err = error_of(path)
    assert (err.location.key, err.location.line) == ("reward.alpha", 6)
    assert "additive" in err.hint


def test_toml_syntax_error_has_a_line(write):
    err = error_of(write('[experiment]\nname = "t\n'))
    assert err.location.line == 2 and "invalid TOML" in err.message


def test_missing_file():
    with pytest.raises(UserError, match="no such spec file"):
        load_spec("/nonexistent/spec.toml")


# -- extends -----------------------------------------------------------------------------------
def test_extends_a_path_and_deep_merges(write):
    write("""
        [experiment]
        name = "base"
        tags = ["a"]
        [rl]
        lr = 1e-6
        epochs = 3
        [reward.matcher]
        kind = "embedding"
    """, "base/base.toml")
    path = write("""
        extends = "base/base.toml"
        [experiment]
        name = "child"
        [rl]
        lr = 3e-6
    """)
    spec = load_spec(path)
    assert spec.experiment.name == "child" and spec.experiment.tags == ["a"]
    assert (spec.rl.lr, spec.rl.epochs) == (3e-6, 3)
    assert spec.reward.matcher.kind == "embedding"


def test_extends_a_recipe_from_rcstudio_recipes_in_a_chain(write, tmp_path, monkeypatch):
    recipes = tmp_path / "recipes"
    (recipes / "team").mkdir(parents=True)
    (recipes / "team" / "base.toml").write_text('[experiment]\nname = "base"\n[rl]\nepochs = 5\n')
    (recipes / "team" / "mid.toml").write_text('extends = "team/base"\n[rl]\nlr = 5e-6\n')
    monkeypatch.setenv("RCSTUDIO_RECIPES", str(recipes))
    spec = load_spec(write('extends = "team/mid"\n[experiment]\nname = "mine"\n[judge]\ncheckpoint = "/c"\n'))
    assert (spec.experiment.name, spec.rl.epochs, spec.rl.lr) == ("mine", 5, 5e-6)


def test_error_in_an_inherited_value_points_into_the_recipe(write):
    base = write('[experiment]\nname = "b"\n\n[rl]\nrollouts_per_promt = 2\n', "base.toml")
    err = error_of(write('extends = "base.toml"\n[experiment]\nname = "c"\n'))
    assert str(err.location.file) == str(base.resolve()) and err.location.line == 5


def test_extends_cycle_is_an_error(write):
    write('extends = "b.toml"\n[experiment]\nname = "a"\n', "a.toml")
    write('extends = "a.toml"\n', "b.toml")
    err = error_of(write('extends = "a.toml"\n'))
    assert "cycle" in err.message


def test_unknown_recipe_suggests(write, tmp_path, monkeypatch):
    recipes = tmp_path / "recipes"
    (recipes / "rationalerm").mkdir(parents=True)
    (recipes / "rationalerm" / "genrm-gated.toml").write_text('[experiment]\nname = "g"\n')
    monkeypatch.setenv("RCSTUDIO_RECIPES", str(recipes))
    err = error_of(write('extends = "rationalerm/genrm-gatd"\n'))
    assert err.location.key == "extends" and err.location.line == 1
    assert err.hint == "did you mean rationalerm/genrm-gated?"


# -- --set overrides -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, value",
    [("rl.lr=1e-6", 1e-6), ("rl.epochs=3", 3), ("x=true", True), ("x=[1, 2]", [1, 2]),
     ('x="quoted"', "quoted"), ("x=plain words", "plain words"), ("x=a=b", "a=b")],
)
def test_parse_override_reads_toml_values(text, value):
    assert parse_override(text)[1] == value


def test_set_overrides_apply_and_are_validated(write):
    path = write(MINIMAL)
    spec = load_spec(path, ["rl.lr=5e-7", "experiment.tags=[\"x\"]", "reward.form=additive", "reward.alpha=0.3"])
    assert (spec.rl.lr, spec.experiment.tags, spec.reward.alpha) == (5e-7, ["x"], 0.3)
    err = error_of(path, ["rl.rollouts_per_promt=4"])
    assert err.location.key == "rl.rollouts_per_promt" and err.hint == "did you mean rollouts_per_prompt?"
    err = error_of(path, ["rl.epochs=many"])
    assert err.location.key == "rl.epochs" and str(err.location.file) == "--set"
    with pytest.raises(UserError, match="not key=value"):
        load_spec(path, ["rl.epochs"])
    with pytest.raises(UserError, match="extends cannot be set"):
        load_spec(path, ["extends=rationalerm/genrm-gated"])


def test_set_can_enable_a_variant_and_add_a_sweep(write):
    path = write(MINIMAL + '\n[variants.fast]\nenabled = false\n"rl.epochs" = 1\n')
    spec = load_spec(path, ["variants.fast.enabled=true", "sweep.grid.rl.lr=[1e-6, 2e-6]"])
    assert spec.variants["fast"].enabled and spec.sweep.grid == {"rl.lr": [1e-6, 2e-6]}
    err = error_of(path, ["variants.fsat.enabled=true"])
    assert err.hint == "did you mean fast?"


# -- env interpolation and secrets ----------------------------------------------------------------
def test_env_interpolation_with_default(write, monkeypatch):
    monkeypatch.setenv("CKPT_ROOT", "/lustre/ckpt")
    monkeypatch.delenv("NOPE_UNSET", raising=False)
    spec = load_spec(write("""
        [experiment]
        name = "t"
        [judge]
        checkpoint = "${env:CKPT_ROOT}/m.nemo"
        endpoint = "http://${env:NOPE_UNSET,localhost}:8000/v1"
    """))
    assert spec.judge.checkpoint == "/lustre/ckpt/m.nemo"
    assert spec.judge.endpoint == "http://localhost:8000/v1"


def test_missing_env_variable_names_key_and_line(write, monkeypatch):
    monkeypatch.delenv("NOPE_UNSET", raising=False)
    err = error_of(write('[experiment]\nname = "t"\n[judge]\ncheckpoint = "${env:NOPE_UNSET}/m.nemo"\n'))
    assert (err.location.key, err.location.line) == ("judge.checkpoint", 4)
    assert "NOPE_UNSET" in err.message


@pytest.mark.parametrize("name", ["WANDB_API_KEY", "HF_TOKEN", "MY_SECRET", "DB_PASSWORD"])
def test_secret_looking_env_names_are_rejected(write, monkeypatch, name):
    monkeypatch.setenv(name, "value")
    err = error_of(write(f'[experiment]\nname = "t"\n[judge]\nendpoint = "${{env:{name}}}"\n'))
    assert "secret" in err.message and err.location.key == "judge.endpoint"


@pytest.mark.parametrize("value", ["sk-" + "a" * 40, "hf_" + "b" * 34, "0123456789abcdef0123456789abcdef01234567"])
def test_pasted_credentials_are_rejected(write, value):
    err = error_of(write(f'[experiment]\nname = "t"\n[tracking]\nentity = "{value}"\n'))
    assert "credential" in err.message and err.location.key == "tracking.entity"


def test_commit_hashes_inside_paths_are_not_credentials(write, tmp_path):
    path = "/hf/snapshots/0123456789abcdef0123456789abcdef01234567/train.jsonl"
    spec = load_spec(write(f'[experiment]\nname = "t"\n[data]\ntrain = ["{path}"]\n'))
    assert spec.data.train == [path]


def test_api_key_env_must_be_a_name(write):
    err = error_of(write('[experiment]\nname = "t"\n[judge]\napi_key_env = "sk-live-123"\n'))
    assert err.location.key == "judge.api_key_env" and err.location.line == 4


def test_shell_variables_in_setup_are_left_alone(write):
    spec = load_spec(write(MINIMAL + '[cluster]\nsetup = ["export X=${SLURM_JOB_ID}"]\n'))
    assert spec.cluster.setup == ["export X=${SLURM_JOB_ID}"]


def test_relative_data_paths_resolve_against_the_spec_file(write, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "train.jsonl").write_text("")
    spec = load_spec(write(MINIMAL + '[data]\ntrain = ["d/train.jsonl", "hf://Qwen/RationaleRM:full"]\n'
                                     'eval = ["hs3-atomic"]\n'))
    assert spec.data.train == [str((tmp_path / "d" / "train.jsonl").resolve()), "hf://Qwen/RationaleRM:full"]
    assert spec.data.eval == ["hs3-atomic"]


def test_set_overrides_a_quoted_variant_key(write):
    from rcstudio.spec import expand

    path = write(MINIMAL + '\n[variants.tiny-trl]\nenabled = true\n"judge.model" = "a"\n'
                           '\n[variants.nested.judge]\nmodel = "b"\n')
    spec = load_spec(path, ['variants.tiny-trl."judge.model"=tiny://m', 'variants.nested."judge.model"=c',
                            "variants.nested.enabled=true"])
    assert spec.variants["tiny-trl"].overrides == {"judge.model": "tiny://m"}
    assert spec.variants["nested"].overrides == {"judge.model": "c"}
    by_name = {r.name.rsplit("-", 1)[-1]: r.spec.judge.model for r in expand(spec)}
    assert by_name["trl"] == "tiny://m" and by_name["nested"] == "c"
    # the unquoted form means the same key
    assert load_spec(path, ["variants.tiny-trl.judge.model=d"]).variants["tiny-trl"].overrides == {"judge.model": "d"}


def test_set_on_a_bad_variant_key_says_why(write):
    path = write(MINIMAL + '\n[variants.v]\n"judge.model" = "a"\n')
    err = error_of(path, ['variants.v."judge.modle"=x'])
    # the variant's own keys come first: the hint is the dotted key to write
    assert err.location.key == "variants.v.judge.modle" and err.hint == "did you mean judge.model?"
    assert err.location.file == "--set"
    assert error_of(path, ["variants.v.enabld=true"]).hint == "did you mean enabled?"  # not a top-level table
    err = error_of(path, ['variants.v."sweep.grid"=x'])
    assert "variant cannot set" in err.message
    err = error_of(path, ["variants.v=1"])
    assert "names no key" in err.message and "variants.v.enabled" in err.hint
    err = error_of(path, ['variants.vv."judge.model"=x'])
    assert "no variant named 'vv'" in err.message and err.hint == "did you mean v?"
    err = error_of(path, ["judge model=x"])
    assert "not a dotted key" in err.message and "quote" in err.hint


def test_set_on_variants_that_are_not_tables_points_at_their_line(write):
    # Both used to end in a traceback (TypeError / AttributeError) instead of a UserError.
    err = error_of(write('variants = 3\n' + MINIMAL), ["variants.q.enabled=true"])
    assert (err.location.key, err.location.line) == ("variants", 1) and "must be a table" in err.message
    err = error_of(write(MINIMAL + '\n[variants]\nv = 5\n'), ["variants.v.enabled=true"])
    assert err.location.key == "variants.v" and err.location.line == 8 and "must be a table" in err.message


def test_variant_names_are_plain_names(write):
    # A variant name becomes part of run and job names and of the sbatch script's comments:
    # a newline in it would run as a shell line.
    path = write(MINIMAL + '\n[variants."v\\necho PWNED"]\nenabled = true\n"rl.lr" = 1e-5\n')
    err = error_of(path)
    assert err.location.key == "variants.v\necho PWNED" and err.location.line == 7
    assert "letters, digits" in err.message
