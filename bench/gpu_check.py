"""GPU check: the reference agent on a real transformers model on CUDA, loaded by agentload
with the NVML collector on; prints a table and writes the evidence under --out.

    python bench/gpu_check.py --out gpu-check-out                  # llama-0.9b on CUDA, 30 s
    python bench/gpu_check.py --out /tmp/x --model tiny --allow-cpu --duration 5s  # no GPU

Steps: nvidia-smi (saved), start ``agentload agent serve --engine hf`` on 127.0.0.1 (the
model is built locally from a named config with random weights: nothing is downloaded),
run a closed-loop streaming chat load with telemetry (gpu, host with the agent's process,
Prometheus scrape of the agent's /metrics, generator), then summarise. Files under --out
(8 at most, flat, so that they all come back from a remote machine):

    summary.json  report.html  telemetry.jsonl  scenario.yaml  gpu_check.json
    nvidia-smi.txt  agent.log  run.log

Exit status: 0 when the run had ok requests and the GPU collector produced samples (or
--allow-cpu without a GPU), 1 otherwise, 2 for a setup problem (no CUDA, agent did not
start). Every loop here is bounded in time; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

AGENT_START_TIMEOUT_S = 300.0  # building llama-8b's random weights on a GPU takes a while


def parse(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("gpu-check-out"), help="results folder")
    p.add_argument("--model", default="llama-0.9b", help="hf engine model (tiny, llama-0.9b, 8b)")
    p.add_argument("--duration", default="30s", help="load duration (default 30s)")
    p.add_argument("--users", type=int, default=32, help="closed-loop users (default 32)")
    p.add_argument("--prompt-tokens", type=int, default=256)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--max-batch", type=int, default=32, help="engine batch size")
    p.add_argument("--interval", default="500ms", help="telemetry interval (default 500ms)")
    p.add_argument("--allow-cpu", action="store_true", help="run even when CUDA is absent")
    return p.parse_args(argv)


def torch_info() -> dict[str, Any]:
    code = (
        "import json, torch; c = torch.cuda.is_available(); print(json.dumps({'torch': "
        "torch.__version__, 'cuda': c, 'gpu': torch.cuda.get_device_name(0) if c else None}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0:
        return {"torch": None, "cuda": False, "error": proc.stderr.strip().splitlines()[-1:]}
    info: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return info


def nvidia_smi(out: Path) -> str | None:
    if shutil.which("nvidia-smi") is None:
        (out / "nvidia-smi.txt").write_text("nvidia-smi: not found\n")
        return None
    parts = []
    for args in (["nvidia-smi"], ["nvidia-smi", "-q", "-d", "MEMORY,UTILIZATION,POWER,CLOCK"]):
        proc = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
        parts.append(f"$ {' '.join(args)}\n{proc.stdout}{proc.stderr}")
    text = "\n".join(parts)
    (out / "nvidia-smi.txt").write_text(text)
    return text


def start_agent(
    args: argparse.Namespace, work: Path, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    ready = work / "agent-ready"
    command = [
        sys.executable, "-m", "agentload", "agent", "serve", "--engine", "hf",
        "--model", args.model, "--max-batch", str(args.max_batch), "--port", "0",
        "--ready-file", str(ready), "--log-level", "warning",
    ]  # fmt: skip
    handle = log.open("wb")
    proc = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + AGENT_START_TIMEOUT_S
    while not (ready.exists() and ready.read_text().strip()):
        if proc.poll() is not None:
            raise SystemExit(f"setup: the agent exited ({proc.returncode}); see {log}")
        if time.monotonic() > deadline:
            stop(proc)
            raise SystemExit(f"setup: the agent did not start in {AGENT_START_TIMEOUT_S:.0f}s")
        time.sleep(0.2)
    return proc, ready.read_text().strip()


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def scenario(args: argparse.Namespace, url: str, agent_pid: int) -> str:
    return f"""\
name: gpu-check
target: {{base_url: "{url}", protocol: openai-chat}}
load: {{model: closed, users: {args.users}, duration: {args.duration}}}
request: {{prompt_tokens: {args.prompt_tokens}, max_tokens: {args.max_tokens}, stream: true}}
telemetry:
  interval: {args.interval}
  gpu: {{}}
  host: {{processes: [{agent_pid}]}}
  prometheus:
    - url: "{url}/metrics"
      series: [agentload_agent_engine_tokens_generated, agentload_agent_phase_seconds]
  generator: {{}}
