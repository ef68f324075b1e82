"""`webapp feedback list [--json]` and `webapp feedback export --kind kto|dpo|raw [--out F]`:
the 👍/👎 a user gave the chat's answers (webapp.chat.feedback), as a list or as JSONL
training rows for `webapp train --method kto|dpo --data F`."""

from __future__ import annotations

import json
import sys
import time

from webapp.files import atomic_write


def cmd_feedback(services, args) -> int:
    store = services.feedback
    if args.feedback_command == "export":
        rows = store.export(args.owner, args.kind)
        body = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        if args.out is None:
            sys.stdout.write(body)
        else:
            atomic_write(args.out, body)
            print(f"wrote {len(rows)} {args.kind} rows to {args.out}", file=sys.stderr)
        return 0
    records = store.list(args.owner)
    if args.json:
        print(json.dumps(store.export(args.owner, "raw"), ensure_ascii=False))
        return 0
    if not records:
        print("No feedback yet. Rate answers with 👍/👎 in the chat.")
    for f in records:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(f.time))
        thumb = "👍" if f.rating == "up" else "👎"
        better = "  (with a better answer)" if f.better else ""
        print(f"{f.id}  {when}  {thumb}  {' '.join(f.question.split())[:70]}{better}")
    return 0
