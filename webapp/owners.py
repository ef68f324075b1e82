"""Owner keys: the path- and collection-safe name of an owner (never the raw user name).

Kept free of heavy imports so that light commands (`webapp adapters list`) stay fast.
"""

import hashlib


def owner_key(owner: str) -> str:
    return hashlib.sha256(owner.encode()).hexdigest()[:20]
