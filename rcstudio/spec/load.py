"""Loading a spec: TOML -> extends chain -> `--set` -> `${env:...}` -> absolute paths -> validated `Spec`.

Every problem becomes one `UserError` naming the file, line and dotted key it came from, with a
suggestion where one helps. Lines are tracked per key through the extends chain, so an error in a
value inherited from a recipe points into the recipe file.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rcstudio.engines import registry as engines
from rcstudio.errors import UserError
from rcstudio.spec import keys as speckeys
from rcstudio.spec.models import Spec, SpecConflict, flatten_variant
from rcstudio.spec.recipes import find_recipe, list_recipes
from rcstudio.spec.toml_lines import line_map

OVERRIDE_FILE = "--set"
RESERVED_KEYS = ("sweep", "variants", "extends")  # top-level keys a sweep point or a variant cannot set
ENV_RE = re.compile(r"\$\{env:([^,}]*)(?:,([^}]*))?\}")
SECRET_NAME_RE = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
# Values that look like credentials pasted into a spec (OpenAI, HF, W&B, GitHub, AWS).
SECRET_VALUE_RE = re.compile(
    r"(?<![A-Za-z0-9])(sk-[A-Za-z0-9_-]{20,}|hf_[A-Za-z0-9]{30,}|gh[pousr]_[A-Za-z0-9]{30,}|AKIA[0-9A-Z]{16})"
)
# A bare 40-hex value is what a W&B API key looks like (inside a path it is a commit: fine).
WANDB_KEY_RE = re.compile(r"[0-9a-f]{40}")
# `${env:NAME}` is expanded with a regex, not OmegaConf: spec strings also hold shell text such as
# `${SLURM_JOB_ID}` in cluster.setup, which OmegaConf would try to resolve as config keys.


@dataclass
class Origins:
    """Dotted key -> (file, line) for every key written anywhere in the extends chain.

    Files are scanned for line numbers only when an error needs one (the scan costs more than
    parsing), in the order they were added: later files win, `--set` keys win over all.
    """

    main_file: str = ""
    _sources: list[tuple[str, str]] = field(default_factory=list)
    _overrides: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    _where: dict[str, tuple[str, int | None]] | None = None

    def __eq__(self, other: object) -> bool:
        # Where keys were written is metadata: two specs with equal values are equal specs.
        return isinstance(other, Origins)

    __hash__ = None  # type: ignore[assignment]

    def add_file(self, file: str, text: str) -> None:
        self._sources.append((file, text))
        self._where = None

    def add_override(self, dotted: str) -> None:
        self._overrides[dotted] = (OVERRIDE_FILE, None)
        self._where = None

    @property
    def where(self) -> dict[str, tuple[str, int | None]]:
        if self._where is None:
            where: dict[str, tuple[str, int | None]] = {}
            for file, text in self._sources:
                for path, line in line_map(text).items():
                    where[".".join(path)] = (file, line)
            where.update(self._overrides)
            self._where = where
        return self._where

    def locate(self, dotted: str) -> tuple[str, int | None]:
        parts = dotted.split(".")
        where = self.where
        for n in range(len(parts), 0, -1):
            hit = where.get(".".join(parts[:n]))
            if hit:
                return hit
        return (self.main_file, None)

    def error(self, key: str, message: str, hint: str | None = None) -> UserError:
        file, line = self.locate(key)
        return UserError(message, file=file or None, line=line, key=key or None, hint=hint)


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parsed TOML plus its text; a syntax error becomes a UserError at its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"no such spec file: {path}", hint="check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column \d+\)", msg)
        raise UserError(
            f"invalid TOML: {re.sub(r' ?[(]at line.*[)]', '', msg)}",
            file=path, line=int(m.group(1)) if m else None,
            hint="check quotes, brackets and '=' on that line",
        ) from None
    return data, text


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; any other value (lists included) is replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _resolve_extends(name: str, spec_file: Path, origins: Origins) -> Path:
    if not isinstance(name, str) or not name:
        raise origins.error("extends", "must be a recipe name or a path to a spec")
    relative = (spec_file.parent / name).expanduser()
    for candidate in (relative, relative.with_suffix(".toml") if relative.suffix != ".toml" else relative):
        if candidate.is_file():
            return candidate.resolve()
    recipe = find_recipe(name)
    if recipe is not None:
        return recipe.resolve()
    hint = speckeys.suggest(name, list_recipes())
    raise origins.error(
        "extends", f"no recipe or file named {name!r}",
        hint or "see `rcstudio recipes list`, or give a path relative to this spec")


def load_tree(path: Path, origins: Origins, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The spec file merged over everything it extends (recursively); cycles are errors."""
    path = path.resolve()
    if path in chain:
        cycle = " -> ".join(p.name for p in chain + (path,))
        raise UserError(f"extends forms a cycle: {cycle}", file=chain[-1], key="extends",
                        hint="remove one of the extends lines")
    data, text = read_toml(path)
    own = Origins(main_file=str(path))
    own.add_file(str(path), text)
    base: dict[str, Any] = {}
    if "extends" in data:
        parent = _resolve_extends(data["extends"], path, own)
        base = load_tree(parent, origins, chain + (path,))
    origins.add_file(str(path), text)
    merged = deep_merge(base, data)
    merged.pop("extends", None)
    return merged


