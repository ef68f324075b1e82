"""The training configuration: one validated object, every field with help text."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator

METADATA = "metadata.json"  # written last into an adapter folder: its presence means complete
Method = Literal["lora", "prompt", "prefix", "kto", "dpo"]
# kto and dpo train a LoRA too, from preferences (webapp.adapters.preference, with TRL):
# KTO from answers rated good or bad, DPO from pairs of a better and a worse answer.
PREFERENCE = ("kto", "dpo")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")
# Learning rates that make each method learn a handful of facts in a few epochs on CPU.
DEFAULT_LR = {"lora": 2e-3, "prompt": 1e-1, "prefix": 3e-2, "kto": 1e-4, "dpo": 1e-4}
ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]
ALL_LINEAR = ATTENTION + ["gate_proj", "up_proj", "down_proj"]


class TrainConfig(BaseModel):
    name: str = Field(description="Adapter name: letters, digits, - and _ (at most 48).")
    method: Method = Field(
        "lora",
        description="lora, prompt (prompt tuning) or prefix tuning on answers; kto (answers "
        "rated 👍/👎) or dpo (better/worse pairs): a LoRA trained from preferences.",
    )
    epochs: int = Field(4, ge=1, le=100, description="Passes over the training rows.")
    learning_rate: float | None = Field(
        None, gt=0, le=1, description="Optimizer step size (default depends on the method)."
    )
    rank: int = Field(16, ge=1, le=256, description="LoRA rank r.")
    alpha: int = Field(32, ge=1, le=1024, description="LoRA scaling alpha.")
    dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout.")
    target: Literal["attention", "all-linear"] = Field(
        "all-linear",
        description="LoRA on the attention projections only, or on every linear layer.",
    )
    virtual_tokens: int = Field(
        20, ge=1, le=256, description="Learned tokens for prompt or prefix tuning."
    )
    batch_size: int = Field(
        1, ge=1, le=64, description="Rows per optimizer step (1 is fastest per token on CPU)."
    )
    max_length: int = Field(
        384, ge=32, le=4096, description="Longest row in tokens (longer are cut)."
    )
    validation_fraction: float = Field(
        0.0, ge=0, le=0.5, description="Share of rows held out to measure validation loss."
    )
    beta: float = Field(
        0.1,
        gt=0,
        le=10,
        description="kto, dpo: how strongly the preferences pull; small values let the "
        "adapter move further from the base model's answers.",
    )
    seed: int = Field(0, description="Random seed (same data + seed = same adapter).")
    last_layers: int | None = Field(
        None,
        ge=1,
        le=512,
        description="LoRA in the last N transformer layers only (None: every layer). The "
        "layers below need no backward pass, so training is faster (10 of 30: 1.8x in fp32).",
    )
    bf16: bool = Field(
        False,
        description="Train under bf16 autocast (on a CPU with native bf16 about 1.8x faster; "
        "the adapter is stored in fp32).",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(
                "use 1-48 letters, digits, '-' or '_', starting with a letter or digit"
            )
        return value

    @property
    def lr(self) -> float:
        return self.learning_rate or DEFAULT_LR[self.method]

    def peft_config(self, num_layers: int | None = None):
        """PEFT's config; `num_layers` (the base model's) places `last_layers`."""
        from peft import LoraConfig, PrefixTuningConfig, PromptTuningConfig, TaskType

        if self.method in ("lora", *PREFERENCE):
            layers = None
            if self.last_layers and num_layers and self.last_layers < num_layers:
                layers = list(range(num_layers - self.last_layers, num_layers))
            return LoraConfig(
                task_type=TaskType.CAUSAL_LM,
                r=self.rank,
                lora_alpha=self.alpha,
                lora_dropout=self.dropout,
                target_modules=ATTENTION if self.target == "attention" else ALL_LINEAR,
                layers_to_transform=layers,
            )
        if self.method == "prompt":
            return PromptTuningConfig(
                task_type=TaskType.CAUSAL_LM, num_virtual_tokens=self.virtual_tokens
            )
        return PrefixTuningConfig(
            task_type=TaskType.CAUSAL_LM, num_virtual_tokens=self.virtual_tokens
        )

    def hyperparameters(self) -> dict:
        data = self.model_dump(exclude={"name"})
        data["learning_rate"] = self.lr
        return data
