"""A fast copy of the base model for CPU generation: bf16 activations, int8 decode weights.

Decoding one token reads every weight once, so on a CPU it is bound by memory bandwidth:
fp32 SmolLM2-135M reads ~540 MB per token. This copy keeps each Linear layer twice:
- int8 weights (per output channel, bf16 scales) for one-token decode steps, through
  `torch._weight_int8pack_mm`: a quarter of the fp32 bytes;
- bf16 weights for prompts, where many tokens share each weight read and the bf16 matmul
  (AVX-512 BF16 where the CPU has it) is the faster kernel.
Activations stay in bf16 throughout. Measured on 2 cores (`webapp bench`, /tmp experiments
noted in the README): decode ~2.5x and prefill ~2.7x fp32, with the same greedy answers on
our test questions. Dynamic int8 (torch.ao `quantize_dynamic`) decoded 3x faster but
quantizing activations per tensor broke this small model's answers ("The answer is:"), and
torch.compile added 95 s of start-up for no gain, so neither is used.

PEFT adapters wrap fp32 Linear layers, so the fp32 model stays loaded beside this copy: the
copy answers for the base model; adapters, training and logits checks use fp32.
"""

from __future__ import annotations

import copy

import torch

MODES = ("int8", "none")


class Int8DecodeLinear(torch.nn.Module):
    """A Linear layer with bf16 weights for prompts and int8 weights for single tokens."""

    def __init__(self, linear: torch.nn.Linear):
        super().__init__()
        weight = linear.weight.detach().float()
        scales = weight.abs().amax(dim=1).clamp(min=1e-8) / 127
        int8 = torch.round(weight / scales[:, None]).clamp(-127, 127).to(torch.int8)
        self.register_buffer("int8_weight", int8.contiguous(), persistent=False)
        self.register_buffer("scales", scales.to(torch.bfloat16), persistent=False)
        self.weight = linear.weight  # bf16 (the model is cast first); tied weights stay tied
        self.bias = linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        if flat.shape[0] == 1:  # a decode step: memory-bound, read the int8 weights
            y = torch._weight_int8pack_mm(flat, self.int8_weight, self.scales)
        else:
            y = flat @ self.weight.t()
        y = y.reshape(*x.shape[:-1], -1)
        return y if self.bias is None else y + self.bias


def int8_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A bf16 copy of `model` whose Linear layers (the LM head included) decode in int8."""
    fast = copy.deepcopy(model).to(torch.bfloat16)
    for module in list(fast.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(module, name, Int8DecodeLinear(child))
    return fast.eval()
