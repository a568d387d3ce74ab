"""Expanding sweeps and variants into runs: order, names, ids, errors at the sweep's line."""

from __future__ import annotations

import pytest

from rcstudio.errors import UserError
from rcstudio.spec import expand, load_spec, spec_hash
from rcstudio.spec.sweep import point_label, sweep_points

BASE = """
[experiment]
name = "genrm-additive"

[judge]
checkpoint = "/ckpt/m.nemo"

[reward]
form = "additive"
"""


def test_sweep_points_grid_times_zip_in_written_order():
    points = sweep_points({"a": [1, 2], "b": ["x", "y"]}, {"c": [10, 20], "d": [0.1, 0.2]})
    assert len(points) == 8
    assert points[0] == {"a": 1, "b": "x", "c": 10, "d": 0.1}
    assert points[1] == {"a": 1, "b": "x", "c": 20, "d": 0.2}
    assert points[-1] == {"a": 2, "b": "y", "c": 20, "d": 0.2}
    assert sweep_points({}, {}) == [{}]


def test_point_labels():
    assert point_label({"reward.alpha": 0.8}) == "alpha0.8"
    assert point_label({"rl.lr": 1e-06, "rl.seed": 3}) == "lr1e-06-seed3"
    assert point_label({"rl.seed": 1, "data.seed": 2}) == "rl_seed1-data_seed2"
    assert point_label({"experiment.tags": ["a b", "c"]}) == "tagsa_bxc"


def test_alpha_sweep_expands_to_named_runs_with_stable_ids(write):
    path = write(BASE + '\n[sweep]\ngrid = { "reward.alpha" = [0.0, 0.5, 0.8, 1.0] }\n')
    runs = expand(load_spec(path))
    assert [r.name for r in runs] == [f"genrm-additive-alpha{a}" for a in ("0.0", "0.5", "0.8", "1.0")]
    assert [r.spec.reward.alpha for r in runs] == [0.0, 0.5, 0.8, 1.0]
    assert all(r.run_id == f"genrm-additive-{r.spec_hash[:8]}" for r in runs)
    assert all(r.spec_hash == spec_hash(r.spec) for r in runs)
    assert len({r.run_id for r in runs}) == 4
    assert all(not r.spec.sweep.grid and not r.spec.variants for r in runs)
    assert [r.run_id for r in expand(load_spec(path))] == [r.run_id for r in runs]  # deterministic


def test_point_identity_does_not_depend_on_how_it_was_written(write):
    swept = expand(load_spec(write(BASE + '[sweep]\ngrid = { "reward.alpha" = [0.3, 0.6] }\n', "a.toml")))
    direct = expand(load_spec(write(BASE + "alpha = 0.6\n", "b.toml")))
    assert swept[1].run_id == direct[0].run_id


def test_zip_pairs_values_and_unequal_lengths_fail_at_their_line(write):
    runs = expand(load_spec(write(BASE + '[sweep]\nzip = { "rl.lr" = [1e-6, 2e-6], "rl.seed" = [1, 2] }\n')))
    assert [(r.spec.rl.lr, r.spec.rl.seed) for r in runs] == [(1e-6, 1), (2e-6, 2)]
    path = write(BASE + '\n[sweep]\nzip = { "rl.lr" = [1e-6, 2e-6], "rl.seed" = [1] }\n', "bad.toml")
    with pytest.raises(UserError) as info:
        load_spec(path)
    assert info.value.location.key == "sweep.zip" and info.value.location.line == 11


def test_unknown_sweep_key_suggests(write):
    with pytest.raises(UserError) as info:
        load_spec(write(BASE + '\n[sweep]\ngrid = { "reward.alpah" = [0.1] }\n'))
    err = info.value
    assert err.location.key == "sweep.grid.reward.alpah" and err.location.line == 11
    assert err.hint == "did you mean alpha?"


def test_invalid_sweep_point_reports_the_point_and_the_sweep_line(write):
    path = write(BASE + '\n[sweep]\ngrid = { "rl.mini_batch_size" = [128, 100] }\n')
    spec = load_spec(path)
    with pytest.raises(UserError) as info:
        expand(spec)
    err = info.value
    assert "rl.mini_batch_size=100" in err.message and err.location.line == 11
    assert err.location.key == "rl.mini_batch_size"


def test_gated_spec_cannot_sweep_alpha(write):
    spec = load_spec(write(BASE.replace("additive", "gated") + '[sweep]\ngrid = { "reward.alpha" = [0.5] }\n'))
    with pytest.raises(UserError, match="alpha only applies"):
        expand(spec)


def test_variants_add_runs_only_when_enabled(write):
    text = BASE + """
[variants.tiny-trl]
enabled = false
"rl.engine" = "trl"
"rl.algorithm" = "grpo"

[variants.long]
enabled = true
rl = { epochs = 4 }
"""
    runs = expand(load_spec(write(text)))
    assert [r.name for r in runs] == ["genrm-additive", "genrm-additive-long"]
    assert runs[1].spec.rl.epochs == 4 and runs[1].point == {"rl.epochs": 4}
    runs = expand(load_spec(write(text), ["variants.tiny-trl.enabled=true"]))
    assert [r.name for r in runs][-1] == "genrm-additive-tiny-trl"
    assert runs[-1].spec.rl.engine == "trl"


def test_bad_variant_key_is_located(write):
    with pytest.raises(UserError) as info:
        load_spec(write(BASE + '\n[variants.v]\nenabled = true\n"rl.egnine" = "trl"\n'))
    assert info.value.location.key == "variants.v.rl.egnine" and info.value.hint == "did you mean engine?"


def test_duplicate_points_are_an_error(write):
    with pytest.raises(UserError, match="resolve to the same spec"):
        expand(load_spec(write(BASE + '[sweep]\ngrid = { "rl.lr" = [1e-6, 1e-6] }\n')))
