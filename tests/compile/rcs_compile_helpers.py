"""Helpers shared by the compiler tests (a uniquely named module: pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path


def hydra_compose(conf_dir: Path, overrides: list[str], resolve: bool = True) -> dict:
    """Compose like NeMo-Aligner's script does: its resolvers registered, Hydra's compose API."""
    import warnings

    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    for name, fn in (("multiply", lambda x, y: x * y), ("int_div", lambda x, y: x // y),
                     ("subtract", lambda x, y: x - y)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with initialize_config_dir(version_base=None, config_dir=str(conf_dir)):
            cfg = compose(config_name="gpt_reinforce_actor", overrides=overrides)
    return OmegaConf.to_container(cfg, resolve=resolve)


GENRM = """
[experiment]
name = "genrm"

[judge]
model = "meta-llama/Llama-3.1-8B-Instruct"
checkpoint = "/ckpt/llama-3.1-8b.nemo"
"""
