"""The peer clients of ``streaming.py``: Locust FastHttpUser, AIPerf and GuideLLM, each run
from its own virtual environment (``bench/peers.py`` installs them; nothing is installed here).

Each peer runs as one command under the same core pinning as agentload, keeps ``streams``
streams open until ``requests`` have finished, and writes its own per-request results into
the run's output folder, from which the number of completed streams and the streams held in
flight (start and end of every request) are read. Every peer is given the least work its
options allow, so that the comparison is with the peer at its cheapest:

- Locust: one ``FastHttpUser`` class whose task POSTs and reads the stream with Locust's own
  ``iter_lines`` (Locust's streaming API; it reads 1 KiB at a time), timestamps every
  ``data:`` line, and stops the runner after the last stream; one process (no ``--processes``).
- AIPerf: ``aiperf profile --endpoint-type chat --streaming --concurrency N --request-count R``
  with ``--use-server-token-count`` and ``--ui none``.
- GuideLLM: ``guidellm run`` with the ``concurrent`` profile, a ``max_requests`` constraint
  and JSON output only.

AIPerf and GuideLLM need a Hugging Face tokenizer to make synthetic prompts and refuse to run
without one; no model is downloaded: ``make_tokenizer`` builds a tiny word-level tokenizer
locally with the ``tokenizers`` package both of them install.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from benchlib import Measured, mean_in_flight
from peers import Peer

# (full command, one-stream command, parse) of one client, as ``streaming.py`` runs them:
# commands take the run's output folder; parse returns (completed streams, mean held).
Cmd = Callable[[Path], list[str]]
Parse = Callable[[Measured, Path], tuple[int, float]]
StreamClient = tuple[Cmd, Cmd, Parse]

LOCUSTFILE = """\
import json
import os
import time

import gevent
from locust import FastHttpUser, events, task
from locust.exception import StopUser

TOTAL = int(os.environ["BENCH_REQUESTS"])
OUT = os.environ["BENCH_OUT"]
BODY = json.dumps({"model": "m", "stream": True, "messages": []})
HEADERS = {"Content-Type": "application/json"}
state = {"started": 0, "done": 0, "chunks": 0}
intervals = []


@events.quitting.add_listener
def write(environment, **kwargs):
    with open(OUT, "w") as f:
        json.dump({"ok": state["done"], "chunks": state["chunks"], "intervals": intervals}, f)


class Stream(FastHttpUser):
    @task
    def stream(self):
        if state["started"] >= TOTAL:
            raise StopUser()
        state["started"] += 1
        sent = time.monotonic_ns()
        times = []
        lines = self.client.iter_lines(
            "/v1/chat/completions", method="POST", data=BODY, headers=HEADERS
        )
        for line in lines:
            if line.startswith("data: ") and line != "data: [DONE]":
                times.append(time.monotonic_ns())
        state["chunks"] += len(times)
        state["done"] += 1
        intervals.append((sent, time.monotonic_ns()))
        if state["done"] >= TOTAL:  # quit from another greenlet: quit() kills this user's
            gevent.spawn(self.environment.runner.quit)
