"""The web layer's own cost for ``/api/search``: the search route (``web.SearchRoute``) against Flask's handling.

    python bench/web_cost.py INDEX CORPUS [--queries 60] [--rounds 6]

Both answer the same requests in one process, rounds alternating, CPU time
per request. Every query is asked once before the rounds, so each round's
search is a result-cache lookup: what is left is the web layer (parameters,
``to_dict``, JSON, headers). The answers are checked to be the same
(status, headers but Content-Length, JSON without ``took_ms``).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from werkzeug.test import EnvironBuilder

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed  # noqa: E402  (the same queries as bench/speed.py)

from searchsvc.config import Settings  # noqa: E402
from searchsvc.web import SearchRoute, create_app  # noqa: E402


def call(wsgi, environ) -> tuple[str, list, bytes]:
    answered = []
    body = b"".join(wsgi(dict(environ), lambda status, headers, exc_info=None: answered.append((status, headers))))
    return answered[0][0], answered[0][1], body


def comparable(answer: tuple[str, list, bytes]) -> tuple:
    status, headers, body = answer
    data = json.loads(body)
    data.pop("took_ms", None)
    return status, [h for h in headers if h[0] != "Content-Length"], data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    queries = speed.make_queries(speed.title_words(args.corpus), args.queries, random.Random(5), set())
    app = create_app(Settings.from_env(index=args.index))
    app.extensions["searchsvc"].warm()
    route = app.wsgi_app.app
    assert isinstance(route, SearchRoute)
    environs = [EnvironBuilder(path="/api/search", query_string={"q": q}, headers={"Host": "localhost"}).get_environ()
                for q in queries]
    differ = sum(comparable(call(route, e)) != comparable(call(route.app, e)) for e in environs)
    variants = {"search route": route, "Flask": route.app}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(args.rounds):
        for name in (list(variants) if r % 2 == 0 else list(variants)[::-1]):
            started = time.process_time()
            for e in environs:
                call(variants[name], e)
            times[name].append((time.process_time() - started) / len(environs) * 1e6)
    print(f"{len(queries)} queries, index {args.index}: CPU µs per /api/search (result cache hit), "
          f"{args.rounds} rounds alternating")
    for name, values in times.items():
        print(f"  {name:>12}: min {min(values):.0f}  median {sorted(values)[len(values) // 2]:.0f}  "
              f"({' '.join(f'{v:.0f}' for v in values)})")
    print(f"answers differing: {differ}/{len(environs)}")


if __name__ == "__main__":
    main()