def parse_override(text: str) -> tuple[str, Any]:
    """`key=value` with the value read as TOML (`0.5`, `true`, `[1, 2]`, `"s"`), else a plain string."""
    if "=" not in text:
        raise UserError(f"override {text!r} is not key=value", key=None,
                        hint="write e.g. --set rl.lr=1e-6")
    key, raw = text.split("=", 1)
    key, raw = key.strip(), raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def key_parts(key: str) -> tuple[str, ...]:
    """A `--set` key split as TOML splits it: `variants.v."judge.model"` -> (variants, v, judge.model)."""
    try:
        node: Any = tomllib.loads(f"{key} = 0")
    except tomllib.TOMLDecodeError:
        raise UserError(f"{key!r} is not a dotted key like rl.lr", file=OVERRIDE_FILE, key=key or None,
                        hint='quote a segment holding dots or spaces: variants.NAME."judge.model"=...') from None
    parts: list[str] = []
    while isinstance(node, dict):
        (part, node), = node.items()
        parts.append(part)
    return tuple(parts)


def _set_variant_key(data: dict[str, Any], parts: tuple[str, ...], value: Any, text: str,
                     origins: Origins) -> None:
    """`variants.NAME.<dotted key>`: replace that key of the variant (nested or quoted alike)."""
    dotted = ".".join(parts)
    variants = data.get("variants", {})
    if not isinstance(variants, dict):
        raise origins.error("variants", "must be a table", "write [variants.NAME] tables of dotted keys")
    if len(parts) < 3:
        raise UserError(f"--set {text} names no key of a variant", file=OVERRIDE_FILE, key=dotted,
                        hint=f'e.g. --set variants.{parts[1] if len(parts) > 1 else "NAME"}.enabled=true')
    if parts[1] not in variants:
        hint = speckeys.suggest(parts[1], variants)
        raise UserError(f"no variant named {parts[1]!r} in this spec", file=OVERRIDE_FILE, key=dotted,
                        hint=hint or "define it under [variants.NAME] first")
    if not isinstance(variants[parts[1]], dict):
        raise origins.error(".".join(parts[:2]), "must be a table", "write [variants.NAME] tables of dotted keys")
    inner = ".".join(parts[2:])
    if inner != "enabled":
        problem = speckeys.check_key(inner)
        if not problem and parts[2] in RESERVED_KEYS:
            problem = ("a variant cannot set this key", None)
        if problem:
            raise UserError(f"{problem[0]} (in --set {text})", file=OVERRIDE_FILE, key=dotted,
                            hint=problem[1] or 'a variant sets spec keys, e.g. "judge.model"')
    variants[parts[1]] = flatten_variant(variants[parts[1]]) | {inner: value}


