"""The fast CPU path (webapp.models.quantize, prompt-lookup drafting in the generator): the
base model's answers must be the fp32 model's answers, token for token, only faster."""

from __future__ import annotations

import threading

import pytest
import torch

from webapp.models.generator import GenerationOptions
from webapp.models.quantize import DecodeLinear, fast_copy

SOURCE = (
    "The Rhine flows 1,230 kilometres from the Swiss Alps to the North Sea. Its largest "
    "tributary is the Moselle, which joins it at Koblenz. Barges carry coal and grain on it."
)
PROMPTS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [
        {"role": "system", "content": "Answer from the source and cite it as [1]."},
        {"role": "user", "content": f"[1] {SOURCE}\n\nWhere does the Moselle join the Rhine?"},
    ],
    [{"role": "user", "content": f"Repeat this text exactly: {SOURCE}"}],
]


def _greedy_ids(generator, model, messages, tokens: int) -> list[int]:
    inputs = generator._encode(messages)
    with torch.inference_mode():
        out = model.generate(
            **inputs,
            max_new_tokens=tokens,
            do_sample=False,
            pad_token_id=generator.tokenizer.eos_token_id,
        )
    return out[0, inputs["input_ids"].shape[1] :].tolist()


@pytest.fixture
def fast(generator):
    generator.fast_ready.wait(120)
    if generator.fast_model is None:
        pytest.skip("this CPU has no native bf16: the fast copy is off")
    return generator


@pytest.mark.slow
def test_fast_copy_answers_exactly_as_the_fp32_model(fast):
    for messages in PROMPTS:
        # The fp32 base as the generator uses it: LoRA adapters loaded by other tests are
        # layers inside the same model, switched off here.
        with fast._lock, fast._model_for(None, fast=False) as base:
            fp32 = _greedy_ids(fast, base, messages, 48)
        ours = _greedy_ids(fast, fast.fast_model, messages, 48)
        assert ours == fp32, fast.tokenizer.decode(ours) + " != " + fast.tokenizer.decode(fp32)


@pytest.mark.slow
def test_drafts_give_the_same_answer_in_fewer_steps(fast):
    """Drafting (on by default) takes several tokens per forward pass where the answer quotes
    the prompt, and the model checks every draft, so the answer is the one it gives alone."""
    assert fast.draft_tokens > 0
    steps = []
    hook = fast.fast_model.register_forward_hook(lambda *args: steps.append(1))
    try:
        drafted = "".join(fast.stream(PROMPTS[2], GenerationOptions(max_new_tokens=48)))
        drafted_steps = len(steps)
        alone = "".join(fast.stream(PROMPTS[2], GenerationOptions(48, drafts=False)))
    finally:
        hook.remove()
    assert drafted == alone
    assert "Moselle" in drafted
    assert drafted_steps <= 0.7 * (len(steps) - drafted_steps)


@pytest.mark.slow
def test_bundled_weights_decode_from_their_exact_4bit_grid(fast):
    layers = [m for m in fast.fast_model.modules() if isinstance(m, DecodeLinear)]
    assert len(layers) == 30 * 7 + 1  # every Linear of the 30 blocks, and the head's guess
    assert all(layer.int4 is not None for layer in layers)
    q_proj = fast.model.model.layers[0].self_attn.q_proj
    x = torch.randn(1, q_proj.in_features)
    exact = x.to(torch.bfloat16).float() @ q_proj.weight.t()
    got = fast.fast_model.model.layers[0].self_attn.q_proj(x)
    # Only bf16 scales and the bf16 output stand between the two: well under 1% of the scale.
    assert (got - exact).abs().max() <= 0.01 * exact.abs().max()


def test_weights_off_a_4bit_grid_fall_back_to_int8():
    torch.manual_seed(0)
    plain = torch.nn.Linear(64, 32, bias=True)
    model = torch.nn.Sequential(plain)
    model.get_output_embeddings = lambda: None
    layer = fast_copy(model)[0]
    assert layer.int4 is None
    assert layer.int8 is not None
    x = torch.randn(1, 64)
    assert torch.allclose(layer(x), plain(x), atol=0.02 * plain(x).abs().max().item())


@pytest.mark.slow
def test_drafting_still_streams_and_samples(fast):
    messages = PROMPTS[2]
    pieces = list(fast.stream(messages, GenerationOptions(max_new_tokens=40)))
    assert len(pieces) > 3
    assert "Rhine" in "".join(pieces)
    stop = threading.Event()
    text = "".join(fast.stream(messages, GenerationOptions(40, temperature=0.8), stop=stop))
    assert text.strip()


@pytest.mark.slow
def test_a_lora_adapter_on_the_fast_copy_answers_as_peft_on_fp32(fast, tmp_path):
    """The shipped reader runs on the fast copy (LoraDecode): its logits match PEFT's fp32
    model with the same adapter, and switching it off gives the base model back."""
    import copy

    from peft import LoraConfig, get_peft_model

    from webapp.models.quantize import activate_lora, attach_lora

    torch.manual_seed(0)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    peft = get_peft_model(copy.deepcopy(fast.model), config, adapter_name="default")
    for name, p in peft.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.05)  # a trained-looking adapter, not B = 0
    peft.save_pretrained(tmp_path)
    inputs = fast._encode(PROMPTS[1])
    with torch.inference_mode():
        expected = peft(**inputs).logits[0, -1]
        base = fast.fast_model(**inputs).logits[0, -1]
        layers = attach_lora(fast.fast_model, "probe", tmp_path)
        activate_lora(fast.fast_model, "probe")
        try:
            got = fast.fast_model(**inputs).logits[0, -1]
        finally:
            activate_lora(fast.fast_model, None)
        again = fast.fast_model(**inputs).logits[0, -1]
    assert layers == 2 * fast.model.config.num_hidden_layers
    assert int(got.argmax()) == int(expected.argmax())
    top = expected.topk(10).indices  # the fast head scores its 64 best tokens only
    off = (base[top] - expected[top]).abs().max()
    assert (got[top] - expected[top]).abs().max() < off / 4  # the update is there
    assert torch.equal(again, base)  # off again: the base model's answers, exactly
