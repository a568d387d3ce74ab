"""Finding recipes: named base specs a spec can `extends = "rationalerm/genrm-gated"`.

Searched in `$RCSTUDIO_RECIPES` (os.pathsep-separated directories) first, then the recipes shipped
inside the package (`rcstudio/recipes/`, package data: found from any install, editable or not).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import rcstudio


def recipe_dirs() -> list[Path]:
    dirs = [Path(p).expanduser() for p in os.environ.get("RCSTUDIO_RECIPES", "").split(os.pathsep) if p]
    dirs.append(Path(str(resources.files(rcstudio).joinpath("recipes"))))
    return [d for d in dirs if d.is_dir()]


def list_recipes() -> dict[str, Path]:
    """Recipe name (path under a recipes dir, without .toml) -> file; earlier dirs win."""
    found: dict[str, Path] = {}
    for root in recipe_dirs():
        for path in sorted(root.rglob("*.toml")):
            name = path.relative_to(root).with_suffix("").as_posix()
            found.setdefault(name, path)
    return dict(sorted(found.items()))


def find_recipe(name: str) -> Path | None:
    for root in recipe_dirs():
        candidate = root / f"{name}.toml"
        if candidate.is_file():
            return candidate
    return None


def recipe_description(path: Path) -> str:
    """The recipe's experiment.description, or its first comment line."""
    import tomllib

    try:
        text = path.read_text()
        data = tomllib.loads(text)
    except (OSError, ValueError):
        return ""
    desc = (data.get("experiment") or {}).get("description") or ""
    if desc:
        return str(desc)
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""