def apply_overrides(data: dict[str, Any], overrides: Sequence[str], origins: Origins) -> dict[str, Any]:
    """`--set` keys over the merged tree; keys may quote segments as TOML does (variant keys)."""
    for text in overrides:
        key, value = parse_override(text)
        parts = key_parts(key)
        dotted = ".".join(parts)
        origins.add_override(dotted)
        if parts[0] == "variants":
            _set_variant_key(data, parts, value, text, origins)
            continue
        if parts[0] == "sweep" and len(parts) > 2:
            # sweep.grid.<dotted key> = [...]: the rest is one key
            table = data.setdefault("sweep", {}).setdefault(parts[1], {})
            table[".".join(parts[2:])] = value if isinstance(value, list) else [value]
            continue
        problem = speckeys.check_key(dotted)
        if dotted == "extends":
            problem = ("extends cannot be set with --set", "write extends = \"...\" in the spec file")
        if problem:
            raise UserError(f"{problem[0]} (in --set {text})", file=OVERRIDE_FILE, key=dotted, hint=problem[1])
        speckeys.set_dotted(data, dotted, value)
    return data


def interpolate_env(data: Any, origins: Origins, path: str = "") -> Any:
    """Replace `${env:NAME}` / `${env:NAME,default}` in strings; secret-looking names are refused."""
    if isinstance(data, dict):
        return {k: interpolate_env(v, origins, f"{path}.{k}" if path else k) for k, v in data.items()}
    if isinstance(data, list):
        return [interpolate_env(v, origins, path) for v in data]
    if not isinstance(data, str) or "${env:" not in data:
        return data

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1).strip(), match.group(2)
        if not name:
            raise origins.error(path, "empty variable name in ${env:...}")
        if SECRET_NAME_RE.search(name):
            raise origins.error(
                path, f"${{env:{name}}} looks like a secret; secrets never go into specs or compiled files",
                "name the variable in a *_env field (e.g. api_key_env) and the job reads it at run time")
        value = os.environ.get(name)
        if value is None:
            if default is None:
                raise origins.error(path, f"environment variable {name} is not set",
                                    f"export {name}=... or write ${{env:{name},default}}")
            return default
        return value

    return ENV_RE.sub(sub, data)


def reject_secret_values(data: Any, origins: Origins, path: str = "") -> None:
    if isinstance(data, dict):
        for k, v in data.items():
            reject_secret_values(v, origins, f"{path}.{k}" if path else k)
    elif isinstance(data, list):
        for v in data:
            reject_secret_values(v, origins, path)
    elif isinstance(data, str):
        if SECRET_VALUE_RE.search(data) or WANDB_KEY_RE.fullmatch(data.strip()):
            raise origins.error(path, "this value looks like a credential; secrets never go into specs",
                                "put it in an environment variable and name that variable (api_key_env)")


# Keys holding file paths. A relative path is read relative to the folder of the file that wrote it
# (spec or recipe, through extends chains); a `--set` value relative to the current directory.
PATH_KEYS = ("data.train", "data.eval", "decompose.input", "decompose.output", "reward.matcher.matches_file",
             "judge.prompt_template")
# A value is a path when it holds "/" or ends in one of these; anything else (`hs3-atomic`,
# `rcstudio-genrm-v1`) is a benchmark or built-in name. `scheme://...` and absolute paths stay.
PATH_SUFFIXES = (".jsonl", ".json", ".txt", ".jinja", ".j2", ".tmpl", ".md", ".csv", ".parquet", ".yaml", ".yml",
                 ".toml")


def looks_like_path(value: str) -> bool:
    return bool(value) and "://" not in value and ("/" in value or value.lower().endswith(PATH_SUFFIXES))


