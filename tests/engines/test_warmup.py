"""The format warm-up before GRPO ([rl.trl] sft_warmup_*): a real tiny Llama learns the judgment
format from a warm-up file, and the parse rate is measured before and after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rcstudio.errors import UserError

REPO = Path(__file__).resolve().parents[2]


def _spec(extra: dict):
    from rcstudio.spec import expand, load_spec
    from rcstudio.spec.keys import set_dotted
    from rcstudio.spec.models import Spec
    from rcstudio.spec.resolved import canonical_dict

    runs = [r for r in expand(load_spec(REPO / "specs" / "quickstart.toml", ["variants.tiny-trl.enabled=true"]))
            if r.name.endswith("tiny-trl")]
    data = canonical_dict(runs[0].spec)
    for key, value in extra.items():
        set_dotted(data, key, value)
    return Spec.model_validate(data)


def test_warmup_file_rows_are_checked(tmp_path):
    from rcstudio.engines.warmup import load_examples

    good = tmp_path / "w.jsonl"
    good.write_text(json.dumps({"prompt": "Which?", "completion": "\\boxed{A>B}"}) + "\n\n"
                    + json.dumps({"prompt": [{"role": "user", "content": "Which?"}], "completion": "x"}) + "\n")
    assert load_examples(good) == [("Which?", "\\boxed{A>B}"), ([{"role": "user", "content": "Which?"}], "x")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "Which?", "completion": "ok"}) + "\n" + json.dumps({"prompt": "Which?"}) + "\n")
    with pytest.raises(UserError) as e:
        load_examples(bad)
    assert e.value.location.line == 2 and e.value.location.key == "rl.trl.sft_warmup_file"
    (tmp_path / "nojson.jsonl").write_text("{oops\n")
    with pytest.raises(UserError) as e:
        load_examples(tmp_path / "nojson.jsonl")
    assert e.value.location.line == 1


def test_warmup_keys_live_in_the_trl_table(tmp_path):
    from rcstudio.spec import load_spec

    spec = _spec({"rl.trl.sft_warmup_steps": 5, "rl.trl.sft_warmup_file": "/x/w.jsonl"})
    assert spec.rl.trl.sft_warmup_steps == 5 and spec.rl.trl.sft_warmup_lr == 5e-5
    # a relative warm-up file is read relative to the spec that names it
    (tmp_path / "s.toml").write_text((REPO / "specs" / "quickstart.toml").read_text())
    loaded = load_spec(tmp_path / "s.toml", ["rl.engine=trl", "rl.algorithm=grpo", "experiment.kind=genrm-train",
                                             "rl.trl.sft_warmup_file=warm/w.jsonl"])
    assert loaded.rl.trl.sft_warmup_file == str(Path.cwd() / "warm" / "w.jsonl")


@pytest.mark.slow
def test_warmup_raises_the_parse_rate_of_a_tiny_model(tmp_path, quickstart_pairs):
    from rcstudio.tiny_model import build_tiny_model
    from rcstudio.engines.prepare import training_prompts
    from rcstudio.engines.trl.train import dataset_rows, fit_prompts, load_tokenizer
    from rcstudio.engines.warmup import trl_stage

    base = {"data.train": [str(quickstart_pairs)], "data.max_items": 3, "rl.max_generation_tokens": 40,
            "rl.trl.sft_warmup_steps": 300, "rl.trl.sft_warmup_lr": 5e-3, "rl.trl.sft_warmup_eval_prompts": 3}
    spec = _spec(base)
    data = training_prompts(spec, with_val=False)  # the one shared prep, as run_training builds its rows
    items, rows = data.train_items, dataset_rows(data.train)

    def target(row):  # the row's preference is already flipped when the pair is shown swapped
        better = "A" if row["preference"] < 0 else "B"
        return f"1. Response {better} is more helpful.\n\\boxed{{{'A>B' if better == 'A' else 'B>A'}}}"

    targets = [target(r) for r in rows]
    model = build_tiny_model("tiny://random?layers=2&hidden=64&vocab=1200", [r["prompt"] for r in rows] + targets * 5,
                             tmp_path / "model")
    rows, _ = fit_prompts(rows, load_tokenizer(spec, str(model)), spec.rl.max_prompt_tokens, chat=False)
    warm_file = tmp_path / "warm.jsonl"
    warm_file.write_text("".join(json.dumps({"prompt": r["prompt"], "completion": t}) + "\n" for r, t in zip(rows, targets)))
    spec = _spec({**base, "rl.trl.sft_warmup_file": str(warm_file)})
    lines: list[str] = []
    run_dir = tmp_path / "run"
    result = trl_stage(spec, run_dir, str(model), rows, items, log=lines.append)
    assert result is not None and not result.reused and result.examples == len(rows) == 2  # 3 items, 1 held out for validation
    assert result.parse_rate_before == 0.0  # random weights write no verdict
    assert result.parse_rate_after is not None and result.parse_rate_after >= 2 / 3
    assert Path(result.model_dir) == run_dir / "warmup" and (run_dir / "warmup" / "config.json").is_file()
    assert any("parse rate before 0%" in ln for ln in lines) and any("parse rate after" in ln for ln in lines)
    # the same warm-up again (a resumed job) reuses the directory without training
    again = trl_stage(spec, run_dir, str(model), rows, items, log=lines.append)
    assert again.reused and again.parse_rate_after == result.parse_rate_after
    # off by default
    assert trl_stage(_spec({}), run_dir, str(model), rows, items) is None
