"""Contract test: runs written by the real wandb library (offline) read back exactly."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import wandb
from hypothesis import given, settings
from hypothesis import strategies as st

from rcstudio.errors import UserError
from rcstudio.tracking import wandb_format as fmt
from rcstudio.tracking.offline import OfflineSource, find_wandb_files, read_run, wait_finished
from rcstudio.tracking.source import downsample, group_runs
from rcstudio.spec.models import Spec
from rcstudio.tracking.wandb_log import NoopRun, init_run, wandb_link

SPEC_DATA = {
    "experiment": {"name": "contract", "kind": "genrm-train"},
    "reward": {"form": "additive", "alpha": 0.8, "matcher": {"kind": "llm", "api_key_env": "OPENAI_API_KEY"}},
    "tracking": {"mode": "offline", "project": "proj", "group": ""},
}
SPEC = Spec.model_validate(SPEC_DATA)
STEPS = 300


def _value(i: int) -> dict:
    return {"reward/total": i * 0.25 - 3.0, "reward/rationale": 1.0 / (i + 1), "nested": {"a": i, "b": -i}}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("contract") / "run"
    run = init_run(SPEC, run_dir, "contract-0001", "train", name="contract-a0.8")
    for i in range(STEPS):
        run.log(_value(i))
        if i % 50 == 0:
            run.summary["best"] = i  # explicit summary writes between rows
    run.summary["eval/judgebench/micro"] = 71.5
    run.summary["reward/total"] = 123.0  # an explicit write after the last row wins
    run.finish()
    wait_finished(run_dir, "contract-0001")  # finish() may return before wandb-core flushed
    return run_dir


def test_version_is_in_supported_range():
    assert fmt.version_supported(wandb.__version__), wandb.__version__
    assert not fmt.version_supported("0.18.7") and not fmt.version_supported("0.32.0")


def test_reads_back_config_summary_history_state(written):
    (path,) = find_wandb_files(written)
    run = read_run(path)
    assert run.run_id == "contract-0001" and run.name == "contract-a0.8"
    assert run.project == "proj" and run.group == "contract" and run.job_type == "train"
    assert run.state == "finished" and run.exit_code == 0
    assert run.start_time is not None
    assert fmt.version_supported(run.producer)
    assert run.config["reward"] == SPEC.model_dump(mode="json")["reward"]
    assert run.config["experiment"] == SPEC.model_dump(mode="json")["experiment"]
    assert run.keys() == ["nested.a", "nested.b", "reward/rationale", "reward/total"]
    hist = run.history(["reward/total", "reward/rationale", "nested.a", "missing"])
    np.testing.assert_array_equal(hist["reward/total"].steps, np.arange(STEPS))
    np.testing.assert_array_equal(hist["reward/total"].values, [_value(i)["reward/total"] for i in range(STEPS)])
    np.testing.assert_array_equal(hist["reward/rationale"].values, [_value(i)["reward/rationale"] for i in range(STEPS)])
    np.testing.assert_array_equal(hist["nested.a"].values, np.arange(STEPS))
    assert len(hist["missing"]) == 0
    summary = run.summary
    assert summary["best"] == 250
    assert summary["eval/judgebench/micro"] == 71.5
    assert summary["reward/total"] == 123.0
    assert summary["reward/rationale"] == _value(STEPS - 1)["reward/rationale"]
    assert summary["nested.b"] == -(STEPS - 1)
    assert not any(k.startswith("_wandb") for k in summary)


def test_fast_summary_equals_a_full_fold(written):
    """Skipping the per-row mirror summary records gives the same summary as decoding them all."""
    from wandb.proto import wandb_internal_pb2 as pb

    (path,) = find_wandb_files(written)
    data = path.read_bytes()
    full: dict = {}
    for payload, _ in fmt.iter_records(data):
        rec = pb.Record.FromString(bytes(payload))
        if rec.WhichOneof("record_type") == "summary":
            for item in rec.summary.update:
                key = item.key or ".".join(item.nested_key)
                if not key.startswith("_"):
                    full[key] = json.loads(item.value_json)
    fast = {k: v for k, v in read_run(path).summary.items() if not k.startswith("_")}
    assert fast == full


def test_crc_and_header_are_checked(written, tmp_path):
    (path,) = find_wandb_files(written)
    data = bytearray(path.read_bytes())
    bad = tmp_path / "run-bad.wandb"
    bad.write_bytes(b"NOPE" + bytes(data[4:]))
    with pytest.raises(UserError, match="header"):  # nothing readable: an error naming the file
        read_run(bad)
    data[fmt.FILE_HEADER.size + fmt.CHUNK_HEADER.size + 3] ^= 0xFF  # flip a payload byte of record 1
    bad.write_bytes(bytes(data))
    with pytest.raises(UserError, match="CRC mismatch in chunk at offset 7"):
        read_run(bad)


def test_follow_mode_reads_only_appended_records(tmp_path):
    """A live run: the reader picks up new rows, including a record cut mid-write."""
    run = init_run(SPEC, tmp_path, "live-1", "train")
    for i in range(20):
        run.log({"reward/total": float(i)})
    import time

    source = OfflineSource([tmp_path])
    deadline = time.time() + 60  # wandb-core flushes a live run's file on its own schedule
    ref = source.find("live-1")
    while (ref is None or len(source.history(ref, ["reward/total"])["reward/total"]) < 20) and time.time() < deadline:
        time.sleep(0.1)
        ref = ref or source.find("live-1")
    assert ref is not None and source.state(ref) == "running"
    reader = source.run(ref)
    first_offset = reader.offset
    assert len(reader.history(["reward/total"])["reward/total"]) == 20
    for i in range(20, 2000):
        run.log({"reward/total": float(i)})
    run.finish()
    wait_finished(tmp_path, "live-1")
    assert source.state(ref) == "finished"
    assert reader.offset > first_offset
    values = source.history(ref, ["reward/total"])["reward/total"].values
    np.testing.assert_array_equal(values, np.arange(2000, dtype=float))
    assert reader.refresh() == 0  # finished runs are never re-read


def test_truncated_tail_is_resumed(written, tmp_path):
    """Cut the file at every few hundred bytes: each prefix reads cleanly and resumes to the full run."""
    (path,) = find_wandb_files(written)
    data = path.read_bytes()
    part = tmp_path / "run-part.wandb"
    cut = len(data) // 3 + 5
    part.write_bytes(data[:cut])
    from rcstudio.tracking.offline import OfflineRun

    reader = OfflineRun(part)
    reader.refresh()
    partial = len(reader.history(["reward/total"])["reward/total"])
    assert 0 < partial < STEPS and reader.state == "running"
    part.write_bytes(data)
    reader.refresh()
    assert len(reader.history(["reward/total"])["reward/total"]) == STEPS
    assert reader.state == "finished"


def test_multi_chunk_records_are_joined(tmp_path):
    """A config bigger than a 32 KiB block spans FIRST/MIDDLE/LAST chunks."""
    big = dict(SPEC_DATA, blob={"text": "x" * 80_000})
    run = init_run(SPEC, tmp_path, "big-1", "train", config=big)
    run.log({"reward/total": 1.0})
    run.finish()
    loaded = wait_finished(tmp_path, "big-1")
    assert loaded.config["blob"]["text"] == "x" * 80_000


def test_failed_run_state(tmp_path):
    run = init_run(SPEC, tmp_path, "fail-1", "train")
    run.log({"reward/total": 1.0})
    run.finish(exit_code=3)
    assert wait_finished(tmp_path, "fail-1").state == "failed"


def test_iter_records_framing_by_hand():
    """Hand-built log: FULL, then a record split over a block boundary, then padding."""
    import zlib

    def chunk(kind: int, body: bytes) -> bytes:
        crc = zlib.crc32(body, zlib.crc32(bytes([kind])))
        return struct.pack("<IHB", crc, len(body), kind) + body

    out = bytearray(fmt.FILE_HEADER.pack(fmt.IDENT, fmt.MAGIC, fmt.VERSION))
    out += chunk(fmt.FULL, b"one")
    room = fmt.BLOCK_SIZE - len(out) - 7
    big = bytes(range(256)) * 200
    out += chunk(fmt.FIRST, big[:room])
    out += chunk(fmt.LAST, big[room:])
    got = [bytes(p) for p, _ in fmt.iter_records(bytes(out))]
    assert got == [b"one", big]


def test_downsample_keeps_extremes():
    x = np.arange(100_000, dtype=float)
    y = np.sin(x / 1000.0)
    y[54_321] = 50.0
    xs, ys = downsample(x, y, 200)
    assert len(xs) <= 200 and np.all(np.diff(xs) > 0)
    assert ys.max() == 50.0 and ys.min() == pytest.approx(-1.0, abs=1e-3)
    same = downsample(x[:10], y[:10], 200)
    assert len(same[0]) == 10


def test_disabled_mode_is_a_noop(tmp_path):
    spec = Spec.model_validate(dict(SPEC_DATA, tracking={"mode": "disabled"}))
    run = init_run(spec, tmp_path / "r", "x-1", "train")
    assert isinstance(run, NoopRun)
    run.log({"a": 1})
    run.summary["b"] = 2
    run.finish()
    assert not (tmp_path / "r" / "wandb").exists()


def test_link_and_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-supersecret")
    config = dict(SPEC_DATA, judge={"api_key_env": "OPENAI_API_KEY", "token": "sk-leak"})
    run = init_run(SPEC, tmp_path, "sec-1", "train", config=config)
    run.finish()
    wait_finished(tmp_path, "sec-1")
    (path,) = find_wandb_files(tmp_path)
    raw = path.read_bytes()
    assert b"sk-supersecret" not in raw and b"sk-leak" not in raw
    assert read_run(path).config["judge"] == {"api_key_env": "OPENAI_API_KEY", "token": "<redacted>"}
    link = wandb_link(SPEC, tmp_path, "sec-1")
    assert link == {"mode": "offline", "entity": "", "project": "proj", "id": "sec-1", "group": "contract",
                    "dir": str(tmp_path / "wandb")}


def test_grouped_runs_appear_together(tmp_path):
    for rid in ("g-1", "g-1-rm", "g-2"):
        r = init_run(SPEC, tmp_path, rid, "reward-server" if rid.endswith("-rm") else "train")
        r.log({"reward/total": 1.0})
        r.finish()
        wait_finished(tmp_path, rid)
    groups = group_runs(OfflineSource([tmp_path]).runs())
    assert sorted(groups) == ["g-1", "g-2"]
    assert [r.id for r in groups["g-1"]] == ["g-1", "g-1-rm"]


def _write_log(payloads: list[bytes]) -> bytes:
    """A LevelDB-style log writer (test-only) following the framing wandb-core writes."""
    import zlib

    out = bytearray(fmt.FILE_HEADER.pack(fmt.IDENT, fmt.MAGIC, fmt.VERSION))
    for payload in payloads:
        rest, first = payload, True
        while True:
            left = fmt.BLOCK_SIZE - len(out) % fmt.BLOCK_SIZE
            if left < fmt.CHUNK_HEADER.size:
                out += b"\0" * left
                left = fmt.BLOCK_SIZE
            room = left - fmt.CHUNK_HEADER.size
            piece, rest = rest[:room], rest[room:]
            last = not rest
            kind = fmt.FULL if first and last else fmt.FIRST if first else fmt.LAST if last else fmt.MIDDLE
            crc = zlib.crc32(piece, zlib.crc32(bytes([kind])))
            out += struct.pack("<IHB", crc, len(piece), kind) + piece
            first = False
            if last:
                break
    return bytes(out)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=70_000), min_size=1, max_size=8), st.integers(0, 2**32 - 1))
def test_framing_round_trips_any_sizes(sizes, seed):
    """Any record sizes (empty, block-straddling, multi-block) come back intact, and every prefix
    of the file yields a prefix of the records (what follow mode relies on)."""
    import random

    rnd = random.Random(seed)
    payloads = [rnd.randbytes(n) for n in sizes]
    data = _write_log(payloads)
    got = list(fmt.iter_records(data))
    assert [bytes(p) for p, _ in got] == payloads
    cut = rnd.randrange(fmt.FILE_HEADER.size, len(data) + 1)
    partial = [bytes(p) for p, _ in fmt.iter_records(data[:cut])]
    assert partial == payloads[: len(partial)]
    # resuming from the last complete record's offset reads exactly the rest
    resume = got[len(partial) - 1][1] if partial else 0
    base = resume - resume % fmt.BLOCK_SIZE
    rest = [bytes(p) for p, _ in fmt.iter_records(data[base:], resume, base=base)]
    assert partial + rest == payloads
