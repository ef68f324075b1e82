"""Generation speed: our generator (webapp.models.generator, streaming; the fast bf16/4-bit
copy of the base model unless WEBAPP_FAST_CPU is off, prompt-lookup drafts unless
WEBAPP_DRAFT_TOKENS=0) against plain transformers fp32
`generate` on the same model files and the same token ids.

- Prefill: a ~1,000-token prompt, one new token: prompt tokens / seconds.
- Decode: 128 new tokens, greedy, forced to full length (min_new_tokens): 127 tokens over the
  time beyond the one-token run (T128 - T1), so prefill is not counted. Forced past its
  natural end, the 135M model repeats itself, which drafts from earlier text predict well,
  so the same run is also reported without drafts, and on real answers:
- Answer decode: the chat's answers to the time-to-first-token questions (4 sources), as
  long as the model makes them.
- Time to first token: ours through `chat.stream` with 4 retrieved sources (SciFact abstracts
  in a throwaway knowledge base, relevance cut-offs off so 4 are kept) until the first text
  piece: retrieval, prompt building and prefill. Baseline: plain `generate` of one token on
  the same prompt (the messages our chat built), so without retrieval.

Our generator's public options have no minimum length, so the decode run sets
`min_new_tokens` on the model's generation config for its duration (then restores it).
"""

from __future__ import annotations

import threading
import time

from webapp.bench import common
from webapp.bench.runner import Figure

PROMPT_TOKENS = 1000
DECODE_TOKENS = 128


def _long_messages(generator) -> list[dict]:
    """A RAG-like request whose chat-templated prompt is ~PROMPT_TOKENS tokens."""
    texts, _ = common.corpus(20)
    question = "Summarise what these abstracts say about cell biology."
    messages = [{"role": "user", "content": question}]
    room = PROMPT_TOKENS - generator.prompt_tokens(messages) - 2
    context = generator.truncate("\n\n".join(t for _, t in texts), room)
    messages = [{"role": "user", "content": f"{context}\n\n{question}"}]
    while generator.prompt_tokens(messages) > PROMPT_TOKENS:  # decode/encode may not round-trip
        context = generator.truncate(context, generator.count_tokens(context) - 5)
        messages = [{"role": "user", "content": f"{context}\n\n{question}"}]
    return messages


class _MinLength:
    """Forces generation to a fixed length on a model while active."""

    def __init__(self, model, tokens: int):
        self.config, self.tokens = model.generation_config, tokens

    def __enter__(self):
        self.old = self.config.min_new_tokens
        self.config.min_new_tokens = self.tokens

    def __exit__(self, *exc):
        self.config.min_new_tokens = self.old


def _ours_seconds(generator, messages, new_tokens: int, drafts: bool = True) -> float:
    from webapp.models.generator import GenerationOptions

    options = GenerationOptions(max_new_tokens=new_tokens, temperature=0.0, drafts=drafts)
    start = time.perf_counter()
    with _MinLength(generator.fast_model or generator.model, new_tokens):
        for _ in generator.stream(messages, options):
            pass
    return time.perf_counter() - start


def _plain_seconds(model, tokenizer, messages, new_tokens: int) -> float:
    """Plain `generate`, on the compute thread, the only one with an OpenMP pool, as a
    script's main thread would be (webapp.models.compute)."""
    from webapp.models import compute

    return compute.run(_plain_generate, model, tokenizer, messages, new_tokens)


def _plain_generate(model, tokenizer, messages, new_tokens: int) -> float:
    start = time.perf_counter()
    inputs = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(
        **inputs,
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
    )
    seconds = time.perf_counter() - start
    assert out.shape[1] - inputs["input_ids"].shape[1] == new_tokens
    return seconds


def _plain_model(services):
    import torch
    from transformers import AutoModelForCausalLM

    from webapp.models import compute
    from webapp.models.generator import load_tokenizer

    path = services.base_model_path()
    tokenizer = load_tokenizer(path)
    model = compute.run(AutoModelForCausalLM.from_pretrained, path, dtype=torch.float32).eval()
    return model, tokenizer


class _Recording:
    """Passes everything to the generator, keeping the last messages it was asked to
    stream (the prompt our chat built)."""

    def __init__(self, generator):
        self._generator, self.messages = generator, None

    def __getattr__(self, name):
        return getattr(self._generator, name)

    def stream(self, messages, *args, **kwargs):
        self.messages = messages
        return self._generator.stream(messages, *args, **kwargs)


def _ttft_ours(chat, question: str) -> tuple[float, int]:
    from webapp.chat.service import ChatOptions

    stop = threading.Event()
    options = ChatOptions(top_k=4, max_new_tokens=64)
    start = time.perf_counter()
    stream = chat.stream(common.OWNER, question, [], options, stop)
    try:
        for answer in stream:
            if answer.answer:
                return time.perf_counter() - start, len(answer.sources)
    finally:
        stop.set()
        stream.close()
    raise RuntimeError("the chat produced no text")


