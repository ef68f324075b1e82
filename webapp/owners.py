"""Owner keys: the path- and collection-safe name of an owner (never the raw user name), and
the per-owner folders every store keeps its files in.

Kept free of heavy imports so that light commands (`webapp adapters list`) stay fast.
"""

import hashlib
from pathlib import Path


def owner_key(owner: str) -> str:
    return hashlib.sha256(owner.encode()).hexdigest()[:20]


class OwnerFolders:
    """One folder per owner under `root`, named by the owner key: uploads, evaluation runs,
    question sets. The raw owner name never becomes a path."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def __call__(self, owner: str) -> Path:
        return self.root / owner_key(owner)

    def keys(self) -> set[str]:
        """The owner keys that have a folder."""
        return {p.name for p in self.root.iterdir() if p.is_dir()} if self.root.is_dir() else set()
