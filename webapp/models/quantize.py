"""A fast copy of the base model for CPU generation: bf16 matmuls for prompts, 4-bit decode.

Decoding one token reads every weight once, so on a CPU it is bound by memory bandwidth:
fp32 SmolLM2-135M reads ~540 MB per token. This copy keeps each Linear layer twice:
- 4-bit weights (groups of 32 inputs, bf16 scale and zero) for decode steps, through
  `torch._weight_int4pack_mm_for_cpu`: an eighth of the fp32 bytes. The bundled model ships
  as a Q4_1 GGUF, so its dequantized weights lie exactly on such a grid and the 4-bit copy
  loses nothing but bf16 rounding of the scales: greedy answers are the fp32 model's, token
  for token (tests/test_fast_path.py). Weights off a 4-bit grid (another model) get
  per-channel int8 instead, which is approximate (it changed answers from the 18th token);
- bf16 weights for prompts, where many tokens share each weight read and the bf16 matmul
  (AVX-512 BF16 where the CPU has it) is the faster kernel.
Measured on 2 cores (`webapp bench`, README "Benchmarks"). Dynamic int8 (torch.ao
`quantize_dynamic`) broke this small model's answers ("The answer is:"), a static KV cache or
a cache that grows in place brought nothing, and torch.compile added 95 s of start-up for no
gain, so none is used.

PEFT adapters wrap fp32 Linear layers, so the fp32 model stays loaded beside this copy: the
copy answers for the base model; adapters, training and logits checks use fp32.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path

import torch

CANDIDATES = 64  # tokens the LM head scores exactly
GROUP = 32  # inputs per 4-bit group (GGUF Q4_0/Q4_1 blocks)
DECODE_ROWS = 8  # up to this many tokens at once, the 4-bit/int8 kernels beat bf16 matmuls


@functools.cache
def native_bf16() -> bool:
    """Whether this CPU computes in bf16 natively (AVX-512 BF16 or AMX). Elsewhere bf16 is
    emulated and slower than fp32, so the fast paths stay off."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


def fast_cpu(setting: str, device: str) -> bool:
    """The `fast_cpu` setting resolved: auto is on where the CPU has native bf16."""
    if device != "cpu" or setting == "off":
        return False
    return setting == "on" or native_bf16()


class DecodeLinear(torch.nn.Module):
    """A Linear layer with bf16 weights for prompts and 4-bit or int8 weights for decode steps.

    A decode step (one token, or the few a prompt-lookup draft checks at once) reads every
    weight for very little arithmetic, so it is bound by memory: 4-bit weights read an eighth
    of the fp32 bytes. When the weights already lie on a 4-bit grid (every layer of the
    bundled Q4_1 GGUF does), the 4-bit copy is exact up to bf16 scales, and decoding follows
    the fp32 model token for token; other weights get per-channel int8.

    Inputs and outputs stay fp32: only the matmul runs in bf16, so attention and the KV
    cache keep fp32 (in bf16, attention over a 1,000-token cache cost 14 ms more per token
    than in fp32 and ate the whole decode gain)."""

    def __init__(self, linear: torch.nn.Linear, prompts: bool = True, lossy4: bool = False):
        super().__init__()
        weight = linear.weight.detach().float()
        self.bias = linear.bias
        self.bf16_weight = weight.to(torch.bfloat16) if prompts else None
        self.int4 = _int4_pack(weight, lossy4)
        self.int8 = None if self.int4 else _int8_pack(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1]).to(torch.bfloat16)
        if flat.shape[0] > DECODE_ROWS and self.bf16_weight is not None:
            y = flat @ self.bf16_weight.t()  # a prompt: many rows share each weight read
        elif self.int4:
            y = torch._weight_int4pack_mm_for_cpu(flat, self.int4[0], GROUP, self.int4[1])
        else:
            y = torch._weight_int8pack_mm(flat, *self.int8)
        y = y.to(x.dtype).reshape(*x.shape[:-1], -1)
        return y if self.bias is None else y + self.bias


