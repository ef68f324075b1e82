"""What the Evaluate tab shows: the question-set table and its items, the scores table,
the grouped bar chart, the per-question drill-down, the export files and the choices; words
in the visitor's language `lang` (webapp.ui.i18n). The question-set table keeps the file
format's column names (question, answer, ...): it is read back by them."""

from __future__ import annotations

import json

import altair as alt
import gradio as gr
import pandas as pd

from webapp.errors import WebappError
from webapp.evaluation import qasets, runner
from webapp.evaluation.qasets import COLUMNS, QAItem, QASet
from webapp.ui.adapters.views import fresh_export_dir
from webapp.ui.i18n import i18n, say
from webapp.ui.render import escape_markdown, table

PALETTE = ["#4f46e5", "#0ea5e9", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#64748b"]
# Each metric's words are "metric_<key>"; a comparison row names its metric by its label.
METRIC_KEYS = [key for key, _ in runner.METRICS]
KEY_OF_LABEL = {label: key for key, label in [*runner.METRICS, ("latency_s", "Latency (s)")]}
RESULT_COLUMNS = [
    "col_configuration",
    "col_questions",
    *[f"metric_{key}" for key in METRIC_KEYS],
    "col_latency",
    "col_tokens_per_s",
]
COMPARE_COLUMNS = ["col_configuration", "col_metric", "col_other_run", "col_this_run", "col_change"]


# -- question-set table <-> items ------------------------------------------------------------
def items_frame(items: list[QAItem]) -> pd.DataFrame:
    rows = [
        [
            i.question,
            i.answer,
            i.source or "",
            i.page or "",
            i.paraphrase or "",
            "yes" if i.answerable else "no",
            i.split or "",
        ]
        for i in items
    ]
    return pd.DataFrame(rows, columns=COLUMNS).astype(str)


def items_from_frame(frame, lang: str = "en") -> list[QAItem]:
    """The edited table as items; a plain-words error naming the bad rows."""
    if frame is None:
        raise gr.Error(say(lang, "no_questions_yet"))
    frame = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(frame)
    rows = [
        (n, {k: v for k, v in row.items() if str(v).strip() != ""})
        for n, row in enumerate(frame.to_dict("records"), start=1)
        if any(str(v).strip() for v in row.values())
    ]
    if not rows:
        raise gr.Error(say(lang, "no_questions_in_table"))
    try:
        return qasets.from_rows(rows, "table").items
    except WebappError as exc:
        raise gr.Error(str(exc).replace("line ", "row ")) from exc


def set_summary(items: list[QAItem], lang: str = "en") -> str:
    c = QASet("", items).counts()
    split = say(lang, "set_summary_split", train=c["train"], test=c["test"]) if c["train"] else ""
    docs = say(lang, "set_summary_documents", n=c["documents"]) if c["documents"] else ""
    return say(lang, "set_summary", n=c["questions"], documents=docs, split=split)


# -- results -----------------------------------------------------------------------------------
def cell(value, digits: int = 3):
    return "–" if value is None else round(value, digits)


def results_table(run: dict, lang: str = "en") -> dict:
    return table(lang, RESULT_COLUMNS, results_rows(run))


def results_rows(run: dict) -> list[list]:
    return [
        [
            c["label"],
            c["n"],
            *[cell(c.get(k)) for k, _ in runner.METRICS],
            cell(c["latency_s"], 2),
            cell(c.get("tokens_per_s"), 1),
        ]
        for c in run["configs"]
    ]


def comparison_table(rows: list[dict], lang: str = "en") -> dict:
    shown = [
        [
            r["config"],
            metric_label(r["metric"], lang),
            cell(r["a"]),
            cell(r["b"]),
            cell(r["change"]),
        ]
        for r in rows
    ]
    return table(lang, COMPARE_COLUMNS, shown)


def metric_label(label: str, lang: str) -> str:
    """A metric's label (runner.METRICS) in `lang`."""
    return say(lang, f"metric_{KEY_OF_LABEL[label]}") if label in KEY_OF_LABEL else label


def chart(run: dict, lang: str = "en") -> alt.Chart:
    """Grouped bars: one group per metric, one bar per configuration."""
    labels = {key: say(lang, f"metric_{key}") for key in METRIC_KEYS}
    rows = [
        {"metric": labels[key], "configuration": c["label"], "value": c[key]}
        for key in METRIC_KEYS
        for c in run["configs"]
        if c.get(key) is not None
    ]
    shown = [label for label in labels.values() if any(r["metric"] == label for r in rows)]
    names = [c["label"] for c in run["configs"]]
    return (
        alt.Chart(pd.DataFrame(rows))
        .mark_bar(cornerRadiusTopLeft=2, cornerRadiusTopRight=2)
        .encode(
            x=alt.X("metric:N", sort=shown, title=None, axis=alt.Axis(labelAngle=0, labelLimit=90)),
            xOffset=alt.XOffset("configuration:N", sort=names),
            y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title=say(lang, "chart_score")),
            color=alt.Color(
                "configuration:N",
                sort=names,
                scale=alt.Scale(domain=names, range=PALETTE[: len(names)]),
                legend=alt.Legend(orient="top", title=None),
            ),
            tooltip=[
                alt.Tooltip("configuration:N", title=say(lang, "chart_configuration")),
                alt.Tooltip("metric:N", title=say(lang, "chart_metric")),
                alt.Tooltip("value:Q", format=".3f", title=say(lang, "chart_value")),
            ],
        )
        .properties(height=300, width=760)
        # No "Open in Vega Editor" menu: it would post the user's data to an outside site.
        .properties(usermeta={"embedOptions": {"actions": False}})
    )


