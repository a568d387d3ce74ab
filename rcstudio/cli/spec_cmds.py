"""Spec commands: init, validate, schema, compile, recipes list|show.

Thin: parse arguments, call rcstudio.spec / rcstudio.compile, print. `--json` prints one object on
stdout and nothing else.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Optional

import typer

from rcstudio.cli.common import SET_HELP, echo_json
from rcstudio.errors import UserError
from rcstudio.spec.models import TRAINING_KINDS


def _runs_summary(runs) -> list[dict[str, Any]]:
    return [{"run_id": r.run_id, "name": r.name, "point": r.point, "spec_hash": r.spec_hash} for r in runs]


def init(
    path: Path = typer.Argument(Path("spec.toml"), help="Where to write the spec."),
    recipe: Optional[str] = typer.Option(None, "--recipe", "-r", help="Start from a recipe (rcstudio recipes list)."),
    name: Optional[str] = typer.Option(None, "--name", help="Experiment name (default: the file's stem)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented starter spec (a NeMo-Aligner GenRM training spec, or one extending a recipe)."""
    from rcstudio.spec.load import load_spec
    from rcstudio.spec.recipes import find_recipe, list_recipes
    from rcstudio.spec.keys import suggest

    if path.exists() and not force:
        raise UserError(f"{path} already exists", hint="pick another path or pass --force")
    from rcstudio.spec.models import NAME_RE

    if name is not None and not NAME_RE.match(name):
        raise UserError(f"experiment name {name!r} may only hold letters, digits, '_', '.' and '-'", key="--name")
    exp_name = name or re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).strip("-") or "experiment"
    if recipe:
        if find_recipe(recipe) is None:
            hint = suggest(recipe, list_recipes())
            raise UserError(f"no recipe named {recipe!r}", key="--recipe", hint=hint or "see `rcstudio recipes list`")
        text = (
            f"# rcstudio spec starting from the recipe {recipe!r} (`rcstudio recipes show {recipe}`).\n"
            "# Any key set here overrides the recipe's; `rcstudio validate` checks the result.\n"
            f'extends = "{recipe}"\n\n[experiment]\nname = "{exp_name}"\n'
        )
    else:
        from importlib import resources

        text = resources.files("rcstudio.spec").joinpath("starter.toml").read_text(encoding="utf-8")
        text = text.replace('name = "my-genrm"', f'name = "{exp_name}"', 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    try:
        load_spec(tmp)  # the starter must validate as written
    except UserError:
        tmp.unlink()
        raise
    tmp.replace(path)
    typer.echo(f"wrote {path}" + (f" (extends {recipe})" if recipe else "")
               + f"\nnext: rcstudio validate {path} && rcstudio compile {path} --out build")


def validate(
    spec: Path = typer.Argument(..., help="Spec file (TOML)."),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """Check a spec: syntax, keys, types, impossible combinations, sweep points, compile-time checks."""
    from rcstudio.compile import engine_for
    from rcstudio.spec import expand, load_spec

    loaded = load_spec(spec, set_)
    runs = expand(loaded)
    for run in runs:
        engine = engine_for(run)
        if engine is not None:
            engine.check_run(run)
    if as_json:
        echo_json({"ok": True, "spec": str(spec), "experiment": loaded.experiment.name,
                    "kind": loaded.experiment.kind, "engine": loaded.rl.engine, "runs": _runs_summary(runs)})
        return
    kind = loaded.experiment.kind
    what = f"{kind}, {loaded.rl.engine}" if kind in TRAINING_KINDS else kind
    typer.echo(f"ok: {spec}: experiment {loaded.experiment.name} ({what}), "
               f"{len(runs)} run{'s' if len(runs) != 1 else ''}")
    for run in runs:
        typer.echo(f"  {run.run_id}  {run.name}")


def schema(
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write to a file instead of stdout."),
) -> None:
    """Print the spec's JSON Schema (for taplo / Even Better TOML completion and checking)."""
    from rcstudio.spec.models import Spec

    doc = Spec.model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc.setdefault("title", "rcstudio experiment spec")
    text = json.dumps(doc, indent=2)
    if out:
        out.write_text(text + "\n")
        typer.echo(f"wrote {out}")
    else:
        typer.echo(text)


def compile_cmd(
    spec: Path = typer.Argument(..., help="Spec file (TOML)."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory; one run dir per run is written under it."),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """Write every artifact each run would execute (resolved spec, overrides, config, sbatch script)."""
    from rcstudio.compile import compile_run, plan_artifacts
    from rcstudio.spec import expand, load_spec

    loaded = load_spec(spec, set_)
    runs = expand(loaded)
    out = out.absolute()
    # Check every run before writing any, so a bad sweep point leaves nothing half-written.
    for run in runs:
        plan_artifacts(run, out / run.run_id)
    compiled = [compile_run(run, out / run.run_id) for run in runs]
    if as_json:
        echo_json({"spec": str(spec), "out": str(out), "runs": [
            {**_runs_summary([c.run])[0], "run_dir": str(c.run_dir), "mode": c.plan.mode,
             "script": str(c.plan.script) if c.plan.script else None, "argv": c.plan.argv,
             "files": [str(f) for f in c.files]} for c in compiled]})
        return
    typer.echo(f"compiled {len(compiled)} run{'s' if len(compiled) != 1 else ''} of "
               f"{loaded.experiment.name} into {out}")
    for c in compiled:
        point = ", ".join(f"{k}={v}" for k, v in c.run.point.items()) or "-"
        launch = (f"sbatch {c.plan.script.relative_to(c.run_dir)}" if c.plan.mode == "sbatch"
                  else " ".join(c.plan.argv[:2]) + " (submitit)")
        typer.echo(f"  {c.run.run_id}  {c.run.name}  [{point}]  {launch}")
        typer.echo(f"      {', '.join(str(f) for f in c.files)}")


def recipes_list(as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout.")) -> None:
    """List recipes (shipped in rcstudio/recipes/ and in $RCSTUDIO_RECIPES)."""
    from rcstudio.spec.recipes import list_recipes, recipe_description

    found = list_recipes()
    if as_json:
        echo_json({"recipes": [{"name": n, "path": str(p), "description": recipe_description(p)}
                                for n, p in found.items()]})
        return
    if not found:
        typer.echo("no recipes found (rcstudio/recipes/ in the package, or set RCSTUDIO_RECIPES)")
        return
    width = max(len(n) for n in found)
    for n, p in found.items():
        typer.echo(f"{n:<{width}}  {recipe_description(p)}")


def recipes_show(
    name: str = typer.Argument(..., help="Recipe name, e.g. rationalerm/genrm-gated."),
    resolved: bool = typer.Option(False, "--resolved", help="Show the recipe merged over what it extends."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """Print a recipe's TOML (or the merged result of its extends chain with --resolved)."""
    from rcstudio.spec.keys import suggest
    from rcstudio.spec.load import Origins, load_tree
    from rcstudio.spec.recipes import find_recipe, list_recipes
    from rcstudio.spec import toml_write

    path = find_recipe(name)
    if path is None:
        hint = suggest(name, list_recipes())
        raise UserError(f"no recipe named {name!r}", hint=hint or "see `rcstudio recipes list`")
    text = toml_write.dumps(load_tree(path, Origins())) if resolved else path.read_text()
    if as_json:
        echo_json({"name": name, "path": str(path), "text": text})
    else:
        typer.echo(f"# {path}")
        typer.echo(text, nl=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("init")(init)
    app.command("validate")(validate)
    app.command("schema")(schema)
    app.command("compile")(compile_cmd)
    recipes = typer.Typer(help="Named base specs a spec can extend.", no_args_is_help=True)
    recipes.command("list")(recipes_list)
    recipes.command("show")(recipes_show)
    app.add_typer(recipes, name="recipes")
