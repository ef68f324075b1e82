"""Adapters on disk: one self-describing folder per adapter, per owner.

storage/adapters/<owner key>/<name>/ holds the PEFT files (safetensors only) and
metadata.json, written last. Export makes a zip of that folder; import checks a zip before
anything reaches the registry: safetensors only, no path tricks, bounded size, metadata that
names our base model.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from webapp import storage_lock
from webapp.adapters.config import METADATA, NAME_PATTERN
from webapp.errors import AdapterError
from webapp.knowledge.formats import zip_directory
from webapp.owners import owner_key

log = logging.getLogger(__name__)

ALLOWED_FILES = {"adapter_config.json", "adapter_model.safetensors", METADATA, "README.md"}
MAX_IMPORT_BYTES = 200 * 1024 * 1024
MAX_IMPORT_ENTRIES = 16  # three files and their folders, with room to spare
MAX_METADATA_BYTES = 1024 * 1024
REQUIRED_METADATA = ("name", "base_model", "method")


@dataclass
class AdapterInfo:
    name: str
    method: str
    base_model: str
    path: Path
    metadata: dict
    fast: bool = False  # answers from the generator's fast copy (the shipped reader)

    @property
    def key(self) -> str:
        """Changes whenever the weights file changes, so a loaded copy is never stale."""
        weights = (self.path / "adapter_model.safetensors").stat()
        return f"{self.name}@{weights.st_mtime_ns}:{weights.st_size}"

    def summary(self) -> dict:
        m = self.metadata
        return {
            "name": self.name,
            "method": self.method,
            "base_model": self.base_model,
            "dataset": (m.get("dataset") or {}).get("name"),
            "rows": (m.get("dataset") or {}).get("rows"),
            "epochs": (m.get("hyperparameters") or {}).get("epochs"),
            "final_train_loss": m.get("final_train_loss"),
            "final_val_loss": m.get("final_val_loss"),
            "tokens_per_s": m.get("tokens_per_s"),
            "finished": m.get("finished"),
        }


class AdapterRegistry:
    def __init__(self, storage_dir: Path, base_model: str, on_delete=None):
        self.root = storage_dir / "adapters"
        self.base_model = base_model
        self._on_delete = on_delete or (lambda info: None)  # e.g. unload it from the generator
        if storage_lock.held(storage_dir):  # the only writer: nothing of ours is under way
            self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        """Temp folders of a training, import or delete cut short (kill -9). `list` never
        shows them; the process holding the storage lock removes them when it starts."""
        for owner_dir in self.root.iterdir() if self.root.is_dir() else []:
            for folder in owner_dir.iterdir() if owner_dir.is_dir() else []:
                if folder.name.startswith(".") and folder.name.endswith((".tmp", ".deleted")):
                    log.warning("removing an unfinished adapter folder %s", folder.name)
                    shutil.rmtree(folder, ignore_errors=True)

    def folder(self, owner: str, name: str) -> Path:
        if not NAME_PATTERN.match(name or ""):
            raise AdapterError("Adapter names use 1-48 letters, digits, '-' or '_'.")
        return self.root / owner_key(owner) / name

    def list(self, owner: str) -> list[AdapterInfo]:
        base = self.root / owner_key(owner)
        if not base.is_dir():
            return []
        found = []
        for folder in sorted(base.iterdir()):
            if folder.is_dir() and not folder.name.startswith(".") and (folder / METADATA).exists():
                try:
                    found.append(self._info(folder))
                except (OSError, ValueError):  # a damaged folder must not hide the others
                    log.warning("skipping unreadable adapter folder %s", folder.name)
        return found

    def get(self, owner: str, name: str) -> AdapterInfo:
        folder = self.folder(owner, name)
        if not (folder / METADATA).exists():
            raise AdapterError(f"There is no adapter named '{name}'.")
        return self._info(folder)

    def exists(self, owner: str, name: str) -> bool:
        return (self.folder(owner, name) / METADATA).exists()

    def delete(self, owner: str, name: str) -> None:
        info = self.get(owner, name)
        self._on_delete(info)
        folder = info.path
        trash = folder.with_name(f".{folder.name}.{uuid.uuid4().hex}.deleted")
        folder.rename(trash)  # atomic: the adapter disappears at once, then the files go
        shutil.rmtree(trash, ignore_errors=True)

    def export_zip(self, owner: str, name: str, dest_dir: Path) -> Path:
        info = self.get(owner, name)
        dest_dir.mkdir(parents=True, exist_ok=True)
        target = dest_dir / f"{name}.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(info.path.iterdir()):
                if f.name in ALLOWED_FILES:
                    z.write(f, f"{name}/{f.name}")
        return target

    def import_zip(self, owner: str, zip_path: Path, name: str | None = None) -> AdapterInfo:
        members = self._check_zip(zip_path)
        with zipfile.ZipFile(zip_path) as z:
            if z.getinfo(members[METADATA]).file_size > MAX_METADATA_BYTES:
                raise AdapterError("metadata.json is too large for an adapter's metadata.")
            metadata = self._check_metadata(z.read(members[METADATA]))
            name = name or metadata["name"]
            folder = self.folder(owner, name)
            if folder.exists():
                raise AdapterError(
                    f"An adapter named '{name}' already exists; delete it or import under another name."
                )
            tmp = folder.parent / f".{name}.{uuid.uuid4().hex}.tmp"
            tmp.mkdir(parents=True)
            try:
                for base, member in members.items():
                    if base != METADATA:
                        with z.open(member) as src, (tmp / base).open("wb") as dest:
                            shutil.copyfileobj(src, dest, 1 << 20)  # never held whole
                metadata["name"] = name
                (tmp / METADATA).write_text(json.dumps(metadata, indent=2))
                self._check_loadable(tmp)
                tmp.rename(folder)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return self._info(folder)

    def _check_zip(self, zip_path: Path) -> dict[str, str]:
        if not zipfile.is_zipfile(zip_path):
            raise AdapterError("The file is not a zip archive.")
        if zip_path.stat().st_size > MAX_IMPORT_BYTES:
            raise AdapterError(f"The archive is larger than {MAX_IMPORT_BYTES // 2**20} MB.")
        directory = zip_directory(zip_path)  # before zipfile indexes every entry in memory
        if directory is None or directory[0] > MAX_IMPORT_ENTRIES:
            raise AdapterError(
                "The archive is not an adapter export: it holds more than the three files "
                "of one (adapter_config.json, adapter_model.safetensors, metadata.json)."
                if directory
                else "The archive is damaged: its table of contents is missing."
            )
        with zipfile.ZipFile(zip_path) as z:
            infos = [i for i in z.infolist() if not i.is_dir()]
            if sum(i.file_size for i in infos) > MAX_IMPORT_BYTES:
                raise AdapterError(
                    f"The archive unpacks to more than {MAX_IMPORT_BYTES // 2**20} MB."
                )
            members: dict[str, str] = {}
            for info in infos:
                path = PurePosixPath(info.filename.replace("\\", "/"))
                if path.is_absolute() or ".." in path.parts or len(path.parts) > 2:
                    raise AdapterError("The archive contains unsafe paths; it was not imported.")
                if path.name not in ALLOWED_FILES:
                    raise AdapterError(
                        f"The archive contains '{path.name}'; only adapter_config.json, "
                        "adapter_model.safetensors and metadata.json are accepted (no pickles)."
                    )
                if path.name in members:
                    raise AdapterError(f"The archive contains '{path.name}' twice.")
                members[path.name] = info.filename
        for required in ("adapter_config.json", "adapter_model.safetensors", METADATA):
            if required not in members:
                raise AdapterError(f"The archive has no {required}; it is not an adapter export.")
        return members

    def _check_metadata(self, raw: bytes) -> dict:
        try:
            metadata = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise AdapterError("metadata.json is not valid JSON.") from exc
        if not isinstance(metadata, dict) or any(
            not isinstance(metadata.get(k), str) for k in REQUIRED_METADATA
        ):
            raise AdapterError(
                "metadata.json must name the adapter, its base model and its method."
            )
        if metadata["base_model"] != self.base_model:
            raise AdapterError(
                f"The adapter was trained for '{metadata['base_model']}', but this app runs '{self.base_model}'."
            )
        if metadata["method"] not in ("lora", "prompt", "prefix"):
            raise AdapterError(f"Unknown adapter method '{metadata['method']}'.")
        return metadata

    @staticmethod
    def _check_loadable(folder: Path) -> None:
        from peft import PeftConfig
        from safetensors import safe_open

        try:
            PeftConfig.from_pretrained(str(folder))
            with safe_open(str(folder / "adapter_model.safetensors"), "pt") as f:
                list(f.keys())
        except Exception as exc:
            raise AdapterError("The adapter files are damaged or not a PEFT adapter.") from exc

    def _info(self, folder: Path) -> AdapterInfo:
        metadata = json.loads((folder / METADATA).read_text())
        return AdapterInfo(
            folder.name,
            metadata.get("method", "?"),
            metadata.get("base_model", "?"),
            folder,
            metadata,
        )
