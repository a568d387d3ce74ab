"""OnlineSource against recorded W&B GraphQL responses served on loopback (no W&B cloud).

The server answers the operations wandb.Api (0.31, through wandb-core) sends, by operation name,
with the minimal shapes recorded from what the client asks for: Viewer / GetDefaultEntity (login),
Run, RunSampledHistory, RunHistoryKeys, RunParquetHistory (no parquet: live rows), SampledHistoryPage.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rcstudio.tracking.online import OnlineSource

STEPS = 50
ROWS = [{"_step": i, "reward/total": i / 10, "reward/rationale": 1 - i / 100} for i in range(STEPS)]


def run_json(state: str, heartbeat: str) -> dict:
    return {
        "projectId": "1", "id": "UnVuOjE=", "tags": [], "name": "abc", "displayName": "genrm-alpha0.8",
        "sweepName": None, "state": state, "config": json.dumps({"reward": {"value": {"alpha": 0.8}}}),
        "group": "genrm", "jobType": "train", "commit": None, "readOnly": False,
        "createdAt": "2026-11-29T19:00:00", "heartbeatAt": heartbeat, "description": "", "notes": "",
        "systemMetrics": "{}", "historyLineCount": STEPS,
        "summaryMetrics": json.dumps({"reward/total": ROWS[-1]["reward/total"], "_step": STEPS - 1, "_wandb": {"runtime": 3}}),
        "user": {"name": "me", "username": "me"},
        "historyKeys": {"keys": {"reward/total": {}, "reward/rationale": {}}, "lastStep": STEPS - 1},
    }


class GraphQL:
    def __init__(self):
        self.ops: list[str] = []
        self.state = "running"
        self.heartbeat = "2026-11-29T19:10:00"
        self.served: list[dict] = []  # rows sent as SampledHistoryPage pages

    def answer(self, op: str, variables: dict) -> dict:
        run = run_json(self.state, self.heartbeat)
        if op in ("Viewer", "GetDefaultEntity"):
            return {"viewer": {"id": "u1", "entity": "ent", "username": "me", "email": "", "flags": "{}", "teams": {"edges": []}}}
        if op == "Run":
            return {"project": {"run": run if variables.get("name") == "abc" else None}}
        if op == "RunSampledHistory":
            out = []
            for spec in map(json.loads, variables["specs"]):
                rows = [{k: r[k] for k in spec["keys"] if k in r} for r in ROWS]
                stride = max(1, -(-len(rows) // spec["samples"]))
                out.append(rows[::stride])
            return {"project": {"run": {"sampledHistory": out}}}
        if op == "RunHistoryKeys":
            return {"project": {"run": {"historyKeys": run["historyKeys"]}}}
        if op == "RunParquetHistory":
            return {"project": {"run": {"parquetHistory": {"parquetUrls": [], "liveData": [ROWS[-1]]}}}}
        if op == "SampledHistoryPage":
            spec = json.loads(variables["spec"])
            rows = [{k: r[k] for k in spec["keys"] if k in r} for r in ROWS if spec["minStep"] <= r["_step"] < spec["maxStep"]]
            self.served.extend(rows)
            return {"project": {"run": {"sampledHistory": [rows]}}}
        raise AssertionError(f"unrecorded operation {op}")


@pytest.fixture
def server(monkeypatch):
    gql = GraphQL()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            match = re.search(r"(?:query|mutation)\s+(\w+)", body.get("query", ""))
            op = match.group(1) if match else "?"
            gql.ops.append(op)
            payload = json.dumps({"data": gql.answer(op, body.get("variables") or {})}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)  # dummy: the loopback server accepts anything
    monkeypatch.delenv("WANDB_MODE", raising=False)
    gql.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield gql
    httpd.shutdown()


def test_sampled_history_summary_config_and_cache(server):
    source = OnlineSource("ent", "proj", base_url=server.url, min_poll_s=0)
    ref = source.find("abc")
    assert ref is not None and ref.name == "genrm-alpha0.8" and ref.group == "genrm"
    assert source.find("nope") is None
    assert source.config(ref) == {"reward": {"alpha": 0.8}}
    assert source.summary(ref) == {"reward/total": 4.9, "_step": 49}
    assert source.state(ref) == "running"
    hist = source.history(ref, ["reward/total"], samples=10)["reward/total"]
    assert 0 < len(hist) <= 10 and hist.values[0] == 0.0 and list(hist.steps) == sorted(hist.steps)
    n = server.ops.count("RunSampledHistory")
    source.history(ref, ["reward/total"], samples=10)  # unchanged run: cache hit, no history query
    assert server.ops.count("RunSampledHistory") == n
    server.heartbeat = "2026-11-29T19:11:00"  # the run moved on: history is fetched again
    source.history(ref, ["reward/total"], samples=10)
    assert server.ops.count("RunSampledHistory") == n + 1


def test_one_query_per_poll_interval(server):
    source = OnlineSource("ent", "proj", base_url=server.url, min_poll_s=60)
    ref = source.find("abc")
    before = server.ops.count("Run")
    source.summary(ref), source.state(ref), source.history(ref, ["reward/total"], samples=10)
    assert server.ops.count("Run") == before  # within the interval: no re-query of a live run


def test_full_scan_on_demand(server):
    source = OnlineSource("ent", "proj", base_url=server.url)
    ref = source.find("abc")
    full = source.history(ref, ["reward/rationale"], samples=None)["reward/rationale"]
    # wandb-core pages [0, lastStep) at full resolution; every row served comes back, in order
    assert len(server.served) >= STEPS - 1
    assert list(full.steps) == [r["_step"] for r in server.served]
    assert list(full.values) == [r["reward/rationale"] for r in server.served]


def test_finished_runs_are_not_polled_again(server):
    server.state = "finished"
    source = OnlineSource("ent", "proj", base_url=server.url)
    ref = source.find("abc")
    before = server.ops.count("Run")
    for _ in range(3):
        assert source.state(ref) == "finished"
        source.summary(ref)
    assert server.ops.count("Run") == before


def test_backs_off_on_429(server):
    waits: list[float] = []

    class Flaky:
        """The wandb.Api surface, answering 429 twice before the real call."""

        def __init__(self, api):
            self.api, self.left = api, 2

        def run(self, path):
            if self.left:
                self.left -= 1
                raise RuntimeError("HTTP 429: Too Many Requests")
            return self.api.run(path)

    import wandb

    real = wandb.Api(overrides={"base_url": server.url}, timeout=10)
    source = OnlineSource("ent", "proj", api=Flaky(real), sleep=waits.append, backoff_s=0.5)
    assert source.find("abc").id == "abc"
    assert waits == [0.5, 1.0]
    source2 = OnlineSource("ent", "proj", api=Flaky(real), sleep=waits.append, max_retries=1)
    from rcstudio.tracking.online import RateLimited

    with pytest.raises(RateLimited):
        source2.find("abc")