def figures(services, quick: bool) -> list[Figure]:
    generator = common.generator(services)
    model, tokenizer = _plain_model(services)
    messages = _long_messages(generator)
    prompt = generator.prompt_tokens(messages)
    repeats = 1 if quick else 3
    decode_tokens = 32 if quick else DECODE_TOKENS
    # Warm-up, untimed: first-call costs on both.
    _ours_seconds(generator, messages, 2)
    _plain_seconds(model, tokenizer, messages, 2)
    runs = {"ours1": [], "oursN": [], "plain1": [], "plainN": [], "undraftedN": []}
    for _ in range(repeats):
        runs["ours1"].append(_ours_seconds(generator, messages, 1))
        runs["plain1"].append(_plain_seconds(model, tokenizer, messages, 1))
        runs["oursN"].append(_ours_seconds(generator, messages, decode_tokens))
        runs["plainN"].append(_plain_seconds(model, tokenizer, messages, decode_tokens))
        runs["undraftedN"].append(_ours_seconds(generator, messages, decode_tokens, False))
    t = {k: common.median(v) for k, v in runs.items()}

    def decode_rate(many: str, one: str) -> float:  # (N-1)/(T_N - T_1): prefill not counted
        return round((decode_tokens - 1) / max(t[many] - t[one], 1e-6), 1)

    figures = [
        Figure(
            "prefill_tokens_per_s",
            "tokens/s",
            round(prompt / t["ours1"], 1),
            round(prompt / t["plain1"], 1),
            f"{prompt}-token prompt, one new token; ours {t['ours1']:.2f} s, plain generate "
            f"{t['plain1']:.2f} s; median of {repeats}",
        ),
        Figure(
            "decode_tokens_per_s",
            "tokens/s",
            decode_rate("oursN", "ours1"),
            decode_rate("plainN", "plain1"),
            f"{decode_tokens} new tokens greedy after the {prompt}-token prompt, "
            f"(N-1)/(T_N - T_1), prompt-lookup drafts of {generator.draft_tokens} tokens; "
            f"median of {repeats}",
        ),
        Figure(
            "decode_tokens_per_s_undrafted",
            "tokens/s",
            decode_rate("undraftedN", "ours1"),
            decode_rate("plainN", "plain1"),
            "the same without prompt-lookup drafts (WEBAPP_DRAFT_TOKENS=0)",
        ),
    ]
    figures += _answers(services, model, tokenizer, quick)
    return figures


def _answers(services, model, tokenizer, quick: bool) -> list[Figure]:
    """Time to first token and decode speed on real chat answers: SciFact questions with 4
    retrieved sources, each answer as long as the model makes it (at most 128 tokens)."""
    texts, what = common.corpus(30 if quick else 100)
    questions, asked = common.queries(3 if quick else 10)
    # Cut-offs off, so the 4 best passages are always kept (the figure is about 4 sources).
    with common.throwaway(services, min_score=-1.0, score_margin=10.0) as scratch:
        scratch.knowledge.add_texts(common.OWNER, texts)
        chat = scratch.chat
        recording = _Recording(chat.generator)
        chat.generator = recording
        prompts, sources = [], []
        for q in questions:  # untimed: builds the BM25 index, records each prompt
            _ttft_ours(chat, q)
            prompts.append(recording.messages)
        chat.generator = recording._generator
        ours, plain = [], []
        for q, messages in zip(questions, prompts, strict=True):
            seconds, n = _ttft_ours(chat, q)
            ours.append(seconds)
            sources.append(n)
            plain.append(_plain_seconds(model, tokenizer, messages, 1))
    lengths = [services.generator.prompt_tokens(m) for m in prompts]
    return [
        _ttft_figure(ours, plain, asked, what, sources, lengths),
        _answer_decode(services.generator, model, tokenizer, prompts, asked),
    ]


def _answer_decode(generator, model, tokenizer, prompts, asked: str) -> Figure:
    """Ours: through the streaming generator, the tokens after the first text piece over the
    time after it. Plain: `generate` forced to the same length, (N-1)/(T_N - T_1)."""
    from webapp.models.generator import GenerationOptions

    ours, plain, lengths = [], [], []
    for messages in prompts:
        first, text = None, ""
        for piece in generator.stream(messages, GenerationOptions(max_new_tokens=128)):
            if first is None:  # the first piece may hold a few tokens: they count as made
                first, made = time.perf_counter(), generator.count_tokens(piece)
            text += piece
        tokens = generator.count_tokens(text)
        if first is None or tokens - made < 4:  # too short to time a decode rate
            continue
        lengths.append(tokens)
        ours.append((tokens - made) / (time.perf_counter() - first))
        one = _plain_seconds(model, tokenizer, messages, 1)
        plain.append((tokens - 1) / (_plain_seconds(model, tokenizer, messages, tokens) - one))
    return Figure(
        "answer_decode_tokens_per_s",
        "tokens/s",
        round(common.median(ours), 1) if ours else 0.0,
        round(common.median(plain), 1) if plain else None,
        f"{asked} with 4 sources, answers of {min(lengths, default=0)}-"
        f"{max(lengths, default=0)} tokens as the model ends them; median of {len(ours)}",
    )


def _ttft_figure(ours, plain, asked, what, sources, lengths) -> Figure:
    repeats = len(ours)
    return Figure(
        "ttft_s",
        "s",
        round(common.median(ours), 3),
        round(common.median(plain), 3),
        f"{asked} over {what}, {min(sources)}-{max(sources)} sources, prompts "
        f"{min(lengths)}-{max(lengths)} tokens; median of {repeats}; baseline: plain generate "
        "of 1 token on the same prompt (no retrieval)",
    )