"""

TOKENIZER_SCRIPT = """\
import json, sys
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
out = sys.argv[1]
tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
tok.pre_tokenizer = pre_tokenizers.Whitespace()
words = "the quick brown fox jumps over a lazy dog and tok says hello to every agent".split()
tok.train_from_iterator([" ".join(words)], trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
tok.decoder = decoders.WordPiece()
tok.save(out + "/tokenizer.json")
config = {"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]",
          "model_max_length": 1000000}
json.dump(config, open(out + "/tokenizer_config.json", "w"))
"""


def make_tokenizer(python: str, folder: Path) -> str | None:
    """Build the local tokenizer with ``python`` (a peer's venv); None, or why it failed."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(
            [python, "-c", TOKENIZER_SCRIPT, str(folder)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        return "building the local tokenizer ran past 120 s"
    if proc.returncode != 0:
        return f"could not build the local tokenizer: {proc.stderr.strip().splitlines()[-1:]}"
    return None


def locust_client(
    peer: Peer, url: str, work: Path, streams: int, requests: int, limit_s: float
) -> StreamClient:
    """Locust FastHttpUser reading each SSE stream line by line."""
    assert peer.exe is not None
    locustfile = work / "stream_locustfile.py"
    locustfile.write_text(LOCUSTFILE)

    def cmd(users: int, total: int) -> Cmd:
        def build(out: Path) -> list[str]:
            out.mkdir(parents=True, exist_ok=True)
            # env(1) passes the count and the output file without a wrapper script.
            return [
                "env", f"BENCH_REQUESTS={total}", f"BENCH_OUT={out / 'locust.json'}",
                str(peer.exe), "-m", "locust", "-f", str(locustfile), "--headless",
                "-u", str(users), "-r", str(max(users, 100)), "-t", f"{limit_s:.0f}s",
                "--host", url, "--only-summary", "--loglevel", "ERROR", "--stop-timeout", "5",
            ]  # fmt: skip

        return build

    def parse(m: Measured, out: Path) -> tuple[int, float]:
        result = json.loads((out / "locust.json").read_text())
        return int(result["ok"]), mean_in_flight([(a, b) for a, b in result["intervals"]])

    return cmd(streams, requests), cmd(1, 1), parse


def aiperf_client(
    peer: Peer, url: str, tokenizer: Path, streams: int, requests: int, tokens: int
) -> StreamClient:
    assert peer.exe is not None
    exe = str(Path(peer.exe).parent / "aiperf")

    def cmd(concurrency: int, total: int) -> Cmd:
        def build(out: Path) -> list[str]:
            return [
                exe, "profile", "--model", "m", "--url", url, "--endpoint-type", "chat",
                "--streaming", "--concurrency", str(concurrency), "--request-count", str(total),
                "--tokenizer", str(tokenizer), "--use-server-token-count", "--ui", "none",
                "--isl", "8", "--osl", str(tokens), "--artifact-dir", str(out),
                "--no-server-metrics",
            ]  # fmt: skip

        return build

    def parse(m: Measured, out: Path) -> tuple[int, float]:
        intervals = []
        with (out / "profile_export.jsonl").open() as f:
            for line in f:
                record = json.loads(line)
                if record.get("error"):
                    continue
                meta = record["metadata"]
                intervals.append((int(meta["request_start_ns"]), int(meta["request_end_ns"])))
        return len(intervals), mean_in_flight(intervals)

    return cmd(streams, requests), cmd(1, 1), parse


def guidellm_client(
    peer: Peer, url: str, tokenizer: Path, streams: int, requests: int, tokens: int
) -> StreamClient:
    assert peer.exe is not None
    exe = str(Path(peer.exe).parent / "guidellm")

    def cmd(concurrency: int, total: int) -> Cmd:
        def build(out: Path) -> list[str]:
            out.mkdir(parents=True, exist_ok=True)
            backend = {
                "kind": "openai_http", "target": url, "model": "m", "stream": True,
                "request_format": "/v1/chat/completions", "validate_backend": False,
            }  # fmt: skip
            spec = {
                "backend": backend,
                "profile": {"kind": "concurrent", "streams": [concurrency]},
                "tokenizer": {"kind": "hf_auto", "model": str(tokenizer)},
                "data": [{"kind": "synthetic_text", "prompt_tokens": 8, "output_tokens": tokens}],
                "constraints": [{"kind": "max_requests", "count": total}],
                "outputs": [{"kind": "json", "path": str(out / "benchmarks.json")}],
            }
            scenario = out / "scenario.json"
            scenario.write_text(json.dumps({"metadata": {"name": "bench"}, "spec": spec}))
            return [exe, "run", "-c", str(scenario), "--disable-console"]

        return build

    def parse(m: Measured, out: Path) -> tuple[int, float]:
        data = json.loads((out / "benchmarks.json").read_text())
        done = data["benchmarks"][0]["requests"]["successful"]
        intervals = [
            (
                int(r["info"]["timings"]["request_start"] * 1e9),
                int(r["info"]["timings"]["request_end"] * 1e9),
            )
            for r in done
        ]
        return len(intervals), mean_in_flight(intervals)

    return cmd(streams, requests), cmd(1, 1), parse
