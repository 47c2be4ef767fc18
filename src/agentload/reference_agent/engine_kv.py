"""The simulated engine's default KV-cache budget: what an H200 holds beside the weights.

Per token, a Llama-style decoder caches one key and one value vector per layer and KV head:
``layers × kv_heads × head_dim × 2 (K, V) × 2 bytes (bf16)``.

* 0.9B: 16 × 8 × 128 × 2 × 2 = 65,536 bytes (64 KiB) per token.
* 8B:   32 × 8 × 128 × 2 × 2 = 131,072 bytes (128 KiB) per token.

The budget is the memory left for the cache, as vLLM sizes it: the share
``GPU_MEMORY_UTILIZATION`` (vLLM's default, 0.9; the rest holds activations, the CUDA context
and allocator slack) of the GPU's memory, minus the bf16 weights. The GPU's memory is the
NVML total recorded in the calibration files (143,771 MiB = 150.75 GB, the "141 GB" H200);
parameter counts come from the same files.

* 0.9B: 0.9 × 150.75 GB − 1.77 GB of weights = 133.9 GB → 2,043,260 tokens.
* 8B:   0.9 × 150.75 GB − 14.48 GB of weights = 121.2 GB → 924,651 tokens.

So the cache rarely binds with the default budget (256 sequences of 7,900 tokens on 0.9B,
of 3,600 on 8B); set ``engine.kv_budget_tokens`` lower to rehearse memory pressure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from agentload.reference_agent.calibration import MODEL_FILES, read_calibration_json
from agentload.reference_agent.engine_steps import Seq
from agentload.reference_agent.inference import MODEL_OOM

BF16_BYTES = 2
GPU_MEMORY_UTILIZATION = 0.9
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ModelShape:
    """What sizes the KV cache (from the calibration README's model table)."""

    layers: int
    kv_heads: int
    head_dim: int

    @property
    def kv_bytes_per_token(self) -> int:
        return self.layers * self.kv_heads * self.head_dim * 2 * BF16_BYTES


MODEL_SHAPES: Mapping[str, ModelShape] = {
    "0.9b": ModelShape(layers=16, kv_heads=8, head_dim=2048 // 16),
    "8b": ModelShape(layers=32, kv_heads=8, head_dim=4096 // 32),
}


def weight_bytes(model: str) -> int:
    """The model's bf16 weights, from the parameter count in its calibration file."""
    return int(read_calibration_json(MODEL_FILES[model])["env"]["params"]) * BF16_BYTES


def gpu_memory_bytes(model: str) -> int:
    """Total GPU memory, as NVML reported it during the model's calibration run."""
    readings = read_calibration_json(MODEL_FILES[model])["nvml"]
    return max(int(r["mem_total_mib"]) for r in readings) * _MIB


@cache
def default_kv_budget_tokens(model: str) -> int:
    """Tokens the KV cache of ``model`` holds on the calibration GPU (see the docstring)."""
    if model not in MODEL_SHAPES:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODEL_SHAPES)}")
    free_bytes = int(GPU_MEMORY_UTILIZATION * gpu_memory_bytes(model)) - weight_bytes(model)
    return free_bytes // MODEL_SHAPES[model].kv_bytes_per_token


WAIT = "wait"  # a verdict that is not an error: wait at the front until KV frees up


@dataclass(frozen=True, slots=True)
class KvBudget:
    """The KV-cache budget's rules, by ``oom_policy`` (a sequence holds prompt + generated).

    * ``fail``: a sequence reserves prompt + the longest answer its request allows (its
      ``max_tokens``, else the output cap) when it joins, as engines that reserve the worst
      case do. One whose reservation exceeds what running sequences leave free fails with
      ``model_oom`` rather than wait.
    * ``preempt`` (vLLM's recompute preemption): nothing is reserved; each running sequence
      needs room for the token it decodes next. The scheduler preempts the newest sequences
      while they lack it. A waiting one joins when its tokens + 1 are free (until then it
      waits at the front); one that could not finish even alone (prompt + answer > budget)
      fails with ``model_oom``.
    """

    tokens: int
    preempt: bool

    def held(self, seq: Seq) -> int:
        """What a running sequence counts against the budget (the ``kv_reserved`` gauge)."""
        return seq.generation.kv_tokens if self.preempt else seq.reserve_tokens

    def need(self, seq: Seq) -> int:
        """What a sequence needs free to run this step (joining or already running)."""
        return seq.generation.kv_tokens + 1 if self.preempt else seq.reserve_tokens

    def free(self, running: Iterable[Seq]) -> int:
        return self.tokens - sum(self.need(s) for s in running)

    def verdict(self, seq: Seq, free_tokens: int) -> str | None:
        """None: it fits; ``WAIT``: not yet; else why it fails with model_oom."""
        generation = seq.generation
        if not self.preempt:
            if seq.reserve_tokens <= free_tokens:
                return None
            return (
                f"{MODEL_OOM}: {generation.prompt_tokens} prompt + {seq.limit_tokens}"
                f" output tokens do not fit in the {max(free_tokens, 0)} of {self.tokens}"
                " KV-cache tokens free"
            )
        whole = generation.prompt_tokens + generation.output_tokens
        if whole > self.tokens:
            return f"{MODEL_OOM}: {whole} tokens exceed the KV-cache budget of {self.tokens}"
        return None if self.need(seq) <= free_tokens else WAIT