def relative_path(value: str) -> str | None:
    """The relative path `value` names (the part after `bench=` for a benchmark entry), or None."""
    name, sep, rest = value.partition("=")
    if sep and "/" not in name and looks_like_path(rest):
        value = rest
    if not looks_like_path(value) or value.startswith("~") or Path(value).is_absolute():
        return None
    return value


def absolute_path(value: str, base: Path) -> str:
    """`value` with its relative path made absolute against `base` (a `bench=` name kept); else
    unchanged. The file need not exist: an earlier job may write it."""
    rel = relative_path(value)
    if rel is None:
        return value
    return value[: len(value) - len(rel)] + str((base / rel).resolve())


def _path_leaves(node: dict[str, Any], prefix: str = ""):
    """(table, key, dotted key) of every value under `node`, nested or quoted-dotted keys alike."""
    for key, value in node.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            yield from _path_leaves(value, dotted)
        else:
            yield node, key, dotted


def resolve_relative_paths(data: dict[str, Any], origins: Origins) -> None:
    """Make relative paths in PATH_KEYS absolute (also where variants or sweeps set those keys),
    so jobs, which run in their run dir, read the files the spec meant."""

    def fix(value: Any, where: str) -> Any:
        if isinstance(value, list):  # data.train lists, and sweep values (lists of those)
            return [fix(v, where) for v in value]
        if not isinstance(value, str) or relative_path(value) is None:
            return value
        file = origins.locate(where)[0] or origins.main_file
        return absolute_path(value, Path.cwd() if file == OVERRIDE_FILE else Path(file).parent)

    for table, key, dotted in list(_path_leaves(data)):
        parts = dotted.split(".")
        if parts[0] in ("variants", "sweep"):  # variants.NAME.<key>, sweep.grid.<key>
            parts = parts[2:]
        if ".".join(parts) in PATH_KEYS:
            table[key] = fix(table[key], dotted)


def error_from_validation(exc: ValidationError, origins: Origins) -> UserError:
    """The first pydantic error as a UserError pointing at the user's line."""
    errors = exc.errors(include_url=False)
    err = errors[0]
    more = f" ({len(errors) - 1} more problem(s) after this one)" if len(errors) > 1 else ""
    loc = [str(p) for p in err["loc"]]
    conflict = (err.get("ctx") or {}).get("error")
    if isinstance(conflict, SpecConflict):
        return origins.error(conflict.key, conflict.message + more, conflict.hint)  # keys are absolute
    key = ".".join(p for p in loc if not p.isdigit())
    kind = err["type"]
    hint = None
    old = speckeys.moved(key) if kind == "extra_forbidden" else None
    if old is not None:
        message, hint = old
    elif kind == "extra_forbidden":
        parent = tuple(loc[:-1])
        choices = speckeys.fields_at(tuple(p for p in parent if not p.isdigit())) or []
        hint = speckeys.suggest(loc[-1], choices)
        message = f"unknown key {loc[-1]!r}"
        if not hint and choices:
            hint = "known keys here: " + ", ".join(choices)
    elif kind == "missing":
        message = "is required"
    elif kind == "literal_error":
        expected = (err.get("ctx") or {}).get("expected", "")
        message = f"{err['input']!r} is not allowed; expected {expected}"
        options = re.findall(r"'([^']*)'", expected)
        hint = speckeys.suggest(str(err["input"]), options) if options else None
    else:
        message = re.sub(r"^(Value error|Assertion failed), ", "", err["msg"])
        if "input" in err and not isinstance(err["input"], (dict, list)):
            message += f" (got {err['input']!r})"
    return origins.error(key, message + more, hint)


def validate(data: dict[str, Any], origins: Origins) -> Spec:
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        raise error_from_validation(exc, origins) from None