def _int8_pack(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-output-channel int8 weights and bf16 scales."""
    scales = weight.abs().amax(dim=1).clamp(min=1e-8) / 127
    int8 = torch.round(weight / scales[:, None]).clamp(-127, 127).to(torch.int8)
    return int8.contiguous(), scales.to(torch.bfloat16)


def _int4_pack(weight: torch.Tensor, lossy: bool = False):
    """Packed 4-bit weights and bf16 (scale, zero) pairs per group of GROUP inputs, with
    w = min + scale * q, q in 0..15 (the Q4_1 layout). Without `lossy`, only when every group
    already holds such a grid (a 4-bit GGUF's weights, dequantized), so nothing is lost
    beyond bf16 scales; otherwise None."""
    rows, cols = weight.shape
    if cols % GROUP or not hasattr(torch, "_weight_int4pack_mm_for_cpu"):
        return None
    groups = weight.view(rows, cols // GROUP, GROUP)
    low, high = groups.amin(-1), groups.amax(-1)
    scale = (high - low) / 15
    q = torch.round((groups - low[..., None]) / scale.clamp(min=1e-30)[..., None]).clamp(0, 15)
    error = (q * scale[..., None] + low[..., None] - groups).abs()
    if not lossy and not bool((error <= 1e-3 * scale[..., None]).all()):
        return None
    try:
        packed = torch._convert_weight_to_int4pack_for_cpu(q.view(rows, cols).to(torch.int32), 1)
    except RuntimeError:  # a shape this torch build's kernel does not take: int8 instead
        return None
    # The kernel computes (q - 8) * scale + zero, with scales and zeros as (groups, rows, 2).
    scales = torch.stack([scale, low + 8 * scale], dim=-1).transpose(0, 1).contiguous()
    return packed, scales.to(torch.bfloat16)


class RescoredHead(torch.nn.Module):
    """The LM head: 4-bit logits pick the CANDIDATES best tokens, exact fp32 logits rank them.

    Rounding the head's input to bf16 (or its weights to int8) alone changed first tokens
    ("What is the capital of France?" answered "L'Étoile…" instead of "The capital of France
    is Paris."), while an fp32 head cost ~7 ms a token. Scoring only the candidates in fp32
    keeps greedy answers those of fp32 (the best token is always among the 64) at the price
    of reading 4-bit weights; tokens outside the candidates get -inf, which sampling never
    misses in practice. Generation asks the head for a few positions at most (the prompt's
    last one, a draft's), so it keeps no bf16 copy.
    """

    def __init__(self, head: torch.nn.Linear, candidates: int = CANDIDATES):
        super().__init__()
        self.approx = DecodeLinear(head, prompts=False, lossy4=True)
        self.weight = head.weight  # fp32, tied to the input embeddings
        self.candidates = min(candidates, head.out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        approx = self.approx(x)
        top = approx.topk(self.candidates, dim=-1).indices
        exact = torch.einsum("...d,...kd->...k", x, self.weight[top])
        return torch.full_like(approx, float("-inf")).scatter_(-1, top, exact)


def fast_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of `model` with DecodeLinear layers and a RescoredHead."""
    # The copy shares every tensor of `model` (nothing here writes to them); only the new
    # 4-bit/int8/bf16 weights take memory. A plain deepcopy held a second fp32 model.
    shared = {id(t): t for t in [*model.parameters(), *model.buffers()]}
    fast = copy.deepcopy(model, memo=shared)
    head = fast.get_output_embeddings()
    for module in list(fast.modules()):
        for name, child in list(module.named_children()):
            if child is head:
                setattr(module, name, RescoredHead(child))
            elif isinstance(child, torch.nn.Linear):
                setattr(module, name, DecodeLinear(child))
    return fast.eval()


class LoraDecode(torch.nn.Module):
    """A fast-copy layer plus the low-rank updates of LoRA adapters; the active one is added.

    So a LoRA adapter answers at the fast copy's speed: the base weights stay 4-bit/bf16 (for
    the bundled model, exactly its Q4_1 grid) and the update x·Aᵀ·Bᵀ·(alpha/r) runs in fp32,
    as PEFT computes it on the fp32 model (rank 16: 2 x 16 x d multiply-adds per token).
    Which adapter is active is model state, set under the generator's lock."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner
        self.updates: dict[str, tuple[torch.Tensor, torch.Tensor, float]] = {}
        self.active: str | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.inner(x)
        update = self.updates.get(self.active) if self.active else None
        if update is None:
            return y
        a, b, scale = update
        return y + ((x.float() @ a.t()) @ b.t() * scale).to(y.dtype)


def attach_lora(fast: torch.nn.Module, name: str, folder: Path) -> int:
    """Add the LoRA adapter saved in `folder` (PEFT's files) to `fast` as `name`; returns the
    number of layers it updates. Raises ValueError for an adapter this cannot apply."""
    import json

    from safetensors.torch import load_file

    config = json.loads((folder / "adapter_config.json").read_text())
    if config.get("peft_type") != "LORA" or config.get("use_dora") or config.get("use_rslora"):
        raise ValueError("only plain LoRA adapters run on the fast copy")
    scale = float(config["lora_alpha"]) / float(config["r"])
    weights = load_file(str(folder / "adapter_model.safetensors"))
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in weights.items():
        m = re.match(r"(?:base_model\.model\.)?(.+)\.lora_([AB])\.weight$", key)
        if not m:
            raise ValueError(f"unexpected tensor {key} in a LoRA adapter")
        pairs.setdefault(m.group(1), {})[m.group(2)] = tensor.float()
    modules = dict(fast.named_modules())
    for path, pair in pairs.items():
        layer = modules.get(path)
        if isinstance(layer, DecodeLinear):
            parent_path, _, attr = path.rpartition(".")
            layer = LoraDecode(layer)
            setattr(modules[parent_path] if parent_path else fast, attr, layer)
            modules[path] = layer
        if not isinstance(layer, LoraDecode) or set(pair) != {"A", "B"}:
            raise ValueError(f"the adapter updates {path}, which the fast copy cannot")
        layer.updates[name] = (pair["A"].contiguous(), pair["B"].contiguous(), scale)
    return len(pairs)


def activate_lora(fast: torch.nn.Module, name: str | None) -> None:
    for module in fast.modules():
        if isinstance(module, LoraDecode):
            module.active = name
