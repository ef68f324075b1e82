"""Many users at once: chat latency under load, and no answer delivered to the wrong user.

Starts `webapp serve` in password mode on a loopback port with a temporary storage folder and
one account per simulated user. Each chatting user first uploads a note holding a fact only
they know; then all of them ask about their own fact at the same time (gradio_client, one
session each) while two more users keep uploading files. Measured: chat latency p50/p95 under
that load against one user asking alone (the same-run baseline), errors other than an
explicit "busy" answer, and answers or sources that reached the wrong user (must be 0).
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PASSWORD = "load-test-password"
MAX_NEW_TOKENS = 24


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fact(i: int) -> tuple[str, str]:
    code = f"K{i:02d}-{(i * 7919) % 10000:04d}"
    return f"# Locker {i}\nThe locker code of member {i} is {code}.\n", code


class Server:
    def __init__(self, root: Path, models_dir: Path, users: list[str]):
        from webapp.users import UsersFile

        self.storage = root / "storage"
        accounts = UsersFile(self.storage / "users.json")
        for name in users:
            accounts.add(name, PASSWORD)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {
            **os.environ,
            "WEBAPP_STORAGE_DIR": str(self.storage),
            "WEBAPP_MODELS_DIR": str(models_dir),
            "WEBAPP_PORT": str(self.port),
            "WEBAPP_HOST": "127.0.0.1",
            "WEBAPP_AUTH": "password",
            "WEBAPP_CHAT_PER_MINUTE": "1000",
        }
        self.log = (root / "server.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "webapp", "serve"], env=env, stdout=self.log, stderr=self.log
        )

    def wait(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the server exited during start-up")
            try:
                urllib.request.urlopen(self.url, timeout=2)
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _client(url: str, user: str):
    from gradio_client import Client

    return Client(url, auth=(user, PASSWORD), verbose=False)


def _ask(client, question: str) -> tuple[float, dict]:
    start = time.perf_counter()
    result = client.submit(question, True, 4, 0.0, MAX_NEW_TOKENS, api_name="/chat").result(
        timeout=600
    )
    return time.perf_counter() - start, result


def run(models_dir: Path, chatters: int = 20, uploaders: int = 2, questions: int = 2) -> dict:
    from gradio_client import handle_file

    names = [f"member{i}" for i in range(chatters)] + [f"uploader{i}" for i in range(uploaders)]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        server = Server(root, models_dir, names)
        try:
            server.wait()
            notes = []
            for i in range(chatters):
                text, code = _fact(i)
                path = root / f"locker-{i}.md"
                path.write_text(text, encoding="utf-8")
                notes.append((path, code))
            clients = [_client(server.url, f"member{i}") for i in range(chatters)]
            for c, (path, _) in zip(clients, notes, strict=True):
                c.submit([handle_file(str(path))], api_name="/upload").result(timeout=600)
            codes = [code for _, code in notes]

            # Baseline: one user alone (the first question also warms the model up).
            _ask(clients[0], "What is the locker code of member 0?")
            alone = [_ask(clients[0], "What is the locker code of member 0?")[0] for _ in range(3)]

            stop = threading.Event()
            uploads = {"done": 0, "errors": 0}

            def keep_uploading(j: int) -> None:
                c = _client(server.url, f"uploader{j}")
                n = 0
                while not stop.is_set():
                    path = root / f"upload-{j}-{n}.md"
                    path.write_text(f"# Upload {j}.{n}\nFiller text number {n}.\n" * 20)
                    try:
                        c.submit([handle_file(str(path))], api_name="/upload").result(timeout=600)
                        uploads["done"] += 1
                    except Exception:
                        uploads["errors"] += 1
                    n += 1

            def chat(i: int) -> list[tuple[float, str]]:
                out = []
                for _ in range(questions):
                    try:
                        seconds, answer = _ask(
                            clients[i], f"What is the locker code of member {i}?"
                        )
                    except Exception as exc:
                        out.append((float("nan"), "busy" if _is_busy(exc) else "error"))
                        continue
                    text = answer["answer"] + " ".join(s["text"] for s in answer["sources"])
                    foreign = [c for j, c in enumerate(codes) if j != i and c in text]
                    out.append((seconds, "wrong-user" if foreign else "ok"))
                return out

            with ThreadPoolExecutor(max_workers=chatters + uploaders) as pool:
                background = [pool.submit(keep_uploading, j) for j in range(uploaders)]
                results = [r for rs in pool.map(chat, range(chatters)) for r in rs]
                stop.set()
                for b in background:
                    b.result()
        finally:
            server.stop()
    latencies = sorted(s for s, status in results if status == "ok")
    return {
        "chatters": chatters,
        "uploaders": uploaders,
        "questions": len(results),
        "p50_s": statistics.median(latencies) if latencies else None,
        "p95_s": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        if latencies
        else None,
        "alone_p50_s": statistics.median(alone),
        "alone_p95_s": max(alone),
        "wrong_user": sum(status == "wrong-user" for _, status in results),
        "errors": sum(status == "error" for _, status in results),
        "busy": sum(status == "busy" for _, status in results),
        "uploads": uploads["done"],
        "upload_errors": uploads["errors"],
    }


def _is_busy(exc: Exception) -> bool:
    """Our "busy, please wait" answer, or Gradio's own refusal when its queue is full
    (gradio_client raises QueueError "Queue is full! Please try again.")."""
    text = str(exc).lower()
    return "busy" in text or "queue is full" in text or type(exc).__name__ == "QueueError"