"""


def series(samples: list[dict[str, Any]], name: str) -> list[float]:
    return [s["values"][name] for s in samples if name in s.get("values", {})]


def stats(values: list[float]) -> str:
    if not values:
        return "-"
    return f"mean {statistics.fmean(values):.1f}  max {max(values):.1f}  (n={len(values)})"


def summarise(run_dir: Path, out: Path) -> dict[str, Any]:
    summary = json.loads((run_dir / "summary.json").read_text())
    samples = []
    for line in (run_dir / "telemetry.jsonl").read_text().splitlines():
        try:
            samples.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    gpu_names = sorted({k for s in samples if s["collector"] == "gpu" for k in s["values"]})
    rows: dict[str, Any] = {"summary_warnings": summary.get("warnings", [])}
    counts, rate = summary.get("counts", {}), summary.get("rate", {})
    rows.update(requests=counts.get("requests"), ok=counts.get("ok"), errors=counts.get("error"))
    rows["achieved_per_s"] = rate.get("achieved_per_s")
    metrics = summary.get("metrics", {})
    for metric in ("latency_ms", "ttft_ms", "tpot_ms"):
        m = metrics.get(metric, {})
        rows[metric] = {p: m.get(p) for p in ("p50", "p90", "p99")}
    rows["output_tokens_per_s"] = summary.get("tokens", {}).get("output_per_s")
    rows["gpu_samples"] = sum(1 for s in samples if s["collector"] == "gpu")
    wanted = [n for n in gpu_names if "proc." not in n] + [
        "server.queue_length", "server.running", "generator.cpu_percent",
        "generator.loop_lag_ms", "cpu_percent", "agentload_agent_engine_tokens_generated.per_s",
        "agentload_agent_phase_seconds.p50", "agentload_agent_phase_seconds.p99",
    ]  # fmt: skip
    rows["series"] = {n: series(samples, n) for n in wanted}
    rows["gpu_process_series"] = [n for n in gpu_names if "proc." in n]
    for name in ("summary.json", "report.html", "telemetry.jsonl", "scenario.yaml"):
        if (run_dir / name).exists():
            shutil.copy(run_dir / name, out / name)
    return rows


def print_table(rows: dict[str, Any], info: dict[str, Any]) -> None:
    print(f"\nGPU check: torch {info.get('torch')}, CUDA {info.get('cuda')}, {info.get('gpu')}")
    print(f"{'requests':<28}{rows['requests']} ({rows['ok']} ok, {rows['errors']} errors)")
    print(f"{'achieved req/s':<28}{rows['achieved_per_s']}")
    print(f"{'output tokens/s':<28}{rows['output_tokens_per_s']}")
    for metric in ("latency_ms", "ttft_ms", "tpot_ms"):
        p = rows[metric]
        print(f"{metric:<28}p50 {p['p50']}  p90 {p['p90']}  p99 {p['p99']}")
    print(f"{'gpu samples':<28}{rows['gpu_samples']}")
    for name, values in rows["series"].items():
        print(f"{name:<48}{stats(values)}")
    if rows["gpu_process_series"]:
        print(f"{'gpu per-process series':<28}{', '.join(rows['gpu_process_series'])}")
    for warning in rows["summary_warnings"]:
        print(f"warning: {warning}")


def main(argv: Sequence[str]) -> int:
    args = parse(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    info = torch_info()
    nvidia_smi(out)
    print(f"torch: {info}")
    if not info.get("cuda") and not args.allow_cpu:
        print("setup: torch sees no CUDA GPU (use --allow-cpu to run on the CPU anyway)")
        return 2
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        work = Path(tmp)
        agent, url = start_agent(args, work, out / "agent.log")
        try:
            (work / "scenario.yaml").write_text(scenario(args, url, agent.pid))
            command = [sys.executable, "-m", "agentload", "run", str(work / "scenario.yaml"),
                       "--out", str(work / "run"), "--quiet"]  # fmt: skip
            with (out / "run.log").open("wb") as log:
                run = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
        finally:
            stop(agent)
        if not (work / "run" / "summary.json").exists():
            print(f"the run wrote no summary (exit {run.returncode}); see {out / 'run.log'}")
            return 1
        rows = summarise(work / "run", out)
    rows["run_exit_code"] = run.returncode
    rows["torch"] = info
    (out / "gpu_check.json").write_text(json.dumps(rows, indent=2))
    print_table(rows, info)
    ok = bool(rows["ok"]) and (rows["gpu_samples"] > 0 or not info.get("cuda"))
    print(f"\n{'PASS' if ok else 'FAIL'}: results in {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
