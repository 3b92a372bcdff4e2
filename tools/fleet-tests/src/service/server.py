#!/usr/bin/env python3
"""The fleet tests' service: Python's standard library only, nothing like tools/demo-app.

Packaged as editions (fleet-tests src/editions.ts): each archive holds this file and EDITION, the
edition marker every answer carries. Environment (set by the agent config):
  PORT               the port to listen on (127.0.0.1)
  SERVER_NAME, ROLE  echoed in every answer
  SLOW_HEALTH_EVERY  every Nth /health probe of each prober answers late (0 or unset: never)
  SLOW_HEALTH_MS     how late, ms (default 1500)

Probers are told apart by the query (`/health?by=agent`; HAProxy asks plain `/health`) and counted
apart: with one counter for all, a prober whose late probe delays its next one can fall into step
with the others and meet the late turn every time.

GET /health -> 200 "ok"; GET /stats -> {"pid", "probes", "late"}; anything else -> 200 JSON
{"edition", "server", "role"}. HTTP/1.1 keep-alive; idle connections are never closed by the
service (the load balancer is the side that closes them, README "Load balancers").
"""
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "EDITION"), encoding="utf-8") as f:
    EDITION = f.read().strip()
PORT = int(os.environ["PORT"])
SERVER = os.environ.get("SERVER_NAME", "")
ROLE = os.environ.get("ROLE", "")
SLOW_EVERY = int(os.environ.get("SLOW_HEALTH_EVERY", "0") or "0")
SLOW_S = int(os.environ.get("SLOW_HEALTH_MS", "1500")) / 1000.0

lock = threading.Lock()
counts = {"probes": 0, "late": 0}
probes_by = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send_body(self, status, body, content_type):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path == "/health":
            with lock:
                counts["probes"] += 1
                probes_by[query] = probes_by.get(query, 0) + 1
                late = SLOW_EVERY > 0 and probes_by[query] % SLOW_EVERY == 0
                if late:
                    counts["late"] += 1
            if late:
                time.sleep(SLOW_S)
            self.send_body(200, "ok\n", "text/plain")
        elif path == "/stats":
            with lock:
                stats = dict(counts, pid=os.getpid(), edition=EDITION, by=dict(probes_by))
            self.send_body(200, json.dumps(stats), "application/json")
        else:
            body = json.dumps({"edition": EDITION, "server": SERVER, "role": ROLE})
            self.send_body(200, body, "application/json")

    def log_message(self, fmt, *args):
        # One line per request would flood the agent's log of this service.
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # A deep backlog: a burst of new connections must queue, not be dropped (a dropped SYN is
    # retried by the client a second later: a late answer of its own).
    request_queue_size = 512


def main():
    httpd = Server(("127.0.0.1", PORT), Handler)

    def stop(_signum, _frame):
        # The agent sends SIGTERM once the load balancer has drained this server.
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print(f"serving edition {EDITION} as {SERVER} ({ROLE}) on 127.0.0.1:{PORT}", flush=True)
    httpd.serve_forever()
    httpd.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
