"""Seeded fuzzing of the shipped specs and recipes: a few hundred mutations (broken TOML, hostile
values, wrong types, `--set` overrides of every known key) each end in a compiled run or one
UserError that names a file and a key or line (exit 2, no traceback); every compiled sbatch script
passes `bash -n`."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from rcstudio.compile import compile_run
from rcstudio.errors import UserError
from rcstudio.spec import expand, load_spec
from rcstudio.spec.keys import fields_at

REPO = Path(__file__).resolve().parents[2]
SEED = 15
MUTATIONS = 300
RUNS_PER_SPEC = 2  # compile at most this many runs of a mutated sweep

HOSTILE = [
    '"v\\n"', '"\\u001b]0;PWNED\\u0007"', '"; rm -rf $HOME"', '"$(touch PWNED)"', '"`id`"', '"a\\"b"', "''",
    '"' + "x" * 300 + '"', "-1", "0", "1e309", "-1e309", "inf", "nan", "99999999999999999999", "true", "[]",
    '["a", 1]', "{}", '{ a = 1 }', '"../../etc"', '"/tmp/x y"', '"pkg://nope/x"', '"${env:NOPE_NOT_SET}"',
    '"${env:HOME}"', '"sk-abcdefghijklmnopqrstuvwxyz012345"', '"http://u:p@h/v1"', "3.5", '"é中\\u0000"',
]


def _known_keys() -> list[str]:
    keys = []
    for section in fields_at(()) or []:
        sub = fields_at((section,))
        if sub:
            keys += [f"{section}.{k}" for k in sub if fields_at((section, k)) is None]
        else:
            keys.append(section)
    return keys


def _sources() -> list[Path]:
    return sorted((REPO / "specs").glob("*.toml")) + sorted((REPO / "recipes").rglob("*.toml"))


def _mutate(text: str, rng: random.Random, keys: list[str]) -> tuple[str, list[str]]:
    lines = text.splitlines()
    op = rng.randrange(9)
    sets: list[str] = []
    if op == 0 and lines:  # drop a line
        del lines[rng.randrange(len(lines))]
    elif op == 1 and lines:  # duplicate a line (duplicate keys, tables)
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
    elif op == 2:  # replace a value
        assigns = [i for i, ln in enumerate(lines) if "=" in ln and not ln.lstrip().startswith("#")]
        if assigns:
            i = rng.choice(assigns)
            lines[i] = lines[i].split("=", 1)[0] + "= " + rng.choice(HOSTILE)
    elif op == 3:  # truncate
        cut = rng.randrange(len(text) + 1)
        return text[:cut], sets
    elif op == 4:  # random bytes / characters
        pos = rng.randrange(len(text) + 1)
        junk = "".join(rng.choice('[]{}="\'\\\n#.,x1\x00\x1b é') for _ in range(rng.randint(1, 6)))
        return text[:pos] + junk + text[pos:], sets
    elif op == 5:  # an unknown or misspelled key in a table
        lines.append(f"[{rng.choice(['rl', 'reward', 'judge', 'cluster', 'nope'])}]")
        key = rng.choice(["lrr", "alpha", "x.y", "name", '"a b"'])
        lines.append(f"{key} = {rng.choice(HOSTILE)}")
    elif op == 6:  # a hostile sweep or variant
        lines.append("[sweep]")
        lines.append(f'grid = {{ "{rng.choice(keys)}" = [{rng.choice(HOSTILE)}, {rng.choice(HOSTILE)}] }}')
    elif op == 7:
        name = rng.choice(["ok", '"v\\n"', '"a b"', '"' + "v" * 80 + '"', '".."', '"-x"'])
        key = rng.choice(keys)
        lines.append(f"[variants.{name}]")
        lines.append("enabled = true")
        lines.append(f'"{key}" = {rng.choice(HOSTILE)}')
    else:  # --set overrides of known keys
        for _ in range(rng.randint(1, 3)):
            sets.append(f"{rng.choice(keys)}={rng.choice(HOSTILE)}")
    return "\n".join(lines) + "\n", sets


def test_mutated_specs_compile_or_fail_with_a_located_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    rng = random.Random(SEED)
    keys = _known_keys()
    sources = [(p, p.read_text()) for p in _sources()]
    outcomes = {"compiled": 0, "user_error": 0}
    scripts = []
    for n in range(MUTATIONS):
        source, text = rng.choice(sources)
        mutated, sets = _mutate(text, rng, keys)
        # a recipe is a spec too; its copy sits where its own relative paths still resolve
        path = tmp_path / f"m{n:03d}-{source.name}"
        path.write_text(mutated, encoding="utf-8")
        try:
            runs = expand(load_spec(path, sets))[:RUNS_PER_SPEC]
            for run in runs:
                compiled = compile_run(run, tmp_path / "out" / f"{n:03d}" / run.run_id)
                if compiled.plan.script is not None:
                    scripts.append(compiled.plan.script)
            outcomes["compiled"] += 1
        except UserError as exc:
            outcomes["user_error"] += 1
            loc = exc.location
            context = f"mutation {n} of {source.name} (--set {sets}): {exc.render()}"
            assert loc.file, context
            assert loc.key or loc.line, context
            rendered = exc.render()
            assert "\x1b" not in rendered and "\x00" not in rendered, context
        # anything else propagates: a traceback, which is the bug this test exists to catch
    assert outcomes["compiled"] > 20 and outcomes["user_error"] > 100, outcomes
    assert scripts
    for script in scripts:
        proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert proc.returncode == 0, (script, proc.stderr)


@pytest.mark.parametrize("n", range(3))
def test_the_cli_exits_0_or_2_without_traceback_on_mutations(tmp_path, n):
    rng = random.Random(SEED * 100 + n)
    source = rng.choice(_sources())
    mutated, sets = _mutate(source.read_text(), rng, _known_keys())
    path = tmp_path / source.name
    path.write_text(mutated)
    args = [sys.executable, "-m", "rcstudio", "compile", str(path), "--out", str(tmp_path / "out")]
    for s in sets:
        args += ["--set", s]
    proc = subprocess.run(args, capture_output=True, text=True, env=os.environ, timeout=120)
    assert proc.returncode in (0, 2) and "Traceback" not in proc.stderr, proc.stderr[-3000:]
