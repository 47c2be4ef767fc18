"""A transformers causal LM for the hf engine: named configs, loading, batched forward passes.

torch and transformers are the optional extra ``agentload[hf]``. They are imported inside
the functions here, so importing this module is free and a missing extra surfaces as one
line that names it (``require_hf``).

A named config builds a Llama-style decoder with random weights from a fixed seed: the cost
of a forward pass does not depend on the weights' values, so no download is ever needed.
The two large ones are the models measured in the calibration files (0.9B: 886,114,304
parameters; 8B: 7.24B); ``tiny`` runs a step in about a millisecond on a CPU, for tests.

``ModelRunner`` runs one batch the way a serving engine does: a left-padded prefill that
fills a KV cache and yields each sequence's first token, then one greedy decode step at a
time over the cache, dropping rows whose sequences have finished.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentload.errors import UsageError

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel

MISSING_EXTRA = "the hf engine needs torch and transformers: pip install 'agentload[hf]'"

# LlamaConfig keyword arguments; the 32k vocabulary, untied, gives the measured parameter counts.
_LLAMA_32K: Mapping[str, Any] = {"vocab_size": 32_000, "max_position_embeddings": 8192}
NAMED_CONFIGS: Mapping[str, Mapping[str, Any]] = {
    "tiny": {
        "vocab_size": 512, "max_position_embeddings": 4096, "hidden_size": 64,
        "intermediate_size": 176, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "llama-0.9b": {
        **_LLAMA_32K, "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 16,
        "num_attention_heads": 16, "num_key_value_heads": 8,
    },
    "llama-8b": {
        **_LLAMA_32K, "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8,
    },
}  # fmt: skip
# The simulated engine's profile names, so that `--model 0.9b` means one model in both.
ALIASES: Mapping[str, str] = {"0.9b": "llama-0.9b", "8b": "llama-8b"}


def named_config(model: str) -> str | None:
    """The named config ``model`` refers to (an alias resolved), or None for a path."""
    name = ALIASES.get(model, model)
    return name if name in NAMED_CONFIGS else None


class ModelOOM(Exception):
    """The device ran out of memory during a forward pass (the batch is lost, not the model)."""


def require_hf() -> None:
    """Raise a one-line ``UsageError`` naming the extra when torch or transformers is missing."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        if exc.name in ("torch", "transformers"):
            raise UsageError(MISSING_EXTRA) from None
        # Installed but broken (a missing CUDA library, say): say so rather than "install".
        cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"{MISSING_EXTRA} (import failed: {cause})") from None


def pick_device(device: str | None = None) -> str:
    """``device`` as given, else ``cuda`` when the torch build and a GPU have it, else ``cpu``."""
    require_hf()
    import torch

    if device is not None:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def set_cpu_threads(threads: int) -> None:
    """torch's intra-op threads on the CPU; a process-wide setting."""
    require_hf()
    import torch

    torch.set_num_threads(threads)


def load_model(model: str, *, device: str, seed: int = 0, attn: str = "eager") -> PreTrainedModel:
    """A named config with random weights (seeded), or a local directory; bf16 on CUDA."""
    require_hf()
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    if (name := named_config(model)) is not None:
        config = LlamaConfig(**NAMED_CONFIGS[name])
        target = torch.device(device)
        gpus: list[int] = []
        if target.type == "cuda":
            gpus = [torch.cuda.current_device() if target.index is None else target.index]
        # Seed a private copy of the RNG state: the caller's own random stream is untouched.
        with torch.random.fork_rng(devices=gpus), target:
            torch.manual_seed(seed)
            net: PreTrainedModel = AutoModelForCausalLM.from_config(  # type: ignore[no-untyped-call]
                config, dtype=dtype, attn_implementation=attn
            )
    else:
        try:
            net = AutoModelForCausalLM.from_pretrained(
                model, local_files_only=True, dtype=dtype, attn_implementation=attn
            )
        except (OSError, ValueError) as exc:  # no config or weights there, or an unknown model
            cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise UsageError(f"cannot load a causal LM from {model}: {cause}") from None
        net.to(device)  # type: ignore[arg-type]  # @wraps(Module.to) mistypes self
    net.eval()  # type: ignore[no-untyped-call]
    return net


def parameter_count(model: PreTrainedModel) -> int:
    return sum(p.numel() for p in model.parameters())


def cache_argument(model: PreTrainedModel) -> str:
    """The forward keyword for the KV cache (``past_key_values`` became ``cache`` in 5.2x)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


@dataclass(slots=True)
class BatchState:
    """One running batch on the device: its KV cache, attention mask and last tokens."""

    cache: Any  # a transformers DynamicCache, filled in place by each forward pass
    mask: torch.Tensor  # (rows, tokens so far), 0 over the left padding
    last: torch.Tensor  # (rows, 1) the token each row produced last

    @property
    def rows(self) -> int:
        return int(self.mask.shape[0])


class ModelRunner:
    """Greedy, batched prefill and decode over one model; every method blocks until done."""

    def __init__(self, model: PreTrainedModel) -> None:
        self.model = model
        self.device = model.device
        self.vocab_size = int(model.config.vocab_size)
        limit = getattr(model.config, "max_position_embeddings", None)
        self.max_context: int | None = int(limit) if limit else None
        self._cache_arg = cache_argument(model)

    def prefill(self, prompts: Sequence[Sequence[int]]) -> tuple[BatchState, list[int]]:
        """One left-padded pass over the prompts; returns the state and each first token."""
        import torch
        from transformers import DynamicCache

        width = max(len(p) for p in prompts)
        ids = torch.zeros((len(prompts), width), dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, prompt in enumerate(prompts):
            ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            mask[row, width - len(prompt) :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        # Positions count real tokens only, so a padded row sees what it would see alone.
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        state = BatchState(DynamicCache(config=self.model.config), mask, ids[:, -1:])
        return state, self._forward(state, ids, positions)

    def decode(self, state: BatchState, keep: Sequence[int] | None = None) -> list[int]:
        """One step for every row (only the rows in ``keep``, in order, when given)."""
        import torch

        with torch.inference_mode():
            if keep is not None and len(keep) < state.rows:
                index = torch.tensor(keep, dtype=torch.long, device=self.device)
                state.cache.batch_select_indices(index)
                state.mask, state.last = state.mask[index], state.last[index]
            state.mask = torch.cat([state.mask, state.mask.new_ones((state.rows, 1))], dim=1)
        positions = state.mask.sum(-1, keepdim=True) - 1
        return self._forward(state, state.last, positions)

    def _forward(self, state: BatchState, ids: torch.Tensor, positions: torch.Tensor) -> list[int]:
        import torch

        try:
            with torch.inference_mode():
                out = self.model(
                    input_ids=ids,
                    attention_mask=state.mask,
                    position_ids=positions,
                    use_cache=True,
                    logits_to_keep=1,  # a serving engine needs only the last position's logits
                    **{self._cache_arg: state.cache},
                )
                state.last = out.logits[:, -1].argmax(-1, keepdim=True)
                # .tolist() waits for the device, so the caller's clock sees the real cost.
                return [int(t) for t in state.last[:, 0].tolist()]
        except torch.OutOfMemoryError as exc:
            state.cache = None  # let the allocator have the batch's KV cache back
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            raise ModelOOM(str(exc).splitlines()[0] if str(exc) else "out of memory") from None
