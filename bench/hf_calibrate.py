"""Measure the hf engine's model and write a calibration file like ../shared/data's.

    .venv/bin/python bench/hf_calibrate.py                    # llama-0.9b, CUDA when present
    .venv/bin/python bench/hf_calibrate.py --model llama-8b --out h100-llama-8b.json
    .venv/bin/python bench/hf_calibrate.py --model tiny --device cpu --quick   # seconds
    .venv/bin/python bench/hf_calibrate.py --contexts 256,1024,4096,8192 --decode-batches 1,16,64

It times what the engine runs: one prefill pass over ``batch`` random prompts of
``prompt_len`` tokens (a fresh KV cache, the last position's logits only), and one decode
step of ``batch`` sequences over a KV cache already holding ``context`` tokens each (filled
with random keys and values: the cost does not depend on them; the cache is cropped back
after every step). Each point is the median of ``--reps`` runs after ``--warmup`` runs,
timed with CUDA events on a GPU (the device is synchronised) and ``perf_counter`` on a CPU.
On a GPU it also shows how a host clock without synchronisation reads low
(``naive_vs_sync``) and, when nvidia-ml-py is importable, NVML readings (``nvml``). A point
that runs out of device memory is skipped and listed in ``env.skipped``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agentload.reference_agent.hf_model import (
    ALIASES,
    MISSING_EXTRA,
    NAMED_CONFIGS,
    cache_argument,
    load_model,
    parameter_count,
    pick_device,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # named configs are built locally, never fetched
try:
    import torch
    import transformers
    from transformers import DynamicCache, PreTrainedModel
except ImportError:
    sys.exit(MISSING_EXTRA)

FULL = {"batches": [1, 4, 16, 64], "prompt_lens": [128, 512, 2048],
        "decode_batches": [1, 2, 4, 8, 16, 32, 64, 128, 256], "contexts": [1024]}  # fmt: skip
QUICK = {"batches": [1, 4], "prompt_lens": [16, 64], "decode_batches": [1, 2, 4, 8],
         "contexts": [64]}  # fmt: skip
Reading = dict[str, Any]


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def parse(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", help=f"{', '.join((*NAMED_CONFIGS, *ALIASES))} or a local directory "
                   "(default: llama-0.9b on CUDA, tiny on a CPU)")  # fmt: skip
    p.add_argument("--device", help="cuda, cuda:1, cpu (default: cuda when available)")
    p.add_argument("--attn", default="eager", help="attn_implementation (default: eager)")
    p.add_argument("--quick", action="store_true", help="a tiny grid that runs in seconds")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--reps", type=int, default=10, help="timed runs per point (median)")
    p.add_argument("--seed", type=int, default=0)
    threads_help = "torch CPU threads (default: torch's; 1 is steadier on a busy machine)"
    p.add_argument("--threads", type=int, help=threads_help)
    for name, help_text in (("batches", "prefill batch sizes"), ("prompt-lens", "prompt lengths"),
                            ("decode-batches", "decode batch sizes"),
                            ("contexts", "decode contexts (tokens already cached)")):  # fmt: skip
        p.add_argument(f"--{name}", type=_ints, help=f"{help_text}, comma-separated")
    p.add_argument("--out", type=Path, help="JSON path (default: HW-MODEL-DTYPE-hf-ATTN.json)")
    args = p.parse_args(argv)
    grid = QUICK if args.quick else FULL
    for key, default in grid.items():
        if getattr(args, key) is None:
            setattr(args, key, default)
    return args


class Timer:
    """Median milliseconds of a step after warm-up: CUDA events on a GPU, else perf_counter."""

    def __init__(self, device: str, warmup: int, reps: int) -> None:
        self.cuda = device.startswith("cuda")
        self.warmup, self.reps = warmup, max(1, reps)

    def median_ms(self, step: Callable[[], object], *, synced: bool = True) -> float:
        """``synced=False``: a host clock around the launch, as a benchmark without a sync."""
        for _ in range(self.warmup):
            step()
        self.sync()
        times: list[float] = []
        for _ in range(self.reps):
            if self.cuda and synced:
                start = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
                end = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
                start.record()
                step()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
            else:
                began = time.perf_counter()
                step()
                times.append((time.perf_counter() - began) * 1e3)
                self.sync()  # outside the measured interval: each run starts on an idle device
        return round(statistics.median(times), 3)

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()


class Steps:
    """The two forward passes, as the engine runs them (inference mode, last logits only)."""

    def __init__(self, model: PreTrainedModel, seed: int) -> None:
        self.model, self.config, self.device = model, model.config, model.device
        self.cache_arg = cache_argument(model)
        self.gen = torch.Generator(device=self.device).manual_seed(seed)

    def ids(self, batch: int, length: int) -> torch.Tensor:
        shape = (batch, length)
        vocab = int(self.config.vocab_size)
        return torch.randint(0, vocab, shape, generator=self.gen, device=self.device)

    def prefill(self, batch: int, prompt_len: int) -> Callable[[], object]:
        ids = self.ids(batch, prompt_len)
        return lambda: self._forward(ids, DynamicCache(config=self.config))

    def decode(self, batch: int, context: int) -> Callable[[], object]:
        cfg = self.config
        kv_heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        cache = DynamicCache(config=cfg)
        shape = (batch, kv_heads, context, head_dim)
        for layer in range(cfg.num_hidden_layers):
            keys, values = (torch.randn(shape, device=self.device, dtype=self.model.dtype,
                                        generator=self.gen) for _ in range(2))  # fmt: skip
            cache.update(keys, values, layer)
        ids, positions = self.ids(batch, 1), torch.full((batch, 1), context, device=self.device)

        def step() -> None:
            self._forward(ids, cache, positions)
            cache.crop(-1)  # drop the step's token: every step sees the same context

        return step

    def _forward(
        self, ids: torch.Tensor, cache: Any, positions: torch.Tensor | None = None
    ) -> object:
        with torch.inference_mode():
            kwargs = {self.cache_arg: cache, "position_ids": positions}
            return self.model(input_ids=ids, use_cache=True, logits_to_keep=1, **kwargs).logits


def nvml_reader(device: str) -> tuple[Callable[[str], Reading] | None, str]:
    if not device.startswith("cuda"):
        return None, "not a GPU run"
    try:
        nvml: Any = importlib.import_module("pynvml")  # nvidia-ml-py; untyped
        nvml.nvmlInit()
        handle = nvml.nvmlDeviceGetHandleByIndex(torch.device(device).index or 0)
    except Exception as exc:  # not installed, or no driver access: the run goes on without
        return None, f"unavailable: {type(exc).__name__}: {exc}"

    def read(tag: str) -> Reading:
        util, mem = nvml.nvmlDeviceGetUtilizationRates(handle), nvml.nvmlDeviceGetMemoryInfo(handle)
        clock = nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM)
        power_w = nvml.nvmlDeviceGetPowerUsage(handle) / 1000
        return {"tag": tag, "gpu_util": util.gpu, "mem_util": util.memory,
                "mem_used_mib": mem.used >> 20, "mem_total_mib": mem.total >> 20,
                "power_w": power_w, "sm_clock_mhz": clock}  # fmt: skip

    return read, "ok"


def measure(timer: Timer, step: Callable[[], Callable[[], object]]) -> float | None:
    """Median ms of a point, or None when the device runs out of memory for it."""
    try:
        return timer.median_ms(step())
    except torch.OutOfMemoryError:
        torch.cuda.empty_cache()
        return None


def run_grid(
    args: argparse.Namespace, model: PreTrainedModel, note: Callable[[str], None]
) -> Reading:
    timer, steps = Timer(str(model.device), args.warmup, args.reps), Steps(model, args.seed)
    out: Reading = {"prefill": [], "decode": [], "naive_vs_sync": [], "skipped": []}
    for prompt_len in args.prompt_lens:
        for batch in args.batches:
            ms = measure(timer, lambda: steps.prefill(batch, prompt_len))  # noqa: B023
            row = {"batch": batch, "prompt_len": prompt_len, "ms": ms}
            if ms is not None:
                out["prefill"].append({**row, "tokens_per_s": round(batch * prompt_len / ms * 1e3)})
    note("after-prefill")
    for context in args.contexts:
        for batch in args.decode_batches:
            ms = measure(timer, lambda: steps.decode(batch, context))  # noqa: B023
            row = {"batch": batch, "context": context, "step_ms": ms}
            if ms is not None:
                out["decode"].append({**row, "tokens_per_s": round(batch / ms * 1e3)})
                note(f"decode-B{batch}" + (f"-C{context}" if len(args.contexts) > 1 else ""))
    for kind, want in (("prefill", len(args.batches) * len(args.prompt_lens)),
                       ("decode", len(args.decode_batches) * len(args.contexts))):  # fmt: skip
        if len(out[kind]) < want:
            out["skipped"].append(f"{want - len(out[kind])} {kind} point(s): out of memory")
    if timer.cuda:  # on a CPU the host clock is the device clock: nothing to show
        prompt_len = args.prompt_lens[len(args.prompt_lens) // 2]
        for batch in (args.batches[0], args.batches[-1]):
            step = steps.prefill(batch, prompt_len)
            naive, synced = timer.median_ms(step, synced=False), timer.median_ms(step)
            out["naive_vs_sync"].append(
                {"batch": batch, "prompt_len": prompt_len, "naive_ms": naive, "synced_ms": synced}
            )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    device = pick_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    model_name = args.model or ("llama-0.9b" if device.startswith("cuda") else "tiny")
    read_nvml, nvml_status = nvml_reader(device)
    readings: list[Reading] = []

    def note(tag: str) -> None:
        if read_nvml is not None:
            readings.append(read_nvml(tag))

    model = load_model(model_name, device=device, seed=args.seed, attn=args.attn)
    note("idle-after-load")
    grid = run_grid(args, model, note)
    gpu = torch.cuda.get_device_name(model.device) if model.device.type == "cuda" else None
    env = {
        "nvml": nvml_status, "torch": torch.__version__, "transformers": transformers.__version__,
        "gpu": gpu, "params": parameter_count(model),
        "wall_s": round(time.perf_counter() - started, 1), "model": model_name, "device": device,
        "dtype": str(model.dtype).removeprefix("torch."), "attn": args.attn, "quick": args.quick,
        "warmup": args.warmup, "reps": args.reps, "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(), "skipped": grid.pop("skipped"),
    }  # fmt: skip
    hardware = gpu.removeprefix("NVIDIA ").split()[0].lower() if gpu else "cpu"  # "h200"
    name = f"{hardware}-{Path(model_name).name}-{env['dtype']}-hf-{args.attn}"
    out = args.out or Path(name + ("-quick" if args.quick else "") + ".json")
    out.write_text(json.dumps({"env": env, **grid, "nvml": readings}, indent=1) + "\n")
    print(f"{model_name}: {env['params']:,} params on {gpu or device}, {env['dtype']},"
          f" attn {args.attn}, torch {torch.__version__}, transformers"
          f" {transformers.__version__}, {env['wall_s']} s")  # fmt: skip
    for kind in ("prefill", "decode", "naive_vs_sync"):
        print_table(kind, grid[kind])
    for line in env["skipped"]:
        print(f"skipped {line}")
    print(f"\nnvml: {nvml_status}; wrote {out}")
    return 0


def print_table(title: str, rows: list[Reading]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    cells = [
        [f"{row[c]:,}" if isinstance(row[c], int) else str(row[c]) for c in columns] for row in rows
    ]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print(f"\n{title}")
    for line in [columns, *cells]:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))


if __name__ == "__main__":
    sys.exit(main())
