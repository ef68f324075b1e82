"""The web UI's words in English and Simplified Chinese, through Gradio's own gr.I18n.

Components take `i18n("key")`, and the page shows each key in the browser's language: a
browser set to Chinese (zh-CN) gets Chinese, every other one English. The translating happens
in the browser, so the server never needs to know the visitor's language. Gradio puts no
values into a translation, so a text with one (a size limit, say) goes through `filled`.

What event handlers write at request time (status lines, messages, table cells) stays
English, and so do the column names of tables; the choices handlers offer again ("Base
model", the file type "Text") keep their keys.
"""

from __future__ import annotations

import re

import gradio as gr
from gradio.i18n import I18nData

EN = {
    # the page
    "header_tagline": "Chat with your own documents — private, offline, with sources.",
    "tab_chat": "Chat",
    "tab_knowledge": "Knowledge base",
    "tab_adapters": "Adapters",
    "tab_evaluate": "Evaluate",
    "delete_button": "Delete",
    "cancel_button": "Cancel",
    # account and "Your data"
    "notice_workspace_hours": (
        "This is your private, temporary workspace: nobody else can see it, and it is "
        "deleted with everything in it after {hours} hours without use."
    ),
    "notice_workspace_minutes": (
        "This is your private, temporary workspace: nobody else can see it, and it is "
        "deleted with everything in it after {minutes} minutes without use."
    ),
    "notice_space_storage": (
        "This Space has no persistent storage: your documents and adapters are temporary "
        "and disappear when the Space restarts."
    ),
    "your_data": "Your data",
    "your_data_help": (
        "Your documents (and their original files), adapters, question sets and evaluation "
        "runs are yours alone. Deleting them removes everything at once and cannot be "
        "undone. Chats are never stored: they live in this browser tab only."
    ),
    "delete_all_data": "Delete all my data",
    "delete_all_confirm": "Yes, delete everything",
    "keep_my_data": "Keep my data",
    # Chat tab
    "chat_placeholder": (
        "### Ask your documents\n"
        "Upload files in the **Knowledge base** tab, then ask a question here. "
        "Answers cite their sources as [1], [2]…"
    ),
    "chatbot_label": "Chat",
    "question_placeholder": "Ask a question about your documents…",
    "chat_send": "Send",
    "chat_stop": "Stop",
    "model_picker": "Model",
    "model_picker_info": "The base model, or one of your adapters (Adapters tab).",
    "base_model": "Base model",
    "use_documents": "Use my documents",
    "use_documents_info": "Off: chat with the model alone, without retrieval.",
    "search_only_in": "Search only in",
    "search_only_in_info": "Empty: all your documents.",
    "search_file_types": "File types",
    "search_file_types_info": "Empty: every type.",
    "kind_text": "Text",
    "generation_settings": "Generation settings",
    "temperature": "Temperature",
    "temperature_info": "0 = always the most likely words.",
    "max_new_tokens": "Max new tokens",
    "sources_per_question": "Sources per question",
    "new_chat": "New chat",
    # Knowledge base tab
    "add_documents": "Add documents",
    "upload_hint": (
        "PDF, DOCX, TXT, Markdown, HTML, CSV or JSON · up to {mb} MB per file. "
        "Files are indexed as soon as they are added."
    ),
    "last_upload": "Last upload",
    "dismiss_notice": "Dismiss",
    "your_documents": "Your documents",
    "document_picker": "Document",
    "show_chunks": "Show chunks",
    "chunks_table": "Chunks",
    # Adapters tab: the training form (train_<TrainConfig field> names a field)
    "train_name": "Adapter name",
    "train_name_placeholder": "e.g. product-facts",
    "train_name_info": "Letters, digits, - and _ (at most 48).",
    "training_data": "Training data",
    "data_from_file": "A file",
    "data_from_docs": "My documents",
    "data_from_reader": "Reader for my documents",
    "training_file": "Training file",
    "training_data_hint": (
        "A **.jsonl** or **.csv** file, one example per row, with `question`/`answer`, "
        "`instruction`/`input`/`output` or `messages` (a chat ending with the assistant's "
        "answer). *My documents* trains on the text of your knowledge base. *Reader for my "
        "documents* (experimental) teaches the model to find and cite answers in the passages "
        "the chat retrieves, with questions made from your documents; measure it against the "
        "base model in the Evaluate tab before relying on it."
    ),
    "train_method": "Method",
    "method_lora": "LoRA",
    "method_prompt": "Prompt tuning",
    "method_prefix": "Prefix tuning",
    "hyperparameters": "Hyperparameters",
    "train_epochs": "Epochs",
    "train_epochs_info": "Passes over the data (1-100).",
    "train_learning_rate": "Learning rate",
    "train_learning_rate_info": "Blank: the method's default.",
    "train_rank": "LoRA rank",
    "train_alpha": "LoRA alpha",
    "train_dropout": "LoRA dropout",
    "train_target": "LoRA on",
    "target_attention": "Attention layers",
    "target_all_linear": "All linear layers",
    "train_virtual_tokens": "Virtual tokens",
    "train_virtual_tokens_info": "Learned tokens put before every prompt.",
    "train_validation_fraction": "Validation share",
    "train_validation_fraction_info": "Rows held out to measure validation loss (0: none).",
    "train_button": "Train",
    # Adapters tab: progress and the list
    "training_idle": "Training progress and the loss curve appear here.",
    "loss_plot": "Loss",
    "your_adapters": "Your adapters",
    "adapter_picker": "Adapter",
    "export_adapter": "Export",
    "exported_adapter": "Exported adapter",
    "import_adapter": "Import an adapter (.zip exported from DocChat)",
    # Evaluate tab
    "eval_intro": (
        "Which answers best on **your** documents and questions: the model alone, the model with "
        "your documents (RAG), an adapter you trained, or an adapter with RAG? Upload a question "
        "set (`.jsonl` or `.csv` with `question`, `answer`, and optionally `source`, `page`, "
        "`paraphrase`, `answerable`), or build one from your documents and edit it below."
    ),
    "eval_idle": "Progress of the evaluation appears here.",
    "eval_questions_heading": "### 1 · Questions",
    "saved_sets": "Saved question sets",
    "delete_set": "Delete set",
    "upload_question_set": "Upload a question set",
    "build_questions": "Build from my documents",
    "questions_table": "Questions (edit freely; answerable: yes/no; split: train/test)",
    "set_name": "Set name",
    "set_name_placeholder": "e.g. handbook-questions",
    "split_by_document": "Split by document",
    "save_set": "Save",
    "train_on_split": "Train an adapter on the train split",
    "eval_test_split": "Evaluate on the test split",
    "eval_run_heading": "### 2 · Run",
    "eval_configs": "Configurations",
    "eval_configs_info": "Each question is asked of each configuration.",
    "config_base": "Model alone",
    "config_rag": "Model + my documents (RAG)",
    "eval_split": "Questions to ask",
    "split_all": "All questions",
    "split_test": "Test split",
    "split_train": "Training split",
    "run_evaluation": "Run evaluation",
    "eval_results_heading": "### 3 · Results",
    "saved_runs": "Saved runs",
    "compare_with": "Compare with",
    "scores_table": "Scores per configuration",
    "scores_chart": "Scores",
    "comparison_table": "Comparison with the other run (change = this run − other run)",
    "drilldown_table": (
        "Per question: ✓ the answer contains the gold answer. Click a row for "
        "the answers and their sources."
    ),
}

