"""Search scope ("Search only in", "File types"): which chunks a scope lets through, and that
no scope ever reaches past the owner's own documents. Fast: no models (see tests/concepts)."""

from __future__ import annotations

import pytest
from llama_index.core.vector_stores import FilterOperator

from tests.concepts import Search
from webapp.chat.service import ChatOptions
from webapp.retrieval.retriever import EVERYTHING, Scope

PDF_A = {"file_id": "a", "kind": "pdf", "owner": "alice"}
TEXT_A = {"file_id": "a", "kind": "text", "owner": "alice"}
PDF_B = {"file_id": "b", "kind": "pdf", "owner": "alice"}
TEXT_C = {"file_id": "c", "kind": "text", "owner": "alice"}


def test_an_empty_scope_is_everything():
    assert not EVERYTHING
    assert Scope() == EVERYTHING
    assert Scope((), ()) == EVERYTHING
    assert EVERYTHING.filters() == []
    assert all(EVERYTHING.allows(m) for m in (PDF_A, TEXT_A, PDF_B, TEXT_C, {}))


def test_a_scope_of_documents_lets_only_their_chunks_through():
    scope = Scope(documents=("a", "b"))
    assert scope
    assert scope.allows(PDF_A)
    assert scope.allows(TEXT_A)
    assert scope.allows(PDF_B)
    assert not scope.allows(TEXT_C)
    assert not scope.allows({})
    [only] = scope.filters()
    assert (only.key, only.operator, only.value) == ("file_id", FilterOperator.IN, ["a", "b"])


def test_a_scope_of_file_types_lets_only_those_kinds_through():
    scope = Scope(kinds=("text",))
    assert scope
    assert scope.allows(TEXT_A)
    assert scope.allows(TEXT_C)
    assert not scope.allows(PDF_A)
    assert not scope.allows(PDF_B)
    assert not scope.allows({})
    [only] = scope.filters()
    assert (only.key, only.operator, only.value) == ("kind", FilterOperator.IN, ["text"])


def test_documents_and_file_types_together_must_both_hold():
    scope = Scope(documents=("a", "c"), kinds=("pdf",))
    assert scope.allows(PDF_A)
    assert not scope.allows(TEXT_A)  # a chosen document, another kind
    assert not scope.allows(PDF_B)  # the kind, another document
    assert not scope.allows(TEXT_C)
    assert [f.key for f in scope.filters()] == ["file_id", "kind"]  # ANDed by the retriever


@pytest.mark.parametrize(
    "scope", [EVERYTHING, Scope(("a",)), Scope(kinds=("pdf",)), Scope(("a",), ("pdf",))]
)
def test_a_scope_filters_documents_and_kinds_only_never_the_owner(scope):
    """The owner bound is the owner's own collection; a scope can only narrow inside it."""
    assert {f.key for f in scope.filters()} <= {"file_id", "kind"}


def test_the_chat_options_become_the_scope():
    assert ChatOptions().scope == EVERYTHING
    options = ChatOptions(documents=["a", "b"], file_types=["pdf"])
    assert options.scope == Scope(documents=("a", "b"), kinds=("pdf",))


LAMPS = {
    "north.md": "# North pier\nThe north pier lamp is lit at dusk by Ada Brenn.",
    "south.txt": "The south pier lamp is lit at dusk by Tomas Veld.",
    "west.md": "# West pier\nThe west pier lamp is lit at dusk by Ilse Marr.",
}
BOBS = {"east.md": "# East pier\nThe east pier lamp is lit at dusk by Bo Lind."}
QUESTION = "Who lights the pier lamp at dusk?"
MODES = ["hybrid", "dense", "bm25"]


@pytest.fixture
def search(settings, tmp_path):
    """Alice's three lamp notes and Bob's one, in a single Chroma store."""
    search = Search(settings.storage_dir, settings)
    search.ids = {
        **search.add("alice", tmp_path / "alice", LAMPS),
        **search.add("bob", tmp_path / "bob", BOBS),
    }
    return search


@pytest.mark.parametrize("mode", MODES)
def test_a_question_is_kept_to_chosen_documents_and_file_types(search, mode):
    ids = search.ids

    def files(scope=EVERYTHING):
        return set(search.files("alice", QUESTION, mode, scope))

    assert files() == files(Scope()) == set(LAMPS)
    assert files(Scope(documents=(ids["south.txt"],))) == {"south.txt"}
    assert files(Scope(documents=(ids["north.md"], ids["west.md"]))) == {"north.md", "west.md"}
    assert files(Scope(kinds=("text",))) == {"south.txt"}
    assert files(Scope(kinds=("markdown",))) == {"north.md", "west.md"}
    both = Scope(documents=(ids["north.md"], ids["south.txt"]), kinds=("markdown",))
    assert files(both) == {"north.md"}
    assert files(Scope(documents=(ids["north.md"],), kinds=("text",))) == set()
    assert files(Scope(kinds=("pdf",))) == set()


@pytest.mark.parametrize("mode", MODES)
def test_no_scope_widens_the_search_past_the_owner(search, mode):
    ids = search.ids
    assert search.files("bob", QUESTION, mode) == ["east.md"]
    # Another owner's document ids, alone or beside one's own, reach nothing of theirs.
    assert search.files("bob", QUESTION, mode, Scope(documents=(ids["north.md"],))) == []
    mixed = Scope(documents=(ids["north.md"], ids["south.txt"], ids["east.md"]))
    assert search.files("bob", QUESTION, mode, mixed) == ["east.md"]
    assert search.files("bob", QUESTION, mode, Scope(kinds=("markdown", "text"))) == ["east.md"]
    assert search.files("alice", QUESTION, mode, Scope(documents=(ids["east.md"],))) == []
    assert "east.md" not in search.files("alice", QUESTION, mode, Scope(kinds=("markdown",)))
