"""One GRPO step of a Qwen3-0.6B-shaped judge on one GPU: generation and update throughput.

    python benchmarks/bench_grpo_step_gpu.py                 # needs a CUDA GPU
    python benchmarks/bench_grpo_step_gpu.py --smoke --cpu   # 2-layer shape on CPU: checks the script only

The model is built in code (Qwen3Config with the 0.6B shape, random weights, bf16), so no download
is needed. The step is the one the TRL engine runs without vLLM: `generate` for prompts x rollouts,
group-normalised advantages, the clipped policy-gradient loss with a backward pass and an AdamW step.
Figures: generation tokens/s (new tokens), update tokens/s (prompt + completion tokens through
forward+backward+step), and the baseline measured in the same run - a pure forward pass (no grad)
over the same sequences - with the ratios against it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

QWEN3_0_6B = dict(
    vocab_size=151936, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
    num_attention_heads=16, num_key_value_heads=8, head_dim=128, max_position_embeddings=40960,
    rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=8, help="prompts per step")
    ap.add_argument("--rollouts", type=int, default=8, help="rollouts per prompt (GRPO group size)")
    ap.add_argument("--prompt-tokens", type=int, default=1024)
    ap.add_argument("--new-tokens", type=int, default=512)
    ap.add_argument("--micro-batch", type=int, default=8, help="sequences per forward/backward")
    ap.add_argument("--clip", type=float, default=0.2)
    ap.add_argument("--repeats", type=int, default=2, help="timed steps after one warm-up step")
    ap.add_argument("--cpu", action="store_true", help="allow running without a GPU (only with --smoke)")
    ap.add_argument("--smoke", action="store_true", help="2-layer model, tiny sizes: checks the script")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    return ap.parse_args(argv)


def build_model(smoke: bool, device, dtype):
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    shape = dict(QWEN3_0_6B)
    if smoke:
        shape.update(num_hidden_layers=2, hidden_size=128, intermediate_size=256, num_attention_heads=4,
                     num_key_value_heads=2, head_dim=32, vocab_size=4096)
    torch.manual_seed(0)
    config = Qwen3Config(**shape, torch_dtype=dtype)
    with torch.device(device):
        model = Qwen3ForCausalLM(config).to(dtype)
    return model, config


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def token_logps(model, ids, attn, n_new):
    import torch

    logits = model(input_ids=ids, attention_mask=attn).logits[:, -n_new - 1:-1].float()
    return torch.gather(logits.log_softmax(-1), 2, ids[:, -n_new:].unsqueeze(-1)).squeeze(-1)


def grpo_step(model, opt, args, device, vocab):
    """One step; returns seconds for generation, update and the forward-only baseline."""
    import torch

    g = torch.Generator(device="cpu").manual_seed(0)
    prompts = torch.randint(10, vocab, (args.prompts, args.prompt_tokens), generator=g).to(device)
    batch = prompts.repeat_interleave(args.rollouts, dim=0)
    attn = torch.ones_like(batch)

    model.eval()
    sync(device)
    t0 = time.perf_counter()
    with torch.no_grad():
        out = model.generate(input_ids=batch, attention_mask=attn, max_new_tokens=args.new_tokens,
                             min_new_tokens=args.new_tokens, do_sample=True, temperature=1.0, top_k=0,
                             pad_token_id=0)
    sync(device)
    t_gen = time.perf_counter() - t0
    n_new = out.shape[1] - batch.shape[1]
    full_attn = torch.ones_like(out)

    # rewards are random here (the reward function is benchmarked elsewhere); advantages per group
    rewards = torch.rand(args.prompts, args.rollouts, generator=g).to(device)
    adv = ((rewards - rewards.mean(1, keepdim=True)) / (rewards.std(1, keepdim=True) + 1e-4)).flatten()

    sync(device)
    t0 = time.perf_counter()
    with torch.no_grad():  # old log-probs (what TRL computes before the update when iterations > 1)
        old = torch.cat([token_logps(model, out[i:i + args.micro_batch], full_attn[i:i + args.micro_batch], n_new)
                         for i in range(0, out.shape[0], args.micro_batch)])
    sync(device)
    t_fwd = time.perf_counter() - t0

    model.train()
    t0 = time.perf_counter()
    for i in range(0, out.shape[0], args.micro_batch):
        sl = slice(i, i + args.micro_batch)
        logp = token_logps(model, out[sl], full_attn[sl], n_new)
        ratio = torch.exp(logp - old[sl])
        a = adv[sl].unsqueeze(1)
        loss = -torch.min(ratio * a, ratio.clamp(1 - args.clip, 1 + args.clip) * a).mean()
        (loss * out[sl].shape[0] / out.shape[0]).backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    sync(device)
    t_upd = time.perf_counter() - t0
    return t_gen, t_upd, t_fwd, n_new, out.shape[0] * out.shape[1]


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import torch
    except ImportError:
        print("bench_grpo_step_gpu: torch is not installed (pip install 'rcstudio[train]')", file=sys.stderr)
        return 1
    cuda = torch.cuda.is_available()
    if not cuda and not (args.cpu and args.smoke):
        print("bench_grpo_step_gpu: no CUDA GPU here - nothing measured. Run it on a GPU machine "
              "(or `--smoke --cpu` to check the script).", file=sys.stderr)
        return 1
    if args.smoke:
        args.prompts, args.rollouts, args.prompt_tokens, args.new_tokens, args.micro_batch = 2, 2, 32, 16, 2
        args.repeats = 1
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda else torch.float32
    model, config = build_model(args.smoke, device, dtype)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6)
    grpo_step(model, opt, args, device, config.vocab_size)  # warm-up (kernels, allocator)
    runs = [grpo_step(model, opt, args, device, config.vocab_size) for _ in range(args.repeats)]
    t_gen = min(r[0] for r in runs)
    t_upd = min(r[1] for r in runs)
    t_fwd = min(r[2] for r in runs)
    n_new, seq_tokens = runs[0][3], runs[0][4]
    sequences = args.prompts * args.rollouts
    result = {
        "model": "Qwen3-0.6B shape (random weights)" if not args.smoke else "smoke shape",
        "params_m": round(params / 1e6, 1),
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "dtype": str(dtype).removeprefix("torch."),
        "sequences": sequences,
        "prompt_tokens": args.prompt_tokens,
        "new_tokens": n_new,
        "generation_tokens_per_s": round(sequences * n_new / t_gen, 1),
        "update_tokens_per_s": round(seq_tokens / t_upd, 1),
        "baseline_forward_tokens_per_s": round(seq_tokens / t_fwd, 1),
        "step_seconds": round(t_gen + t_fwd + t_upd, 3),
        "generation_share": round(t_gen / (t_gen + t_fwd + t_upd), 3),
        "update_vs_forward": round(t_upd / t_fwd, 2),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"GRPO step, {result['model']} ({result['params_m']}M params) on {result['device']} ({result['dtype']})")
    print(f"  {args.prompts} prompts x {args.rollouts} rollouts, {args.prompt_tokens} prompt + {n_new} new tokens")
    print(f"  generation : {result['generation_tokens_per_s']:>12,.0f} new tokens/s")
    print(f"  update     : {result['update_tokens_per_s']:>12,.0f} tokens/s (forward+backward+AdamW)")
    print(f"  baseline   : {result['baseline_forward_tokens_per_s']:>12,.0f} tokens/s (pure forward pass, no grad)")
    print(f"  ratio      : update takes {result['update_vs_forward']}x the forward-only time; "
          f"generation is {result['generation_share']:.0%} of the {result['step_seconds']} s step")
    if cuda:
        print(f"  peak memory: {result['peak_memory_gib']} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