ZH_CN = {
    # the page
    "header_tagline": "与你自己的文档对话——私密、离线、注明来源。",
    "tab_chat": "对话",
    "tab_knowledge": "知识库",
    "tab_adapters": "适配器",
    "tab_evaluate": "评估",
    "delete_button": "删除",
    "cancel_button": "取消",
    # account and "Your data"
    "notice_workspace_hours": (
        "这是你私人的临时工作区：其他人都看不到它；闲置 {hours} 小时后，它会连同其中的"
        "所有内容一起被删除。"
    ),
    "notice_workspace_minutes": (
        "这是你私人的临时工作区：其他人都看不到它；闲置 {minutes} 分钟后，它会连同其中的"
        "所有内容一起被删除。"
    ),
    "notice_space_storage": (
        "此 Space 没有持久存储：你的文档和适配器都是临时的，Space 重启后就会消失。"
    ),
    "your_data": "你的数据",
    "your_data_help": (
        "你的文档（及其原始文件）、适配器、问题集和评估运行只属于你。删除会一次性移除全部内容，"
        "且无法撤销。对话从不保存：它们只存在于这个浏览器标签页中。"
    ),
    "delete_all_data": "删除我的全部数据",
    "delete_all_confirm": "是的，全部删除",
    "keep_my_data": "保留我的数据",
    # Chat tab
    "chat_placeholder": (
        "### 向你的文档提问\n"
        "先在 **知识库** 标签页上传文件，再在这里提问。回答会用 [1]、[2]… 标出来源。"
    ),
    "chatbot_label": "对话",
    "question_placeholder": "就你的文档提一个问题…",
    "chat_send": "发送",
    "chat_stop": "停止",
    "model_picker": "模型",
    "model_picker_info": "基础模型，或你的某个适配器（见“适配器”标签页）。",
    "base_model": "基础模型",
    "use_documents": "使用我的文档",
    "use_documents_info": "关闭：不做检索，只与模型本身对话。",
    "search_only_in": "只在这些文档中搜索",
    "search_only_in_info": "留空：搜索你的全部文档。",
    "search_file_types": "文件类型",
    "search_file_types_info": "留空：所有类型。",
    "kind_text": "纯文本",
    "generation_settings": "生成设置",
    "temperature": "温度",
    "temperature_info": "0 = 总是选用最可能的词。",
    "max_new_tokens": "最多生成的 token 数",
    "sources_per_question": "每个问题的来源数",
    "new_chat": "新对话",
    # Knowledge base tab
    "add_documents": "添加文档",
    "upload_hint": (
        "PDF、DOCX、TXT、Markdown、HTML、CSV 或 JSON · 每个文件最大 {mb} MB。"
        "文件一添加就会建立索引。"
    ),
    "last_upload": "最近一次上传",
    "dismiss_notice": "知道了",
    "your_documents": "你的文档",
    "document_picker": "文档",
    "show_chunks": "查看分块",
    "chunks_table": "分块",
    # Adapters tab: the training form
    "train_name": "适配器名称",
    "train_name_placeholder": "例如 product-facts",
    "train_name_info": "字母、数字、- 和 _（最多 48 个）。",
    "training_data": "训练数据",
    "data_from_file": "一个文件",
    "data_from_docs": "我的文档",
    "data_from_reader": "为我的文档训练阅读器",
    "training_file": "训练文件",
    "training_data_hint": (
        "一个 **.jsonl** 或 **.csv** 文件，每行一个样本，包含 `question`/`answer`、"
        "`instruction`/`input`/`output` 或 `messages`（一段以助手回答结尾的对话）。"
        "*我的文档* 用你知识库中的文本训练。*为我的文档训练阅读器*（实验性）用从你的文档生成的"
        "问题，教模型在对话检索到的段落中找到并引用答案；依赖它之前，请先在“评估”标签页中"
        "把它与基础模型比较。"
    ),
    "train_method": "方法",
    "method_lora": "LoRA",
    "method_prompt": "提示微调（Prompt tuning）",
    "method_prefix": "前缀微调（Prefix tuning）",
    "hyperparameters": "超参数",
    "train_epochs": "训练轮数",
    "train_epochs_info": "遍历数据的次数（1-100）。",
    "train_learning_rate": "学习率",
    "train_learning_rate_info": "留空：使用该方法的默认值。",
    "train_rank": "LoRA 秩",
    "train_alpha": "LoRA alpha",
    "train_dropout": "LoRA dropout",
    "train_target": "LoRA 作用于",
    "target_attention": "注意力层",
    "target_all_linear": "所有线性层",
    "train_virtual_tokens": "虚拟 token 数",
    "train_virtual_tokens_info": "放在每个提示前面、经过学习的 token。",
    "train_validation_fraction": "验证集比例",
    "train_validation_fraction_info": "留出来计算验证损失的行（0：不留）。",
    "train_button": "训练",
    # Adapters tab: progress and the list
    "training_idle": "训练进度和损失曲线会显示在这里。",
    "loss_plot": "损失",
    "your_adapters": "你的适配器",
    "adapter_picker": "适配器",
    "export_adapter": "导出",
    "exported_adapter": "导出的适配器",
    "import_adapter": "导入适配器（从 DocChat 导出的 .zip）",
    # Evaluate tab
    "eval_intro": (
        "在 **你的** 文档和问题上，哪种方式回答得最好：单独的模型、结合你文档的模型（RAG）、"
        "你训练的适配器，还是适配器加 RAG？上传一个问题集（`.jsonl` 或 `.csv`，包含 "
        "`question`、`answer`，可选 `source`、`page`、`paraphrase`、`answerable`），"
        "或者从你的文档生成一个，再在下面编辑。"
    ),
    "eval_idle": "评估进度会显示在这里。",
    "eval_questions_heading": "### 1 · 问题",
    "saved_sets": "已保存的问题集",
    "delete_set": "删除问题集",
    "upload_question_set": "上传问题集",
    "build_questions": "从我的文档生成",
    "questions_table": "问题（可随意编辑；answerable：yes/no；split：train/test）",
    "set_name": "问题集名称",
    "set_name_placeholder": "例如 handbook-questions",
    "split_by_document": "按文档划分",
    "save_set": "保存",
    "train_on_split": "用训练集训练一个适配器",
    "eval_test_split": "在测试集上评估",
    "eval_run_heading": "### 2 · 运行",
    "eval_configs": "配置",
    "eval_configs_info": "每个问题都会分别问每一种配置。",
    "config_base": "仅模型",
    "config_rag": "模型 + 我的文档（RAG）",
    "eval_split": "要问的问题",
    "split_all": "全部问题",
    "split_test": "测试集",
    "split_train": "训练集",
    "run_evaluation": "运行评估",
    "eval_results_heading": "### 3 · 结果",
    "saved_runs": "已保存的运行",
    "compare_with": "对比",
    "scores_table": "各配置的得分",
    "scores_chart": "得分",
    "comparison_table": "与另一次运行的对比（变化 = 本次运行 − 另一次运行）",
    "drilldown_table": "逐题结果：✓ 表示回答包含标准答案。点击一行可查看各个回答及其来源。",
}

i18n = gr.I18n(en=EN, **{"zh-CN": ZH_CN})


def filled(key: str, **values: str) -> I18nData:
    """`key`'s text with `values` put into its {placeholders}, in every language. Gradio's
    page fills in no values, so each filling gets a key of its own, added to both
    dictionaries (which the page reads each time it loads)."""
    own = key + "__" + re.sub(r"\W", "_", "_".join(values.values()))
    for words in i18n.translations_dict.values():
        words.setdefault(own, words[key].format(**values))
    return i18n(own)
