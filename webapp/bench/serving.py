"""Start-up time and peak memory of the real server (`python -m webapp serve`).

Start-up: process start until the page answers 200 on a free loopback port, on a fresh
temporary storage folder. Warm: the converted model already in WEBAPP_MODELS_DIR (the bench's
own model cache). First run (full run only): an empty models folder, so the bundled GGUF is
converted first. Baseline for both: a bare Gradio Blocks app (a title, a text box and an echo
function) started the same way: the floor any Gradio app pays (Python, Gradio's imports, the
web server), without our models or stores.

Peak memory: the server's VmHWM (Linux) reset just before the work, read right after it.
With the demo documents indexed: while answering one question through /chat (gradio_client),
then while indexing bigger uploads through /upload (SciFact abstracts in one text file; in the
full run the real PDFs too). Parsing runs in a separate, memory-limited worker process, whose
peak is reported in the note. Baseline: the bare Gradio app's peak after one echo request.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from webapp.bench import common
from webapp.bench.runner import Figure

BARE_APP = """
import os
import gradio as gr

def echo(text):
    return text

with gr.Blocks() as demo:
    gr.Markdown("# Hello")
    box, out = gr.Textbox(), gr.Textbox()
    box.submit(echo, box, out, api_name="echo")
demo.launch(server_name="127.0.0.1", server_port=int(os.environ["BENCH_PORT"]))
"""
QUESTION = "Who founded the Harbor Lights Cooperative?"


class Process:
    """A server started in the background; `started_s` is process start → page 200."""

    def __init__(self, args: list[str], env: dict, log: Path, timeout: float = 600):
        self.port = common.free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {
            **env,
            "BENCH_PORT": str(self.port),
            "WEBAPP_PORT": str(self.port),
            "WEBAPP_HOST": "127.0.0.1",
            "GRADIO_ANALYTICS_ENABLED": "False",
        }
        self.log = log.open("w")
        start = time.perf_counter()
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=self.log)
        try:
            self._wait(timeout)
        except BaseException:
            self.stop()
            raise
        self.started_s = time.perf_counter() - start

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited during start-up (see {self.log.name})")
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.HTTPError):
                pass
            time.sleep(0.05)
        raise RuntimeError("the server did not start in time")

    def children_peak_mb(self) -> float:
        """The largest peak RSS among the server's child processes (parse workers)."""
        peaks = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                peaks.append(common.peak_rss_mb(int(stat.parent.name)) or 0.0)
        return max(peaks, default=0.0)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _serve(root: Path, models_dir: Path, name: str) -> Process:
    storage = root / f"storage-{name}"
    env = {
        **os.environ,
        "WEBAPP_STORAGE_DIR": str(storage),
        "WEBAPP_MODELS_DIR": str(models_dir),
        "WEBAPP_AUTH": "local",
        "WEBAPP_CHAT_PER_MINUTE": "1000",
    }
    return Process([sys.executable, "-m", "webapp", "serve"], env, root / f"{name}.log")


def _bare(root: Path, name: str) -> Process:
    return Process([sys.executable, "-c", BARE_APP], dict(os.environ), root / f"{name}.log")


def _client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False)


def _upload(client, files: list[Path]) -> list[dict]:
    from gradio_client import handle_file

    results = client.predict([handle_file(str(p)) for p in files], api_name="/upload")
    failed = [r for r in results if r["status"] == "failed"]
    if failed:
        raise RuntimeError(f"upload of {failed[0]['file']} failed: {failed[0]['message']}")
    return results


def _memory(server: Process, bare: Process, files: list[Path]) -> dict:
    """Demo documents in, one question (peak while answering), then `files` in (peak while
    indexing, the model already resident as in a server that has answered questions)."""
    pid = server.proc.pid
    out = {"startup_peak_mb": common.peak_rss_mb(pid)}
    client = _client(server.url)
    _upload(client, sorted(common.DEMO.glob("*.md")))
    out["resettable"] = common.reset_peak_rss(pid)
    answer = client.predict(QUESTION, True, 4, 0.0, 64, api_name="/chat")
    out["serving_mb"] = common.peak_rss_mb(pid)
    out["sources"] = len(answer["sources"])
    common.reset_peak_rss(pid)
    results = _upload(client, files)
    out["ingest_mb"] = common.peak_rss_mb(pid)
    out["worker_mb"] = server.children_peak_mb()
    out["chunks"] = sum(r["chunks"] for r in results)
    _client(bare.url).predict("hello", api_name="/echo")
    out["bare_mb"] = common.peak_rss_mb(bare.proc.pid)
    return out


