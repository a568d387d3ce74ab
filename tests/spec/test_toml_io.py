"""The TOML line scanner and the deterministic writer / resolved round trip."""

from __future__ import annotations

import tomllib

from hypothesis import given, settings
from hypothesis import strategies as st

from rcstudio.spec import dump_resolved, expand, load_resolved, load_spec, spec_hash
from rcstudio.spec.models import Spec
from rcstudio.spec.toml_lines import line_map
from rcstudio.spec.toml_write import dumps

TRICKY = '''# comment [not.a.table]
title = "x = y"   # key = value in a string
multi = """
fake = 1
[fake.table]
"""
lit = \'\'\'
also = 2
\'\'\'
arr = [
  1,  # comment
  { inline = 2, "quoted.key" = 3 },
]

[a]
b.c = 1
"d.e" = 2

[[items]]
name = "one"

[a.sub]  # trailing comment
k = 'v'
'''


def test_line_map_finds_every_written_key():
    lines = line_map(TRICKY)
    assert lines[("title",)] == 2
    assert lines[("multi",)] == 3 and ("fake",) not in lines and ("fake", "table") not in lines
    assert lines[("lit",)] == 7 and ("also",) not in lines
    assert lines[("arr",)] == 10 and lines[("arr", "inline")] == 12 and lines[("arr", "quoted.key")] == 12
    assert lines[("a",)] == 15 and lines[("a", "b", "c")] == 16 and lines[("a", "d.e")] == 17
    assert lines[("items", "name")] == 20
    assert lines[("a", "sub")] == 22 and lines[("a", "sub", "k")] == 23
    tomllib.loads(TRICKY)  # the fixture is valid TOML


scalars = st.one_of(
    st.booleans(), st.integers(-10**12, 10**12),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4))
keys = st.text(min_size=1, max_size=8)
tables = st.recursive(st.dictionaries(keys, values, max_size=4),
                      lambda children: st.dictionaries(keys, st.one_of(values, children), max_size=4), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(tables)
def test_writer_round_trips_through_tomllib(data):
    text = dumps(data)
    def norm(d):  # empty sub-tables survive as {} either way
        return {k: norm(v) if isinstance(v, dict) else v for k, v in d.items()}
    assert tomllib.loads(text) == norm(data)
    assert dumps(data) == text


def test_resolved_spec_round_trip_keeps_hash_and_gated_alpha(tmp_path):
    spec_file = tmp_path / "s.toml"
    spec_file.write_text('[experiment]\nname = "t"\n[judge]\ncheckpoint = "/c"\n'
                         '[sweep]\ngrid = { "rl.lr" = [1e-6, 2e-6] }\n')
    for run in expand(load_spec(spec_file)):
        text = dump_resolved(run.spec)
        assert "alpha" not in text  # gated, never set
        (tmp_path / "spec.resolved.toml").write_text(text)
        again = load_resolved(tmp_path)
        assert spec_hash(again) == run.spec_hash
        assert dump_resolved(again) == text
        assert again == run.spec


def test_every_example_spec_round_trips(repo_root):
    for path in sorted((repo_root / "specs").glob("*.toml")):
        for run in expand(load_spec(path)):
            again = Spec.model_validate(tomllib.loads(dump_resolved(run.spec)))
            assert spec_hash(again) == run.spec_hash, path
