"""A fast copy of the base model for CPU generation: bf16 matmuls, int8 decode weights.

Decoding one token reads every weight once, so on a CPU it is bound by memory bandwidth:
fp32 SmolLM2-135M reads ~540 MB per token. This copy keeps each Linear layer twice:
- int8 weights (per output channel, bf16 scales) for one-token decode steps, through
  `torch._weight_int8pack_mm`: a quarter of the fp32 bytes;
- bf16 weights for prompts, where many tokens share each weight read and the bf16 matmul
  (AVX-512 BF16 where the CPU has it) is the faster kernel.
Measured on 2 cores (`webapp bench`, README "Benchmarks"): decode 2.0x and prefill 1.9x plain
fp32 `generate`, XQuAD exact match and F1 within 0.5 points of fp32. Dynamic int8 (torch.ao
`quantize_dynamic`) decoded 3x faster but quantizing activations per tensor broke this small
model's answers ("The answer is:"), and torch.compile added 95 s of start-up for no gain, so
neither is used.

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


class Int8DecodeLinear(torch.nn.Module):
    """A Linear layer with bf16 weights for prompts and int8 weights for single tokens.

    Inputs and outputs stay fp32: only the matmul runs in bf16, so attention and the KV
    cache keep fp32 (in bf16, attention over a 1,000-token cache cost 14 ms more per token
    than in fp32 and ate the whole decode gain)."""

    def __init__(self, linear: torch.nn.Linear):
        super().__init__()
        weight = linear.weight.detach().float()
        scales = weight.abs().amax(dim=1).clamp(min=1e-8) / 127
        int8 = torch.round(weight / scales[:, None]).clamp(-127, 127).to(torch.int8)
        self.register_buffer("int8_weight", int8.contiguous(), persistent=False)
        self.register_buffer("scales", scales.to(torch.bfloat16), persistent=False)
        self.register_buffer("bf16_weight", weight.to(torch.bfloat16), persistent=False)
        self.bias = linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1]).to(torch.bfloat16)
        if flat.shape[0] == 1:  # a decode step: memory-bound, read the int8 weights
            y = torch._weight_int8pack_mm(flat, self.int8_weight, self.scales)
        else:
            y = flat @ self.bf16_weight.t()
        y = y.to(x.dtype).reshape(*x.shape[:-1], -1)
        return y if self.bias is None else y + self.bias


class RescoredHead(torch.nn.Module):
    """The LM head: int8 logits pick the CANDIDATES best tokens, exact fp32 logits rank them.

    Rounding the head's input to bf16 (or its weights to int8) alone changed first tokens
    ("What is the capital of France?" answered "L'Étoile…" instead of "The capital of France
    is Paris."), while an fp32 head cost ~7 ms a token. Scoring only the candidates in fp32
    keeps greedy answers those of fp32 (the best token is always among the 64) at the int8
    price; tokens outside the candidates get -inf, which sampling never misses in practice.
    """

    def __init__(self, head: torch.nn.Linear, candidates: int = CANDIDATES):
        super().__init__()
        self.approx = Int8DecodeLinear(head)
        self.weight = head.weight  # fp32, tied to the input embeddings
        self.candidates = min(candidates, head.out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        approx = self.approx(x)
        top = approx.topk(self.candidates, dim=-1).indices
        exact = torch.einsum("...d,...kd->...k", x, self.weight[top])
        return torch.full_like(approx, float("-inf")).scatter_(-1, top, exact)


def int8_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of `model` with Int8DecodeLinear layers and a RescoredHead."""
    # The copy shares every tensor of `model` (nothing here writes to them); only the new
    # int8/bf16 weights take memory. A plain deepcopy held a second fp32 model at start-up.
    shared = {id(t): t for t in [*model.parameters(), *model.buffers()]}
    fast = copy.deepcopy(model, memo=shared)
    head = fast.get_output_embeddings()
    for module in list(fast.modules()):
        for name, child in list(module.named_children()):
            if child is head:
                setattr(module, name, RescoredHead(child))
            elif isinstance(child, torch.nn.Linear):
                setattr(module, name, Int8DecodeLinear(child))
    return fast.eval()
