"""The web UI's words in English, by key (webapp.ui.i18n): what the page shows through
gr.I18n first, then what handlers say at request time (`say`). Texts with {placeholders}
take their values from `filled` (the page) or `say` (a handler)."""

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
        "Your documents (and their original files), adapters, question sets, evaluation "
        "runs and answer ratings are yours alone. Deleting them removes everything at once "
        "and cannot be undone. Chats live in this browser tab only; an answer you rate "
        "(thumbs up or down) is kept with its question and sources, to train from."
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
    "data_from_feedback": "My feedback (thumbs up/down in the chat)",
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
    "method_kto": "KTO (from thumbs up/down)",
    "method_dpo": "DPO (better vs worse answers)",
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
    # -- said at request time (i18n.say): messages, status lines, table columns ------------
    # the account corner and "Your data"
    "signed_in_as": "Signed in as {name}",
    "sign_out": "Sign out",
    "sign_in_first": "Please sign in first.",
    "sign_in_hf": "Sign in with Hugging Face (top right) to use DocChat.",
    "cookies_blocked": "This browser blocks cookies, which hold your private workspace.",
    "delete_all_failed": "Deleting your data failed; please try again.",
    "deleted_all": "Deleted: {done}.",
    "list_separator": ", ",
    "removed_documents": "{n} documents",
    "removed_adapters": "{n} adapters",
    "removed_evaluations": "{n} evaluations",
    "removed_question_sets": "{n} question sets",
    "removed_feedback": "{n} answer ratings",
    # table columns
    "col_number": "#",
    "col_file": "File",
    "col_pages": "Pages",
    "col_chunks": "Chunks",
    "col_size": "Size",
    "col_added": "Added",
    "col_result": "Result",
    "col_where": "Where",
    "col_characters": "Characters",
    "col_text": "Text",
    "col_name": "Name",
    "col_method": "Method",
    "col_data": "Data",
    "col_rows": "Rows",
    "col_epochs": "Epochs",
    "col_final_loss": "Final loss",
    "col_val_loss": "Val loss",
    "col_tokens_per_s": "Tokens/s",
    "col_finished": "Finished",
    "col_configuration": "Configuration",
    "col_questions": "Questions",
    "col_latency": "Latency (s)",
    "col_metric": "Metric",
    "col_other_run": "Other run",
    "col_this_run": "This run",
    "col_change": "Change",
    "col_question": "Question",
    "col_gold": "Gold answer",
    # Chat tab: rating answers
    "better_answer_label": "Better answer (optional)",
    "better_answer_placeholder": "How should the answer you disliked have read?",
    "better_answer_send": "Save",
    "feedback_saved_up": "Thanks! Saved your thumbs-up for this answer.",
    "feedback_saved_down": "Saved your thumbs-down for this answer. You can write a better answer below.",
    "feedback_removed": "Your rating of this answer was removed.",
    "feedback_unknown": "This answer can no longer be rated (the page was reloaded since).",
    "better_needs_dislike": "Give an answer a thumbs-down first: the better answer goes with it.",
    "better_empty": "Write the better answer first.",
    "better_saved": "Saved your better answer with the answer you disliked.",
    # Adapters tab: training from preferences
    "feedback_needs_preference": "To train from your feedback, choose the method KTO or DPO.",
    "preference_needs_rows": (
        "KTO and DPO train from preference rows: choose My feedback, or add a file of "
        "KTO or DPO rows."
    ),
    "no_feedback_kto": "Rate at least two answers (thumbs up or down) in the chat first.",
    "no_feedback_dpo": (
        "No pairs yet: give an answer a thumbs-down in the chat and write a better answer, or use KTO."
    ),
    # Chat tab: around an answer
    "chat_retry": "Something went wrong while answering. Please try again.",
    "answer_evidence": "Evidence {quote}",
    "answered_by_adapter": "Answered by adapter {name}",
    "answered_by_reader": "Answered by the built-in reader",
    "answer_ungrounded": (
        "⚠ Not found in the cited passages: check the sources before relying on this answer."
    ),
    "sources_title": "Sources ({n}): {files}",
    "why_score": "score {score}",
    "why_meaning": "meaning {score}",
    "why_keywords": "keywords BM25 {score} (#{rank}, {share} of the question's words)",
    "why_fused": "fused #{rank}",
    "why_reranker": "reranker {score}",
    # Knowledge base tab
    "list_unavailable": (
        "Your documents cannot be listed right now: the document store is not reachable. "
        "They will show again once it is back."
    ),
    "upload_starting": "Starting",
    "upload_some_failed": "{failed} of {total} file(s) could not be indexed; see Last upload.",
    "result_indexed_1": "indexed 1 chunk",
    "result_indexed": "indexed {n} chunks",
    "result_replaced_1": "replaced the old version, 1 chunk",
    "result_replaced": "replaced the old version, {n} chunks",
    "result_unchanged": "unchanged ({why})",
    "result_failed": "failed: {why}",
    "upload_interrupted": "{file}: indexing was interrupted (the server stopped); upload it again",
    "chunk_page": "page {page}",
    "choose_document_to_delete": "Choose a document to delete first.",
    "choose_document": "Choose a document first.",
    "deleted_document": "Deleted {file}.",
    # Adapters tab
    "not_a_learning_rate": "Learning rate: “{text}” is not a number; try 0.001, or leave it blank.",
    "check_settings": "Please check the settings. {problems}.",
    "add_training_file": "Add a training file (.jsonl or .csv), or choose My documents.",
    "starting": "Starting…",
    "training_waiting": "Waiting: {ahead} training run(s) ahead of this one.",
    "training_loading": "Loading a copy of the base model…",
    "training_saving": "Saving the adapter…",
    "training_step": "step {step}/{total}",
    "training_epoch": "epoch {epoch}/{epochs}",
    "training_loss": "loss {loss}",
    "training_eta": "about {seconds} s left",
    "training_done": "Done: adapter “{name}” is ready; pick it in the Chat tab.",
    "training_final_loss": " Final loss {loss}.",
    "training_cancelled": "Training was cancelled.",
    "training_failed": "Training failed.",
    "outcome_cancelled": "Cancelled: {why}",
    "outcome_failed": "Failed: {why}",
    "stopping_training": "Stopping after the current step…",
    "choose_adapter_to_delete": "Choose an adapter to delete first.",
    "choose_adapter_to_export": "Choose an adapter to export first.",
    "deleted_adapter": "Deleted adapter {name}.",
    "imported_adapter": "Imported adapter {name}.",
    # Evaluate tab: question sets
    "questions_loaded": "Loaded {n} questions; review them, then save or run.",
    "reading_document": "Reading {what}",
    "questions_made": "Made {n} questions. Check and edit them before saving.",
    "set_saved": "Saved question set “{name}”.",
    "set_deleted": "Deleted question set “{name}”.",
    "choose_set_to_delete": "Choose a saved set to delete first.",
    "no_questions_yet": "There are no questions yet: upload a set or build one.",
    "no_questions_in_table": "There are no questions yet: upload a question set or build one.",
    "set_summary": "{n} question(s){documents}{split}.",
    "set_summary_documents": " from {n} document(s)",
    "set_summary_split": " · {train} for training, {test} for testing",
    # Evaluate tab: running and the results
    "choose_configuration": "Choose at least one configuration to evaluate.",
    "eval_done": (
        "Done: {n} questions in {seconds} s. Most answers containing the gold answer: "
        "{best} ({share})."
    ),
    "stopping_evaluation": "Stopping after the current question…",
    "training_adapter": "Training adapter “{name}”…",
    "training_named": "Training “{name}”: {line}",
    "split_adapter_trained": "Adapter “{name}” trained on {n} questions. ",
    "split_adapter_selected": "It is selected below; evaluate it on the test split.",
    "split_adapter_export": "Export it and serve it from the model server to evaluate it.",
    "metric_exact_match": "Exact match",
    "metric_f1": "Token F1",
    "metric_contains": "Contains answer",
    "metric_hit_at_k": "Source hit@k",
    "metric_mrr": "Source MRR",
    "metric_citation_correct": "Citation correct",
    "metric_grounded": "Grounded in sources",
    "metric_abstention": "Abstains when unanswerable",
    "metric_paraphrase_contains": "Contains (paraphrased)",
    "metric_latency_s": "Latency (s)",
    "chart_score": "score (0–1)",
    "chart_metric": "metric",
    "chart_configuration": "configuration",
    "chart_value": "value",
    "gold_answer": "Gold answer: {gold}",
    "not_answerable": "(the documents do not answer this)",
    "no_answer": "(no answer)",
    "contains_answer": "contains the answer",
    "misses_answer": "misses the answer",
    "declined": "declined to answer",
    "source_page": ", page {page}",
}