def drilldown_frame(run: dict, lang: str = "en") -> pd.DataFrame:
    rows = runner.drilldown(run)
    columns = ["#", "question", "gold"] + [c["label"] for c in run["configs"]]
    frame = pd.DataFrame(rows, columns=columns).fillna("")
    names = {"question": say(lang, "col_question"), "gold": say(lang, "col_gold")}
    return frame.rename(columns=names).astype(str)


def blank_drilldown(lang: str = "en") -> pd.DataFrame:
    """The drill-down before a run is shown: its headers only."""
    return pd.DataFrame(columns=["#", say(lang, "col_question"), say(lang, "col_gold")])


def question_detail(run: dict, row: int, lang: str = "en") -> str:
    """Each configuration's answer and sources for one drill-down row (escaped Markdown)."""
    keys = runner.question_keys(run)
    if not 0 <= row < len(keys):
        return ""
    index, variant = keys[row]
    records = [r for r in run["records"] if (r["index"], r["variant"]) == (index, variant)]
    labels = {c["name"]: c["label"] for c in run["configs"]}
    first = records[0]
    gold = escape_markdown(first["gold"] or say(lang, "not_answerable"))
    question = escape_markdown(first["question"])
    parts = [f"**{question}**  \n{say(lang, 'gold_answer', gold=gold)}"]
    for r in records:
        parts.append(record_detail(r, labels, lang))
        parts += sources_detail(r["sources"], lang)
    return "\n\n".join(parts)


def record_detail(record: dict, labels: dict[str, str], lang: str = "en") -> str:
    """One configuration's answer, what was measured of it, and its time."""
    marks = []
    if record["contains"] is not None:
        marks.append(say(lang, "contains_answer" if record["contains"] else "misses_answer"))
    if record["abstained"]:
        marks.append(say(lang, "declined"))
    answer = record["answer"] or say(lang, "no_answer")
    return (
        f"#### {escape_markdown(labels.get(record['config'], record['config']))}\n"
        f"{escape_markdown(answer)}  \n*{', '.join(marks)} · "
        f"{record['latency_s']:.2f} s*"
    )


def sources_detail(sources: list[dict], lang: str = "en") -> list[str]:
    parts = []
    for n, s in enumerate(sources, start=1):
        page = say(lang, "source_page", page=s["page"]) if s.get("page") else ""
        where = s["file"] + page
        text = escape_markdown(" ".join(s["text"].split())[:400])
        parts.append(f"> **[{n}] {escape_markdown(where)}** · {s['score']:.2f} — {text}")
    return parts


def export_files(run: dict) -> tuple[str, str]:
    folder = fresh_export_dir()
    csv_path = folder / f"evaluation-{run['run_id']}.csv"
    json_path = folder / f"evaluation-{run['run_id']}.json"
    csv_path.write_text(runner.to_csv(run), encoding="utf-8")
    json_path.write_text(json.dumps(run, ensure_ascii=False, indent=1), encoding="utf-8")
    return str(csv_path), str(json_path)


def config_choices(adapter_names: list[str]) -> list[tuple[str, str]]:
    choices = [(i18n("config_base"), "base"), (i18n("config_rag"), "rag")]
    for name in adapter_names:
        choices += [(f"{name}", f"adapter:{name}"), (f"{name} + RAG", f"adapter:{name}+rag")]
    return choices


def valid_configs(adapter_names: list[str]) -> set[str]:
    return {v for _, v in config_choices(adapter_names)}
