#!/usr/bin/env python3
"""Test HTTP server for tests/unit/test_fn_http.

Listens on 127.0.0.1, port chosen by the kernel, and prints the port on
the first line of standard output; exits when standard input reaches
end of file (the test died) or on SIGTERM. HTTP/1.1 with keep-alive. The path
decides the answer:

  /ok                  200, the request body echoed
  /status/N            status N; ?retry_after=V adds Retry-After: V
  /slow?ms=M           200 after M milliseconds
  /lambda-error        200, X-Amz-Function-Error: Unhandled, JSON body
  /headers             200, the request headers as a JSON object
  /big?n=N             200, N bytes of 'x'
  /retry-date          503, Retry-After as an HTTP date 3 s ahead
  /redirect            302 to /ok
  /stats               200, {"connections": distinct client connections}
"""
import email.utils
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

lock = threading.Lock()
clients = set()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def handle_request(self):
        with lock:
            clients.add(self.client_address[1])
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        path = url.path
        if path == "/ok":
            ct = self.headers.get("Content-Type", "")
            self.reply(200, body, [("Content-Type", ct)])
        elif path.startswith("/status/"):
            status = int(path[len("/status/"):])
            hdrs = []
            if "retry_after" in q:
                hdrs.append(("Retry-After", q["retry_after"]))
            self.reply(status, b"oops\r\n\x01\tstatus %d\n" % status, hdrs)
        elif path == "/slow":
            time.sleep(int(q.get("ms", "1000")) / 1000.0)
            self.reply(200, b"slow")
        elif path == "/lambda-error":
            self.reply(200, b'{"errorMessage":"boom"}',
                       [("X-Amz-Function-Error", "Unhandled"),
                        ("Content-Type", "application/json")])
        elif path == "/headers":
            data = json.dumps(dict(self.headers.items())).encode()
            self.reply(200, data, [("Content-Type", "application/json")])
        elif path == "/big":
            self.reply(200, b"x" * int(q.get("n", "100000")))
        elif path == "/retry-date":
            when = email.utils.formatdate(time.time() + 3, usegmt=True)
            self.reply(503, b"later", [("Retry-After", when)])
        elif path == "/redirect":
            self.reply(302, b"moved", [("Location", "/ok")])
        elif path == "/stats":
            with lock:
                n = len(clients)
            self.reply(200, json.dumps({"connections": n}).encode(),
                       [("Content-Type", "application/json")])
        else:
            self.reply(404, b"no such path")

    do_GET = handle_request
    do_POST = handle_request


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass


def watch_stdin():
    """The test holds our standard input: its end is ours."""
    sys.stdin.buffer.read()
    os._exit(0)


def main():
    threading.Thread(target=watch_stdin, daemon=True).start()
    srv = Server(("127.0.0.1", 0), Handler)
    sys.stdout.write("%d\n" % srv.server_address[1])
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