def load_spec(path: str | Path, overrides: Sequence[str] = ()) -> Spec:
    """Read, merge, override, interpolate and validate a spec file (raises UserError)."""
    path = Path(path)
    origins = Origins(main_file=str(path))
    data = load_tree(path, origins)
    origins.main_file = str(path.resolve())
    data = apply_overrides(data, overrides, origins)
    reject_secret_values(data, origins)
    data = interpolate_env(data, origins)
    resolve_relative_paths(data, origins)
    spec = validate(data, origins)
    check_sweep_keys(spec, origins)
    check_engine_keys(spec, origins)
    spec._origins = origins  # noqa: SLF001 - private attr; used by expand() to locate errors
    return spec


def check_sweep_keys(spec: Spec, origins: Origins) -> None:
    """Every swept or variant key must be a settable spec key."""
    keys = [(f"sweep.{table}.{dotted}", dotted, "cannot sweep this key")
            for table in ("grid", "zip") for dotted in getattr(spec.sweep, table)]
    keys += [(f"variants.{name}.{dotted}", dotted, "a variant cannot set this key")
             for name, variant in spec.variants.items() for dotted in variant.overrides]
    for where, dotted, reserved in keys:
        problem = speckeys.check_key(dotted)
        if problem or dotted.split(".")[0] in RESERVED_KEYS:
            msg, hint = problem or (reserved, None)
            raise origins.error(where, msg, hint)


def _engine_key(dotted: str) -> str | None:
    """The engine that reads `dotted` when it is a key of an engine table (`rl.<table>.<key>`)."""
    parts = dotted.split(".")
    return engines.engine_of_table(parts[1]) if len(parts) >= 3 and parts[0] == "rl" else None


def check_engine_keys(spec: Spec, origins: Origins) -> None:
    """A key of one engine's table written where no run of the spec selects that engine is an error.

    Checked: keys the spec file itself or `--set` writes (against every engine some run of the spec
    selects: rl.engine, a variant's "rl.engine", swept rl.engine values), each variant's keys
    (against that variant's engine) and swept keys. Engine keys inherited through `extends` from a
    recipe written for another engine are not the user's mistake: the resolved spec of a run holds
    only its own engine's table, so they do not reach the run (and `rcstudio compile` shows it).
    """
    selected = spec.rl.engine
    variant_engines = {name: str(v.overrides.get("rl.engine", selected)) for name, v in spec.variants.items()}
    swept = [str(e) for t in (spec.sweep.grid, spec.sweep.zip) for e in t.get("rl.engine", [])]
    in_use = {selected, *variant_engines.values(), *swept}
    own = {origins.main_file, OVERRIDE_FILE}

    def fail(where: str, reader: str, runs: str, fix: str) -> UserError:
        return origins.error(
            where, f"only the {reader} engine reads this key, but {runs}",
            f'{fix}, or remove the key (engine-only keys live in [rl.{engines.table_of(reader)}] '
            f'and take effect only with rl.engine = "{reader}")')

    for dotted, (file, _line) in origins.where.items():
        reader = _engine_key(dotted)
        if reader is None or reader in in_use or file not in own:
            continue
        raise fail(dotted, reader, f'rl.engine = "{selected}" and no run of this spec selects {reader}',
                   f'set rl.engine = "{reader}" (or in the [variants.NAME] that uses it)')
    for name, engine in variant_engines.items():
        for dotted in spec.variants[name].overrides:
            reader = _engine_key(dotted)
            if reader is not None and reader != engine:
                raise fail(f"variants.{name}.{dotted}", reader, f'variant {name} runs on rl.engine = "{engine}"',
                           f'set "rl.engine" = "{reader}" in this variant')
    for table in ("grid", "zip"):
        for dotted in getattr(spec.sweep, table):
            reader = _engine_key(dotted)
            if reader is not None and reader not in in_use:
                raise fail(f"sweep.{table}.{dotted}", reader, f'rl.engine = "{selected}" in every run',
                           f'set rl.engine = "{reader}"')
