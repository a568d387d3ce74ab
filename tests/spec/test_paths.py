"""Relative data paths resolve against the file that wrote them (spec, recipe, or the current
directory for --set), so jobs running in their run dir read the files the researcher meant."""

from __future__ import annotations

import textwrap
from pathlib import Path

from rcstudio.spec import expand, load_spec
from rcstudio.spec.load import absolute_path, looks_like_path


def put(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def test_paths_resolve_against_the_spec_folder(tmp_path):
    proj = tmp_path / "proj"
    put(proj / "data" / "pairs.jsonl", "{}\n")
    spec = load_spec(put(proj / "spec.toml", """
        [experiment]
        name = "paths"
        [data]
        train = ["data/pairs.jsonl", "hf://Qwen/RationaleRM:full", "pkg://rcstudio/data/x.jsonl"]
        eval = ["hs3-atomic=data/hs3.jsonl", "judgebench", "/abs/rm.json", "rmbench=/abs/rmbench.json"]
        [decompose]
        input = "raw/annotations.jsonl"
        output = "checklists.jsonl"
        [reward.matcher]
        matches_file = "cache/matches.jsonl"
        [judge]
        prompt_template = "prompts/judge.jinja"
    """))
    assert spec.data.train == [str(proj / "data" / "pairs.jsonl"), "hf://Qwen/RationaleRM:full",
                               "pkg://rcstudio/data/x.jsonl"]
    assert spec.data.eval == [f"hs3-atomic={proj}/data/hs3.jsonl", "judgebench", "/abs/rm.json",
                              "rmbench=/abs/rmbench.json"]
    # files that do not exist yet (an earlier job writes them) are made absolute all the same
    assert spec.decompose.input == str(proj / "raw" / "annotations.jsonl")
    assert spec.decompose.output == str(proj / "checklists.jsonl")
    assert spec.reward.matcher.matches_file == str(proj / "cache" / "matches.jsonl")
    assert spec.judge.prompt_template == str(proj / "prompts" / "judge.jinja")


def test_builtin_names_stay(tmp_path):
    spec = load_spec(put(tmp_path / "s.toml", """
        [experiment]
        name = "names"
        [data]
        eval = ["hs3-atomic", "rmbench"]
        [judge]
        prompt_template = "rcstudio-genrm-v1"
    """))
    assert spec.data.eval == ["hs3-atomic", "rmbench"] and spec.judge.prompt_template == "rcstudio-genrm-v1"


def test_extends_chain_resolves_each_key_against_its_own_file(tmp_path):
    put(tmp_path / "base" / "base.toml", """
        [experiment]
        name = "base"
        [data]
        train = ["shared/train.jsonl"]
        [judge]
        prompt_template = "tmpl/genrm.jinja"
    """)
    put(tmp_path / "mid" / "mid.toml", """
        extends = "../base/base.toml"
        [decompose]
        input = "in/raw.jsonl"
    """)
    spec = load_spec(put(tmp_path / "proj" / "spec.toml", """
        extends = "../mid/mid.toml"
        [experiment]
        name = "leaf"
        [data]
        eval = ["hs3-atomic=eval/hs3.jsonl"]
    """))
    assert spec.data.train == [str(tmp_path / "base" / "shared" / "train.jsonl")]
    assert spec.judge.prompt_template == str(tmp_path / "base" / "tmpl" / "genrm.jinja")
    assert spec.decompose.input == str(tmp_path / "mid" / "in" / "raw.jsonl")
    assert spec.data.eval == [f"hs3-atomic={tmp_path}/proj/eval/hs3.jsonl"]


def test_set_values_are_relative_to_the_current_directory(tmp_path, monkeypatch):
    spec_file = put(tmp_path / "proj" / "spec.toml", '[experiment]\nname = "s"\n[data]\ntrain = ["a.jsonl"]\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    spec = load_spec(spec_file, ['data.eval=["rmbench=x/rm.json"]'])
    assert spec.data.train == [str(tmp_path / "proj" / "a.jsonl")]  # written in the file: its folder
    assert spec.data.eval == [f"rmbench={elsewhere}/x/rm.json"]


def test_env_results_absolute_stay_relative_resolve(tmp_path, monkeypatch):
    spec_file = put(tmp_path / "spec.toml",
                    '[experiment]\nname = "e"\n[data]\ntrain = ["${env:RCS_DATA}/t.jsonl"]\n')
    monkeypatch.setenv("RCS_DATA", "/lustre/data")
    assert load_spec(spec_file).data.train == ["/lustre/data/t.jsonl"]
    monkeypatch.setenv("RCS_DATA", "local")
    assert load_spec(spec_file).data.train == [str(tmp_path / "local" / "t.jsonl")]


def test_variants_and_sweeps_resolve_too(tmp_path):
    spec = load_spec(put(tmp_path / "spec.toml", """
        [experiment]
        name = "vs"
        [data]
        train = ["a.jsonl"]
        [sweep.grid]
        "decompose.input" = ["one.jsonl", "two/in.jsonl"]
        [variants.other]
        enabled = true
        "data.train" = ["b/train.jsonl"]
    """))
    runs = expand(spec)
    swept = [r for r in runs if not r.name.endswith("-other")]
    assert {r.spec.decompose.input for r in swept} == {str(tmp_path / "one.jsonl"), str(tmp_path / "two" / "in.jsonl")}
    assert [r.spec.data.train for r in runs if r.name.endswith("-other")] == [[str(tmp_path / "b" / "train.jsonl")]]


def test_what_counts_as_a_path():
    assert looks_like_path("data/x") and looks_like_path("x.jsonl") and looks_like_path("t.jinja")
    assert not looks_like_path("hs3-atomic") and not looks_like_path("hf://a/b") and not looks_like_path("")
    assert absolute_path("~/x.jsonl", Path("/base")) == "~/x.jsonl"
    assert absolute_path("a/../b.jsonl", Path("/base")) == "/base/b.jsonl"
    assert absolute_path("judgebench", Path("/base")) == "judgebench"
