"""The composition root: parts built once on first use, given ready-made, never more."""

import threading

import pytest

from tests.concepts import ConceptEmbedding
from webapp.services import Services


@pytest.mark.slow
def test_a_ready_made_embedder_serves_the_documents_without_loading_the_generator(
    settings, shared_services, tmp_path
):
    services = Services(settings, embedder=shared_services.embedder)
    (tmp_path / "ferry.md").write_text("The ferry leaves at noon.\n\nThe lamps are lit at dusk.")
    assert services.knowledge.ingest("ann", tmp_path / "ferry.md", "ferry.md").ok
    found = services.retriever("ann", 2, mode="dense").retrieve("When does the ferry leave?")
    assert "ferry" in found[0].node.get_content()
    assert not Services.generator.built(services)  # `webapp docs list` never loads it
    checks = services.health.report()["checks"]
    assert checks["generator"] == {"ok": False, "detail": "not loaded yet"}
    assert services.accounts.delete("ann")["documents"] == 1
    assert services.knowledge.list_documents("ann") == []


def test_parts_are_built_once_under_concurrent_first_use(settings):
    services, seen = Services(settings), []
    threads = [threading.Thread(target=lambda: seen.append(services.qasets)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(store) for store in seen}) == 1
    with pytest.raises(TypeError, match="not parts of Services: embeder"):
        Services(settings, embeder=ConceptEmbedding())
