"""Compose overrides with verl's packaged Hydra configs, check value types, run `validate_config`.

Runs where verl is importable (`env.verl_python()`); `check_many` is the whole job, and
`python -m rcstudio.engines.verl.check` runs it on JSON from stdin for a compiler whose Python
lacks verl. Hydra's compose API fails on a misspelled key but accepts a wrongly typed value, so
each override's value is also checked against the type of the key in verl's config (its default
value, or the `_target_` dataclass field when the default is null/missing).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
import typing
import warnings
from pathlib import Path
from typing import Any

CONFIG_NAME = "ppo_trainer"

# Keys whose type the YAML default does not tell (no `_target_` dataclass, or a null default); from
# the code that reads them: verl/utils/dataset/rl_dataset.py (files: a path or a list of paths),
# verl/utils/tracking.py (logger: one name or a list), verl/trainer/ppo/ray_trainer.py (steps, ckpts).
KNOWN_TYPES: dict[str, tuple[type, ...]] = {
    "data.train_files": (str, list),
    "data.val_files": (str, list),
    "trainer.logger": (str, list),
    "trainer.total_training_steps": (int, type(None)),
    "trainer.resume_from_path": (str, type(None)),
    "trainer.max_actor_ckpt_to_keep": (int, type(None)),
    "trainer.rollout_data_dir": (str, type(None)),
    "reward.custom_reward_function.path": (str, type(None)),
}


def config_dir() -> Path:
    """verl/trainer/config inside the installed wheel (found without importing verl)."""
    spec = importlib.util.find_spec("verl")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("verl is not importable")
    return Path(list(spec.submodule_search_locations)[0]) / "trainer" / "config"


def compose(overrides: list[str]) -> Any:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with initialize_config_dir(version_base=None, config_dir=str(config_dir()), job_name="rcstudio"):
            return hydra_compose(config_name=CONFIG_NAME, overrides=list(overrides))


@functools.lru_cache(maxsize=1)
def _base() -> Any:
    return compose([])


@functools.lru_cache(maxsize=1)
def _parser() -> Any:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create()


def _field_type(cfg: Any, key: str) -> Any:
    """The annotation of `key`'s field in its parent's `_target_` dataclass (None if unknown)."""
    from omegaconf import OmegaConf

    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    target = node.get("_target_") if hasattr(node, "get") else None
    if not target:
        return None
    module, _, name = str(target).rpartition(".")
    try:
        cls = getattr(__import__(module, fromlist=[name]), name)
        return typing.get_type_hints(cls).get(leaf)
    except Exception:  # a target that does not import here (GPU-only code): no annotation check
        return None


def _allowed(annotation: Any) -> tuple[type, ...] | None:
    """Python types a value of `annotation` may have (None = anything / not a simple type)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        out: list[type] = []
        for arg in typing.get_args(annotation):
            sub = _allowed(arg)
            if sub is None:
                return None
            out.extend(sub)
        return tuple(out)
    if annotation is type(None):
        return (type(None),)
    if annotation is bool:
        return (bool,)
    if annotation is int:
        return (int,)
    if annotation is float:
        return (int, float)
    if annotation is str:
        return (str,)
    return None


def _expected(default: Any) -> tuple[type, ...] | None:
    if isinstance(default, bool):
        return (bool,)
    if isinstance(default, int):
        return (int,)
    if isinstance(default, float):
        return (int, float)
    if isinstance(default, str):
        return (str,)
    return None


def type_error(key: str, value: Any) -> str | None:
    """Why `value` cannot be `key` in verl's config, or None."""
    from omegaconf import OmegaConf

    if key in KNOWN_TYPES:
        allowed_known = KNOWN_TYPES[key]
        if isinstance(value, bool) and bool not in allowed_known or not isinstance(value, allowed_known):
            return f"is {value!r} ({type(value).__name__}); verl expects " + "/".join(
                "null" if t is type(None) else t.__name__ for t in allowed_known)
        return None
    base = _base()
    # the dataclass that verl builds from this node (`_target_`) knows the type best; the YAML
    # default's type otherwise (an int default like rollout.top_p = 1 may hold a float field)
    annotation = _field_type(base, key)
    allowed = _allowed(annotation) if annotation is not None else None
    if allowed is None:
        default = OmegaConf.select(base, key, throw_on_resolution_failure=False, throw_on_missing=False,
                                   default=None)
        parent, _, leaf = key.rpartition(".")
        node = OmegaConf.select(base, parent, default=None) if parent else base
        interp = OmegaConf.is_config(node) and leaf in node and OmegaConf.is_interpolation(node, leaf)
        allowed = None if interp else _expected(default)
    if allowed is None or value is None:
        return None
    if isinstance(value, bool) and bool not in allowed:
        return f"is {value!r} (a bool); verl expects {'/'.join(t.__name__ for t in allowed)}"
    if not isinstance(value, allowed):
        return f"is {value!r} ({type(value).__name__}); verl expects {'/'.join(t.__name__ for t in allowed)}"
    return None


def check_one(overrides: list[str], *, validate: bool = True) -> dict[str, Any]:
    """{"ok": True, "config": {...}} or {"ok": False, "stage", "override", "key", "message"}."""
    from omegaconf import OmegaConf

    parser = _parser()
    parsed = []
    for text in overrides:
        try:
            parsed.append((text, parser.parse_override(text)))
        except Exception as exc:
            return {"ok": False, "stage": "parse", "override": text, "key": None,
                    "message": str(exc).splitlines()[0]}
    try:
        cfg = compose(overrides)
    except Exception as exc:
        bad = next((t for t, ov in parsed if ov.key_or_group in str(exc)), None)
        return {"ok": False, "stage": "compose", "override": bad, "key": None,
                "message": " ".join(str(exc).split())}
    for text, ov in parsed:
        if ov.is_delete() or ov.is_add() and OmegaConf.select(_base(), ov.key_or_group, default=None) is None:
            continue
        msg = type_error(ov.key_or_group, ov.value())
        if msg:
            return {"ok": False, "stage": "type", "override": text, "key": ov.key_or_group,
                    "message": f"{ov.key_or_group} {msg}"}
    if validate:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _validate(cfg)
        except Exception as exc:  # verl asserts and raises ValueError/AssertionError/RuntimeError
            return {"ok": False, "stage": "validate", "override": None, "key": None,
                    "message": f"{type(exc).__name__}: {' '.join(str(exc).split())}"}
    try:
        data = OmegaConf.to_container(cfg, resolve=True)
    except Exception:
        data = OmegaConf.to_container(cfg, resolve=False)
    return {"ok": True, "config": data}


def _validate(cfg: Any) -> None:
    """What `verl/trainer/main_ppo.py main()` checks before starting Ray, plus the reward lookups."""
    import contextlib
    import io

    from verl.trainer.ppo.reward import get_custom_reward_fn, resolve_reward_manager_cls
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    with contextlib.redirect_stdout(io.StringIO()):  # validate_config prints a success line
        validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    resolve_reward_manager_cls(cfg)
    if get_custom_reward_fn(cfg) is None:
        raise ValueError("reward.custom_reward_function.path is not set")


def check_many(batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [check_one(list(b["overrides"]), validate=bool(b.get("validate", True))) for b in batches]


def main() -> int:
    request = json.load(sys.stdin)
    out = check_many(request["batches"])
    sys.stdout.write("\n@@RCSTUDIO_VERL_CHECK@@" + json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
