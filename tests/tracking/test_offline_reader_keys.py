"""`read_run(path, keys=...)`: a run written by the real wandb library, read for some keys only,
gives exactly the full reader's histories for those keys, and the rows are scanned, not decoded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rcstudio.tracking import wandb_format as fmt
from rcstudio.tracking.offline import OfflineRun, _KeyScanner, find_wandb_files, read_run, wait_finished
from rcstudio.tracking.wandb_log import init_run
from rcstudio.spec.models import Spec

SPEC = Spec.model_validate({"experiment": {"name": "keys", "kind": "genrm-train"}, "tracking": {"mode": "offline", "project": "p", "group": ""}})
KEYS = [f"train/m{j:02d}" for j in range(12)]


@pytest.fixture(scope="module")
def wandb_file(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("keys") / "run"
    run = init_run(SPEC, run_dir, "keys-0001", "train", name="keys")
    for i in range(120):
        row = {k: i * 0.5 + j for j, k in enumerate(KEYS)}
        if i % 3 == 0:
            row["sometimes"] = -i  # a key missing from most rows
        if i == 7:
            row["text"] = "a string"  # a non-number
        if i % 40 == 0:
            row["long/value"] = "x" * 300  # an item longer than 127 bytes (two-byte length)
        run.log(row)
    run.finish()
    wait_finished(run_dir, "keys-0001")
    (path,) = find_wandb_files(run_dir)
    return path


@pytest.mark.parametrize("wanted", [["train/m03"], ["train/m00", "train/m11", "sometimes"], ["text", "long/value"]])
def test_filtered_history_equals_full_history(wandb_file, wanted):
    full = read_run(wandb_file)
    part = read_run(wandb_file, keys=wanted)
    assert part.keys() == sorted(wanted)
    for key in wanted:
        a, b = full.history([key])[key], part.history([key])[key]
        assert np.array_equal(a.steps, b.steps)
        assert np.array_equal(a.values, b.values, equal_nan=True)
        assert [(s, v) for s, v in full.raw_history(key)] == part.raw_history(key)
        assert part.summary[key] == full.summary[key]
    assert part.config == full.config and part.state == full.state == "finished"


def test_rows_from_wandb_core_are_scanned_not_decoded(wandb_file):
    """Every history row real wandb writes is in the layout the scanner knows (no fallback)."""
    run = OfflineRun(wandb_file, only=frozenset(["train/m01", "sometimes"]))
    scanner = _KeyScanner(run.only, run)
    data = wandb_file.read_bytes()
    rows = 0
    for n, (payload, _) in enumerate(fmt.iter_records(data)):
        kind, start, stop = fmt.record_kind(payload)
        if kind == fmt.F_HISTORY:
            rows += 1
            assert scanner.scan(bytes(payload[start:stop]), n), bytes(payload[start:stop])[:200]
    assert rows == 120 and len(run._steps["train/m01"]) == 120 and len(run._steps["sometimes"]) == 40


def test_a_row_in_an_unknown_layout_is_reported_for_full_decoding():
    run = OfflineRun(Path("unused.wandb"), only=frozenset(["k"]))
    scanner = _KeyScanner(run.only, run)
    assert not scanner.scan(b"\x0a\x03\x12\x01k", 1)  # no _step item
    typed = b"\x0a\x0b\x12\x05_step\x82\x01\x013" + b"\x0a\x0c\x12\x01k\x31" + b"\x00" * 8  # k as a typed double
    assert not scanner.scan(typed, 2)
    assert not _KeyScanner.usable(frozenset(["nested.a"])) and _KeyScanner.usable(frozenset(["a/b"]))


def test_reading_does_not_import_the_wandb_sdk(wandb_file):
    """The reader loads wandb's protobuf modules only; a later `import wandb` still works."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from rcstudio.tracking.offline import read_run\n"
        f"run = read_run({str(wandb_file)!r}, keys=['train/m01'])\n"
        "assert run.state == 'finished' and len(run.history(['train/m01'])['train/m01'].values) == 120\n"
        "assert 'wandb' not in sys.modules and 'wandb.sdk' not in sys.modules, sorted(sys.modules)\n"
        "import wandb\n"
        "from wandb.proto import wandb_internal_pb2\n"
        "assert wandb_internal_pb2 is sys.modules['wandb.proto.wandb_internal_pb2'] and hasattr(wandb, 'init')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