def figures(services, quick: bool) -> list[Figure]:
    models_dir = services.settings.model_cache
    services.base_model_path()  # the warm runs need the converted model in the cache
    repeats = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="webapp-bench-serve-") as tmp:
        root = Path(tmp)
        uploads, what = _uploads(root, quick)
        ours, bare, memory = _warm_starts(root, models_dir, repeats, uploads)
        first = None
        if not quick:
            empty = root / "fresh-models"
            server = _serve(root, empty, "first")
            first = server.started_s
            server.stop()
    return _start_figures(ours, bare, first, repeats) + _memory_figures(memory, what, uploads)


def _uploads(root: Path, quick: bool) -> tuple[list[Path], str]:
    """The files indexed for the ingest peak (abstracts.txt, then the real PDFs in a full
    run) and what the abstracts are."""
    texts, what = common.corpus(50 if quick else 300)
    uploads = [root / "abstracts.txt"]
    uploads[0].write_text("\n\n".join(t for _, t in texts), encoding="utf-8")
    found = None if quick else common.pdf_files(False, root)
    uploads += found[0] if found else []
    return uploads, what


def _warm_starts(
    root: Path, models_dir: Path, repeats: int, uploads: list[Path]
) -> tuple[list[float], list[float], dict | None]:
    """Start times of our server and the bare app, `repeats` times each; the memory peaks
    measured on the first pair."""
    ours, bare, memory = [], [], None
    for i in range(repeats):
        baseline = _bare(root, f"bare{i}")
        try:
            bare.append(baseline.started_s)
            server = _serve(root, models_dir, f"warm{i}")
            try:
                ours.append(server.started_s)
                if memory is None:
                    memory = _memory(server, baseline, uploads)
            finally:
                server.stop()
        finally:
            baseline.stop()
    return ours, bare, memory


def _start_figures(
    ours: list[float], bare: list[float], first: float | None, repeats: int
) -> list[Figure]:
    warm_note = (
        f"python -m webapp serve → page 200, converted model cached; median of {repeats}; "
        "baseline: a bare Gradio Blocks app (title, text box, echo) started the same way"
    )
    starts = [
        Figure(
            "warm_start_s",
            "s",
            round(common.median(ours), 2),
            round(common.median(bare), 2),
            warm_note,
        )
    ]
    if first is not None:
        starts.append(
            Figure(
                "first_start_s",
                "s",
                round(first, 2),
                round(common.median(bare), 2),
                "first run: empty models folder, so the bundled GGUF is converted first; "
                "one run; baseline: the bare Gradio app's start",
            )
        )
    return starts


def _memory_figures(memory: dict | None, what: str, uploads: list[Path]) -> list[Figure]:
    if not memory or memory["serving_mb"] is None:
        return []
    reset = "" if memory["resettable"] else " (peak could not be reset: includes start-up)"
    return [
        Figure(
            "peak_rss_serving_mb",
            "MB",
            round(memory["serving_mb"], 1),
            round(memory["bare_mb"], 1),
            f"server peak RSS while answering one /chat question ({memory['sources']} "
            f"sources, 64 new tokens){reset}; start-up peak "
            f"{memory['startup_peak_mb']:.0f} MB; baseline: the bare Gradio app after "
            "one request",
        ),
        Figure(
            "peak_rss_ingest_mb",
            "MB",
            round(memory["ingest_mb"], 1),
            round(memory["bare_mb"], 1),
            f"server peak RSS while indexing abstracts.txt ({what})"
            f"{''.join(', ' + p.name for p in uploads[1:])} through /upload "
            f"({memory['chunks']} chunks), after one "
            f"answer{reset}; the parse worker's own peak "
            f"{memory['worker_mb']:.0f} MB; baseline: the bare Gradio app",
        ),
    ]
