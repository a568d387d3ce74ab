"""Which base-model families NeMo-Aligner v0.7.0 can convert, generate with TRT-LLM and train.

A family qualifies when all three hold in the versions v0.7.0's Dockerfile pins (NeMo 633cb60 =
v2.1.0, Megatron-LM core_r0.10.0, TensorRT-LLM v0.13.0):
1. convert: NeMo ships `scripts/checkpoint_converters/convert_<family>_hf_to_nemo.py`;
2. generate: `nemo/export/tensorrt_llm.py` `TensorRTLLM.build` (called by Aligner's
   `utils/trt_llm.py` with `trt_model_type = trainer.reinforce.trt_llm.model_type`) takes the mcore
   path, `getattr(megatron.core.export.model_type.ModelType, model_type)`, and calls
   `TRTLLMHelper.get_trtllm_pretrained_config_and_model_weights(on_device_distributed_conversion=True)`,
   which asserts model_type in {gpt, gptnext, llama} ("On device conversion only supported for
   model types gptnext and llama"); its TRT config carries `bias = add_bias_linear` only, so a
   q/k/v-only bias (Qwen2's `qkv_bias: True, bias: False`) is not built into the engine;
3. train: Megatron-core GPT (all of the above train).
(`ModelType` and `TRTLLMHelper` were read at the stored Megatron-LM versions 1eff558 / 00caa53 - the
pin d15cec53 is not in the mirror; NeMo's call site above is read at the pinned commit.)
Qwen3 / Qwen3-MoE (the paper's bases) fail 1 (no converter; the Qwen2 one reads `q_proj.bias`,
absent in Qwen3, and has no q/k-norm). Mixtral, Gemma, Gemma 2, Falcon, StarCoder 2 have
converters but fail 2 (model types outside the on-device set, or absent from ModelType).
Model ids are matched by name (no hub access at compile time). A name no pattern matches (a local
path, a fine-tuned model) passes: the compiler keeps the actor YAML's `model_type: llama`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    name: str
    pattern: str  # regex on the model id / path (case-insensitive)
    supported: bool
    trt_model_type: str = ""  # trainer.reinforce.trt_llm.model_type
    end_strings: tuple[str, ...] = ()  # model.reinforce.sampling_params.end_strings
    converter: str = ""  # NeMo 2.1 scripts/checkpoint_converters/...
    why: str = ""  # for unsupported families: the first step that fails


FAMILIES: tuple[Family, ...] = (
    Family("llama3", r"llama[-_ ]?3", True, "llama", ("<|eot_id|>", "<|end_of_text|>"),
           "convert_llama_hf_to_nemo.py"),
    Family("llama2", r"llama[-_ ]?2", True, "llama", ("</s>",), "convert_llama_hf_to_nemo.py"),
    Family("mistral", r"mistral[-_ ]?7b", True, "llama", ("</s>",), "convert_mistral_7b_hf_to_nemo.py"),
    Family("qwen3", r"qwen[-_ ]?3", False,
           why="NeMo 2.1 has no Qwen3 converter (its Qwen2 one reads q_proj.bias, absent in Qwen3, "
               "and has no q/k-norm), and the Megatron-core TRT-LLM export config it builds carries no q/k-norm"),
    Family("qwen2", r"qwen[-_ ]?2", False,
           why="NeMo 2.1 converts Qwen2, but its TRT-LLM export builds the engine with bias = add_bias_linear "
               "(False for Qwen2), dropping the q/k/v biases, so rollouts would not come from the model trained"),
    Family("mixtral", r"mixtral", False,
           why="TRT-LLM export in NeMo 2.1 converts on device only for gpt/gptnext/llama model types"),
    Family("gemma", r"gemma", False,
           why="TRT-LLM export in NeMo 2.1 converts on device only for gpt/gptnext/llama model types"),
    Family("falcon", r"falcon", False,
           why="TRT-LLM export in NeMo 2.1 converts on device only for gpt/gptnext/llama model types"),
)

SUPPORTED = tuple(f for f in FAMILIES if f.supported)


def family_of(model: str) -> Family | None:
    """The first family whose pattern matches the model id (None: not recognised)."""
    for fam in FAMILIES:
        if re.search(fam.pattern, model or "", re.IGNORECASE):
            return fam
    return None


def supported_names() -> str:
    return ", ".join(f.name for f in SUPPORTED)
