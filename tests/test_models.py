"""Model resolution: the bundled GGUF is converted once, atomically, and reloads fast."""

from __future__ import annotations

import pytest

from webapp.config import BUNDLED_EMBEDDER, Settings
from webapp.models import resolve


@pytest.mark.slow
def test_bundled_generator_is_cached_as_safetensors(generator, model_cache):
    folder = model_cache / "smollm2-135m-instruct"
    assert (folder / resolve.COMPLETE_MARKER).exists()
    assert (folder / "model.safetensors").exists()
    assert not list(model_cache.glob(".*.tmp"))  # no half-written conversions left behind
    assert resolve.resolve_llm(resolve.BUNDLED_LLM, model_cache) == str(folder)


@pytest.mark.slow
def test_generator_uses_the_model_chat_template(generator):
    rendered = generator.tokenizer.apply_chat_template(
        [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert "<|im_start|>system\nS<|im_end|>" in rendered
    assert rendered.endswith("<|im_start|>assistant\n")


@pytest.mark.slow
def test_generation_answers(generator):
    from webapp.models.generator import GenerationOptions

    text = generator.complete(
        [{"role": "user", "content": "What is the capital of France?"}], GenerationOptions(16)
    )
    assert "Paris" in text


def test_bundled_embedder_resolves_to_the_package():
    path = resolve.resolve_embedder(BUNDLED_EMBEDDER)
    assert path.endswith("model")


def test_hub_ids_switch_off_offline_mode_only_when_asked():
    assert not Settings().uses_hub()
    assert Settings(llm_model="HuggingFaceTB/SmolLM2-360M-Instruct").uses_hub()


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("WEBAPP_PORT", "9123")
    monkeypatch.setenv("WEBAPP_MAX_UPLOAD_MB", "5")
    monkeypatch.setenv("WEBAPP_STORAGE_DIR", str(tmp_path / "s"))
    s = Settings()
    assert (s.port, s.max_upload_mb, s.storage_dir) == (9123, 5.0, tmp_path / "s")
    assert s.models_dir is not None
    assert s.model_cache == s.models_dir
    monkeypatch.delenv("WEBAPP_MODELS_DIR")
    assert Settings().model_cache == tmp_path / "s" / "models"  # default: under the storage
