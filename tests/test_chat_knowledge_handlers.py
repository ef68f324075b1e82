"""The Chat and Knowledge base tabs' handlers, called as their events call them, on real
services: what a user sees after uploading a good file and a bad one, in the document list
and a document's chunks, after a delete, and in the chat when there is nothing to search
or the chosen adapter is gone."""

from __future__ import annotations

import gradio as gr
import pytest

from tests.conftest import OWNER
from webapp.ui.chat import handlers as chat
from webapp.ui.knowledge import handlers as knowledge

pytestmark = pytest.mark.slow


def no_progress(fraction, desc=""):
    pass


@pytest.fixture
def uploaded(services, tmp_path):
    """(results, table, picker, notice, notice row, file box, warnings) after one upload
    of a good Markdown file and a "Word" file that is really plain text."""
    good = tmp_path / "tower.md"
    good.write_text("# The Zorblax tower\nThe Zorblax tower is 412 meters tall.\n")
    bad = tmp_path / "minutes.docx"
    bad.write_text("Minutes of the meeting: nothing was decided.\n")
    with pytest.warns(UserWarning) as warned:
        shown = knowledge.ingest(services, [str(bad), str(good)], OWNER, no_progress)
    return (*shown, [str(w.message) for w in warned])


def test_an_upload_reports_each_file_in_plain_words_and_lists_the_good_one(services, uploaded):
    results, table, picker, notice, notice_row, files, warnings = uploaded
    (bad_name, bad), (good_name, good) = results["data"]
    assert results["headers"] == ["File", "Result"]
    assert (bad_name, good_name) == ("minutes.docx", "tower.md")
    assert bad.startswith("failed: ")
    assert "not a Word document" in bad
    assert "/" not in bad  # no server paths
    assert good.startswith("indexed 1 chunk")
    assert "1 of 2 file(s) could not be indexed; see Last upload." in warnings
    [doc] = services.knowledge.list_documents(OWNER)
    assert doc.file == "tower.md"
    assert [row[0] for row in table["data"]] == ["tower.md"]
    assert picker["value"] == doc.id  # the new document is picked, ready to look at
    assert picker["choices"][0][1] == doc.id
    assert (notice, notice_row["visible"]) == ("", False)
    assert files is None  # the file box is emptied for the next upload


def test_an_upload_from_a_chinese_page_reports_in_chinese(services, tmp_path):
    """The same upload as above from a zh-CN browser: results, warning and headers in
    Chinese (the domain's own reason for a failure stays English)."""
    from tests.test_i18n import request
    from webapp.ui.i18n import language

    good = tmp_path / "tower.md"
    good.write_text("# The Zorblax tower\nThe Zorblax tower is 412 meters tall.\n")
    bad = tmp_path / "minutes.docx"
    bad.write_text("Minutes of the meeting: nothing was decided.\n")
    lang = language(request("zh-CN,zh;q=0.9,en;q=0.8"))
    with pytest.warns(UserWarning) as warned:
        results, table, *_ = knowledge.ingest(
            services, [str(bad), str(good)], OWNER, no_progress, lang
        )
    assert results["headers"] == ["文件", "结果"]
    (_, bad_result), (_, good_result) = results["data"]
    assert bad_result.startswith("失败：")
    assert "not a Word document" in bad_result
    assert good_result == "已索引 1 个分块"
    assert "2 个文件中有 1 个无法建立索引，详见“最近一次上传”。" in [str(w.message) for w in warned]
    assert table["headers"] == ["文件", "页数", "分块数", "大小", "添加时间"]


def test_the_list_shows_a_document_s_chunks_until_it_is_deleted(services, uploaded, capsys):
    _, _, picker, *_ = uploaded
    table, listed_picker, _, _ = knowledge.refresh(services, OWNER)
    assert [row[0] for row in table["data"]] == ["tower.md"]
    assert knowledge.refresh(services, "someone-else")[0]["data"] == []  # only the owner's
    chunks = knowledge.show_chunks(services, listed_picker["value"], OWNER)
    assert chunks["visible"] is True
    [[number, where, _, text]] = chunks["value"]["data"]
    assert number == 1
    assert "412 meters" in text
    with pytest.raises(gr.Error) as elsewhere:  # another owner cannot look at it
        knowledge.show_chunks(services, picker["value"], "someone-else")
    assert "/" not in elsewhere.value.message

    table, picker, hidden = knowledge.remove(services, picker["value"], OWNER)
    assert "Deleted tower.md." in capsys.readouterr().out  # gr.Info, outside a page
    assert (table["data"], picker["choices"], picker["value"]) == ([], [], None)
    assert hidden["visible"] is False
    assert services.knowledge.list_documents(OWNER) == []
    with pytest.raises(gr.Error, match="Choose a document to delete first."):
        knowledge.remove(services, None, OWNER)


def test_the_chat_streams_that_the_knowledge_base_is_empty(services):
    options = chat.chat_options(True, 0.0, 64, 4, "Base model", [], [])
    stream = chat.respond(services, "  How tall is the tower?  ", [], [], options, OWNER)
    box, shown, turns, send, stop, _ = next(stream)  # the question at once, Stop for Send
    assert box == ""
    assert shown == [{"role": "user", "content": "How tall is the tower?"}]
    assert (turns, send["visible"], stop["visible"]) == ([], False, True)
    *_, (_, shown, turns, _, _, answers) = stream
    assert shown[-1]["role"] == "assistant"
    assert shown[-1]["content"].startswith("Your knowledge base is empty.")
    assert turns[0] == {"role": "user", "content": "How tall is the tower?"}
    assert turns[1]["content"].startswith("Your knowledge base is empty.")
    assert [(a["index"], a["question"], a["sources"]) for a in answers] == [
        (1, "How tall is the tower?", [])
    ]  # the turn as data, for a 👍/👎 on it


def test_a_missing_adapter_reads_as_a_plain_error_while_the_chat_streams(services):
    options = chat.chat_options(False, 0.0, 64, 4, "no-such-adapter", [], [])
    stream = chat.respond(services, "Hello?", [], [], options, OWNER)
    next(stream)  # the question is shown first
    with pytest.raises(gr.Error) as refused:
        list(stream)
    assert refused.value.message == "There is no adapter named 'no-such-adapter'."
