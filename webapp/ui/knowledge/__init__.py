"""The Knowledge base tab: upload with per-file progress and results, the document list,
delete, and a look at a document's chunks.

layout builds the components, handlers holds what each event does (testable without a
browser), wiring connects them, views turns documents, upload results and chunks into rows.
"""

from __future__ import annotations

from webapp.ui.knowledge import layout, wiring


def build_knowledge_tab(services) -> tuple:
    """Builds the tab; returns the (function, outputs) that refreshes the document list, and
    the (function, outputs) that shows its empty tables in the visitor's language."""
    return wiring.wire(services, layout.build(services.settings))
