"""`webapp ask "QUESTION"`: streamed to a terminal, the whole answer to a pipe, or --json."""

from __future__ import annotations

import json
import sys


def cmd_ask(services, args) -> int:
    from webapp.chat.service import ChatOptions

    s = services.settings
    options = ChatOptions(
        use_rag=not args.no_rag,
        top_k=args.top_k or s.top_k,
        temperature=s.temperature if args.temperature is None else args.temperature,
        max_new_tokens=args.max_new_tokens or s.max_new_tokens,
        adapter=args.adapter,
    )
    if args.json:
        answer = services.chat.ask(args.owner, args.question, [], options)
        print(json.dumps(answer.as_dict(), ensure_ascii=False))
        return 0
    answer = None
    live = sys.stdout.isatty()  # a terminal sees tokens as they come; a pipe gets the result
    shown = 0
    for answer in services.chat.stream(args.owner, args.question, [], options):
        if live and not answer.done:
            print(answer.answer[shown:], end="", flush=True)
            shown = len(answer.answer)
    print("" if live and shown else answer.answer)
    for n, src in enumerate(answer.sources, start=1):
        print(f"  [{n}] {src.where} (score {src.score:.2f})")
    if answer.grounded is False:
        print("  (not supported by the cited passages: check the sources)")
    return 0
