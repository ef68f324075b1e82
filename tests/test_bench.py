"""`webapp bench --quick --json` end to end: every figure of the issue, with its baseline."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

REQUIRED = [
    "ingest_chunks_per_s",
    "pdf_pages_per_s",
    "query_embed_ms",
    "retrieval_p50_ms_5k",
    "retrieval_p50_ms_100k",
    "prefill_tokens_per_s",
    "decode_tokens_per_s",
    "ttft_s",
    "answer_decode_tokens_per_s",
    "warm_start_s",
    "peak_rss_serving_mb",
    "lora_train_tokens_per_s",
]


def test_quick_bench_json(isolated_storage):
    # WEBAPP_STORAGE_DIR and WEBAPP_MODELS_DIR (the shared model cache) come from the fixture.
    run = subprocess.run(
        [sys.executable, "-m", "webapp", "bench", "--quick", "--json"],
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=1200,  # ~2 min on an idle 2-core machine; far longer when the cores are busy
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(result) == {"machine", "figures"}
    assert isinstance(result["machine"], str)
    assert result["machine"]
    by_name = {}
    for figure in result["figures"]:
        assert set(figure) == {"name", "unit", "ours", "baseline", "ratio"}, figure
        assert isinstance(figure["name"], str)
        assert isinstance(figure["unit"], str)
        assert figure["name"] not in by_name, f"{figure['name']} reported twice"
        by_name[figure["name"]] = figure
        assert isinstance(figure["ours"], int | float)
        assert math.isfinite(figure["ours"])
        if not figure["baseline"]:  # none, or 0 (exact match on a dozen questions): no ratio
            assert figure["ratio"] is None
        else:
            assert isinstance(figure["baseline"], int | float)
            assert figure["baseline"] > 0
            assert figure["ratio"] == pytest.approx(figure["ours"] / figure["baseline"], abs=1e-3)
    missing = [name for name in REQUIRED if name not in by_name]
    assert not missing, f"missing figures: {missing}"
    for name in REQUIRED:  # each one measured something, against a same-run baseline
        assert by_name[name]["ours"] > 0, by_name[name]
        assert by_name[name]["baseline"] is not None, by_name[name]
