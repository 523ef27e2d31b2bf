"""What counting each SOAP call (UserSession.callCount, lastActiveTime) costs on the hot path.

A poll answered from memory (RetrievePropertiesEx of a finished task's ``info``, the SOAP face's
WSGI app called in process) with the session's call counted, and the same with counting replaced
by a no-op, alternating for ``--rounds`` rounds; prints the median microseconds per request of
each and their ratio, and the cost of one count alone. Not a test: numbers depend on the machine.

    python bench/call_count.py [--requests 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.soap import backend_of, call_xml, login_body, make_app

RETRIEVE = (
    "<specSet><propSet><type>Task</type><pathSet>info</pathSet></propSet>"
    '<objectSet><obj type="Task">task-done</obj></objectSet></specSet><options/>'
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    app = make_app()
    login = app.test_client().post("/sdk", data=login_body(), headers={"Content-Type": "text/xml"})
    cookie = login.headers["Set-Cookie"].split(";")[0]
    body = call_xml("RetrievePropertiesEx", "PropertyCollector", "propertyCollector", RETRIEVE)
    poll = _poller(app.wsgi_app, body, cookie)
    poll(2_000)  # warm up: the answer is remembered from here on
    sessions = backend_of(app).sessions
    counting = sessions.touch
    results: dict[str, list[float]] = {"counted": [], "not counted": []}
    for _ in range(args.rounds):
        sessions.touch = counting  # type: ignore[method-assign]
        results["counted"].append(poll(args.requests))
        sessions.touch = lambda session: None  # type: ignore[method-assign]
        results["not counted"].append(poll(args.requests))
    sessions.touch = counting  # type: ignore[method-assign]
    session = sessions.session(cookie.split("=", 1)[1].strip('"'))
    assert session is not None, cookie
    one = min(timeit.repeat(lambda: sessions.touch(session), number=100_000, repeat=3)) / 100_000 * 1e6
    medians = {name: statistics.median(values) for name, values in results.items()}
    print(f"remembered RetrievePropertiesEx in process, {args.requests} requests, median of {args.rounds}")
    for name, value in medians.items():
        print(f"  {name:12} {value:7.2f} us/request  rounds: {', '.join(f'{v:.2f}' for v in results[name])}")
    ratio = medians["counted"] / medians["not counted"]
    print(f"ratio counted/not counted: {ratio:.3f}; one count alone: {one:.2f} us")
    return 0


def _poller(wsgi: Any, body: bytes, cookie: str) -> Callable[[int], float]:
    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        pass

    def poll(requests: int) -> float:
        started = time.perf_counter()
        for _ in range(requests):
            environ = {
                "REQUEST_METHOD": "POST",
                "PATH_INFO": "/sdk",
                "CONTENT_TYPE": "text/xml",
                "CONTENT_LENGTH": str(len(body)),
                "wsgi.input": io.BytesIO(body),
                "HTTP_COOKIE": cookie,
                "REMOTE_ADDR": "127.0.0.1",
                "SERVER_NAME": "bench",
                "SERVER_PORT": "80",
                "wsgi.url_scheme": "http",
            }
            b"".join(wsgi(environ, start_response))
        return (time.perf_counter() - started) / requests * 1e6

    return poll


if __name__ == "__main__":
    raise SystemExit(main())
