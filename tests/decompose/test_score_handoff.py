"""Raw HelpSteer3 -> decomposition -> a checklist file `rcstudio score` accepts (embedding matcher, offline)."""

from __future__ import annotations

import json

import pytest

from rcstudio.rationale.data import load_pairs
from rcstudio.rationale.decompose import decompose_file
from rcstudio.clients.llm import LLMConfig


def _as_judge(item: str) -> str:
    return item.replace("Response 1", "Response A").replace("Response 2", "Response B")


@pytest.mark.slow
def test_decomposed_file_scores_with_the_embedding_matcher(stub, hs3_file, tmp_path, capsys):
    out = tmp_path / "checklists.jsonl"
    cfg = LLMConfig(base_url=stub.base_url, model="decomposer", max_retries=0)
    summary = decompose_file(hs3_file, out, cfg, progress=False)
    assert summary.kept == 5

    # two stored judges beside each pair: one restating the human points, one off topic
    scored = tmp_path / "with-judges.jsonl"
    with scored.open("w") as fh:
        for line in out.read_text().splitlines():
            rec = json.loads(line)
            pref = rec["overall_preference"]
            label = "A>B" if pref < 0 else "B>A" if pref > 0 else "A=B"
            rec["parrot-checklist"] = [_as_judge(x) for x in rec["human-checklist"]][:5]
            rec["parrot-label"] = label
            rec["offtopic-checklist"] = ["Response A uses more emojis", "Response B has a friendlier greeting"]
            rec["offtopic-label"] = label
            fh.write(json.dumps(rec) + "\n")

    loaded = load_pairs(str(scored))
    assert len(loaded.items) == 5 and not loaded.skipped
    assert any(it.preference == 0 for it in loaded.items)  # the tie survives
    assert any(len(it.context) == 3 for it in loaded.items)  # multi-turn contexts survive

    from rcstudio.cli import main

    def score(judge: str) -> dict:
        try:
            main(["score", "--data", str(scored), "--model", judge, "--matcher", "embedding", "--bootstrap", "50", "--json"])
        except SystemExit as exc:
            assert not exc.code, capsys.readouterr().err
        # the whole stdout is the JSON object, even though WANDB_MODE=offline makes transformers
        # print an [INFO] line on import (rcstudio._quiet sends it to stderr)
        return json.loads(capsys.readouterr().out)

    parrot, offtopic = score("parrot"), score("offtopic")
    assert parrot["items"] == 5 and parrot["valid"] == 5 and parrot["matcher"] == "embedding"
    assert parrot["rc"]["mean"] > 0.95
    assert offtopic["rc"]["mean"] < 0.5 < parrot["rc"]["mean"]
    assert parrot["oa"]["n"] == 4  # the tie has no outcome
