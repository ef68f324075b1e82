"""The Evaluate tab: which answers best on your documents — the model alone, with your
documents (RAG), an adapter, or an adapter with RAG? Measured on your own questions.

1. Questions: upload a question set, or build one from your documents, edit it in the table,
   split it by document and save it. From a saved set, one click trains an adapter on its
   training split, another evaluates on its test split.
2. Run: pick configurations; the run happens in the background (webapp.evaluation.jobs) and
   this tab polls it for the progress bar; Cancel stops it between two questions.
3. Results: a table, a grouped bar chart, a per-question drill-down with each configuration's
   answer and sources, CSV/JSON export, and earlier runs to reload or compare.

layout builds the components, handlers holds what each event does (testable without a
browser), wiring connects them, views turns question sets and runs into tables and charts.
"""

from __future__ import annotations

import gradio as gr

from webapp.ui.evaluate import layout, wiring


def build_evaluate_tab(services, chat_model: gr.Dropdown):
    """Builds the tab; returns (refresh, inputs, outputs) for the page load, and the
    (function, outputs) that shows its empty results tables in the visitor's language."""
    return wiring.wire(services, layout.build(chat_model))
