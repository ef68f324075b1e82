"""The import rules of the house, read from the code itself (ast): gradio only in the UI,
the composition root (webapp.services) only in entry points, and feature packages that only
import downward: models < knowledge < retrieval < chat < adapters < evaluation. Modules
shared by all (config, errors, files, text, storage_lock, owners) sit below every package;
the use cases that span them all (accounts, health) above, built by the composition root.
Files stay under 400 lines and functions under 80, median 15 or less. Nothing breaks these
rules today; a change that does fails here."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import webapp

ROOT = Path(webapp.__file__).resolve().parent
LAYERS = ["models", "knowledge", "retrieval", "chat", "adapters", "evaluation"]
ENTRY_POINTS = {"webapp.__main__", "webapp.app"}
ENTRY_PACKAGES = {"ui", "bench", "cli"}
ABOVE_FEATURES = {"webapp.accounts", "webapp.health"}


def modules() -> dict[str, Path]:
    return {
        ".".join(p.relative_to(ROOT.parent).with_suffix("").parts): p for p in ROOT.rglob("*.py")
    }


def imported(path: Path) -> set[str]:
    """Every absolute module an import in the file names, function-local ones included."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else None


def breaks() -> set[tuple[str, str]]:
    found = set()
    for module, path in modules().items():
        own = package(module)
        for name in imported(path):
            parts = name.split(".")
            if parts[0] == "gradio" and own != "ui":
                found.add((module, "gradio"))
            entry = own in ENTRY_PACKAGES or module in ENTRY_POINTS | {"webapp.services"}
            if name == "webapp.services" and not entry:
                found.add((module, "webapp.services"))
            if name in ABOVE_FEATURES and own in LAYERS:
                found.add((module, name))
            layered = own in LAYERS and len(parts) > 1 and parts[1] in LAYERS
            if parts[0] == "webapp" and layered and LAYERS.index(parts[1]) > LAYERS.index(own):
                found.add((module, f"webapp.{parts[1]}"))
    return found


def test_imports_follow_the_layers():
    found = breaks()
    assert found == set(), "imports against the rules"


def test_the_version_is_the_changelog_s_latest_release():
    project = tomllib.loads((ROOT.parent / "pyproject.toml").read_text())["project"]
    changelog = (ROOT.parent / "CHANGELOG.md").read_text()
    latest = re.search(r"^## (\d+\.\d+\.\d+)", changelog, re.M).group(1)
    assert project["version"] == webapp.__version__ == latest


MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 80


def test_files_and_functions_stay_short():
    files, functions, lengths = set(), set(), []
    for module, path in modules().items():
        source = path.read_text(encoding="utf-8")
        if source.count("\n") > MAX_FILE_LINES:
            files.add(module)
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lengths.append(node.end_lineno - node.lineno + 1)
                if lengths[-1] > MAX_FUNCTION_LINES:
                    functions.add(f"{module}.{node.name}")
    assert files == set(), f"over {MAX_FILE_LINES} lines: split them by concern"
    assert functions == set(), f"over {MAX_FUNCTION_LINES} lines: name their steps"
    assert sorted(lengths)[len(lengths) // 2] <= 15  # the median function
