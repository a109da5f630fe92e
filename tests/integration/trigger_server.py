#!/usr/bin/env python3
"""A webhook for the http trigger tests (tests/integration/test_trigger_http.c).

Listens on 127.0.0.1, port chosen by the kernel, and prints that port as its
first line on standard output. Exits on SIGTERM or when standard input
reaches EOF (the test that started it is gone). Python standard library
only.

Every POST is recorded: path, query, headers (names lowercased; a repeated
header's values joined with ", "), body and arrival time (time.monotonic(),
CLOCK_MONOTONIC on Linux, the clock the C tests read). A JSON body that is
an array (a CloudEvents batch) is kept parsed, as "events", instead of
"body".

Paths (the query string is not part of the path):
  /ok                  200 "ok"
  /slow?ms=N           sleeps N ms, then 200; in-flight maximum kept
  /fail503-then-ok?n=K the first K requests to this exact path and query
                       get 503 with Retry-After: 1 (with &date=S: an HTTP
                       date S seconds ahead), later ones 200
  /bad400              400 "bad request"
  /batch               200; the batch size of each request kept
  anything else        200
Inspection (GET):
  /_stats              {"total", "paths": {path: count}, "in_flight":
                       {path: now}, "max_in_flight": {path: max},
                       "batches": {path: [sizes]}}
  /_requests?path=P    the requests to P, one compact JSON object a line,
                       in arrival order (all paths without ?path=)
"""

import email.utils
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
REQUESTS = []           # every POST, in arrival order
COUNTS = {}             # path -> requests
TARGET_COUNTS = {}      # path?query -> requests (for /fail503-then-ok)
IN_FLIGHT = {}          # path -> requests being answered now
MAX_IN_FLIGHT = {}      # path -> most at once
BATCHES = {}            # path -> [events per request]


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "trigger_server"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, ctype="text/plain", extra=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        with LOCK:
            if url.path == "/_stats":
                body = compact({
                    "total": len(REQUESTS),
                    "paths": COUNTS,
                    "in_flight": IN_FLIGHT,
                    "max_in_flight": MAX_IN_FLIGHT,
                    "batches": BATCHES,
                }) + "\n"
            elif url.path == "/_requests":
                want = query.get("path", [None])[0]
                body = "".join(compact(r) + "\n" for r in REQUESTS
                               if want is None or r["path"] == want)
            else:
                self.reply(404, "not found\n")
                return
        self.reply(200, body, "application/json")

    def do_POST(self):
        arrived = time.monotonic()
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length) if length > 0 else b""
        headers = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = headers[k] + ", " + v if k in headers else v
        rec = {
            "path": url.path,
            "query": url.query,
            "headers": headers,
            "body": raw.decode("utf-8", "replace"),
            "t": arrived,
        }
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        if isinstance(doc, list):
            rec["events"] = doc
            del rec["body"]
        with LOCK:
            rec["n"] = len(REQUESTS) + 1
            REQUESTS.append(rec)
            COUNTS[url.path] = COUNTS.get(url.path, 0) + 1
            nth = TARGET_COUNTS.get(self.path, 0) + 1
            TARGET_COUNTS[self.path] = nth
            now = IN_FLIGHT.get(url.path, 0) + 1
            IN_FLIGHT[url.path] = now
            MAX_IN_FLIGHT[url.path] = max(MAX_IN_FLIGHT.get(url.path, 0),
                                          now)
            if url.path == "/batch":
                BATCHES.setdefault(url.path, []).append(
                    len(doc) if isinstance(doc, list) else 1)
        try:
            self.answer(url.path, query, nth)
        finally:
            with LOCK:
                IN_FLIGHT[url.path] -= 1

    def answer(self, path, query, nth):
        if path == "/slow":
            time.sleep(int(query.get("ms", ["100"])[0]) / 1000.0)
            self.reply(200, "ok\n")
        elif path == "/fail503-then-ok":
            if nth <= int(query.get("n", ["1"])[0]):
                if "date" in query:
                    ahead = time.time() + int(query["date"][0])
                    after = email.utils.formatdate(ahead, usegmt=True)
                else:
                    after = "1"
                self.reply(503, "unavailable\n",
                           extra={"Retry-After": after})
            else:
                self.reply(200, "ok\n")
        elif path == "/bad400":
            self.reply(400, "bad request")
        else:
            self.reply(200, "ok\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that gave up (a trigger's timeout) is no error here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main():
    server = Server(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdout.write("%d\n" % server.server_address[1])
    sys.stdout.flush()
    # Until the test goes away: EOF on standard input.
    while sys.stdin.buffer.read(4096):
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
