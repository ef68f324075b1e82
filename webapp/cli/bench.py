"""`webapp bench`: speed figures against same-run baselines, as a table or --json."""

from __future__ import annotations

import json


def cmd_bench(services, args) -> int:
    from webapp.bench import runner

    extra = tuple(name for name in runner.OPTIONAL if getattr(args, name))
    only = tuple(name.strip() for name in args.only.split(",") if name.strip())
    result = runner.run(services, quick=args.quick, extra=extra, only=only, limit=args.limit)
    if args.json:
        figures = [f.as_dict() for f in result["figures"]]
        print(json.dumps({"machine": result["machine"], "figures": figures}))
    else:
        print(runner.table(result))
    return 0
