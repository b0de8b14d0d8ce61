from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.request
from typing import Any, Dict, List

import vigil
from vigil import Client, DeliveryError

from . import _vigil


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FaultyProxy:
    """Answers the first requests with the given statuses (Vigil's 503/429 with Retry-After), then forwards to Vigil."""

    def __init__(self, statuses: List[int]) -> None:
        self.statuses = list(statuses)
        self.bodies: List[List[Dict[str, Any]]] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                proxy.bodies.append(json.loads(body))
                if proxy.statuses:
                    status = proxy.statuses.pop(0)
                    self.send_response(status)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Type", "application/json")
                    answer = json.dumps({"error": "event_log_unavailable", "message": "try again"}).encode()
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                    return
                forwarded = urllib.request.Request(
                    f"{_vigil.URL}{self.path}", data=body, method="POST",
                    headers={"Content-Type": "application/json", "Authorization": self.headers["Authorization"]},
                )
                with urllib.request.urlopen(forwarded, timeout=10) as response:
                    answer = response.read()
                    self.send_response(response.status)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ClientAgainstVigil(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        _vigil.require_vigil()

    def client(self, **options: Any) -> Client:
        errors: List[DeliveryError] = []
        client = Client(options.pop("url", _vigil.URL), options.pop("api_key", _vigil.API_KEY), on_error=errors.append, **options)
        self.errors = errors
        self.addCleanup(client.close, 1.0)
        return client

    def test_emit_delivers_labels_payload_and_ids(self) -> None:
        client = self.client()
        resource = _vigil.unique("cron.backup")
        self.assertTrue(client.emit("backup.done", {"id": resource, "env": "prod", "attempt": 2, "dry": False}, payload={"bytes": 1234}, id="py-evt-" + resource))
        self.assertTrue(client.emit("backup.done", resource, occurred="2026-12-01T08:00:00Z"))
        self.assertTrue(client.flush(10))
        events = _vigil.stored(resource, 2)
        self.assertEqual(len(events), 2)
        first = next(event for event in events if event["id"] == "py-evt-" + resource)
        self.assertEqual(first["resource"], {"id": resource, "env": "prod", "attempt": "2", "dry": "false"})
        self.assertEqual(first["payload"], {"bytes": 1234})
        other = next(event for event in events if event is not first)
        self.assertEqual(other["occurred"], "2026-12-01T08:00:00.000Z")
        self.assertEqual(self.errors, [])
        self.assertEqual(client.stats()["delivered"], 2)

    def test_batches_in_the_background(self) -> None:
        client = self.client(batch_size=500, flush_interval=5.0)
        resource = _vigil.unique("batch")
        for index in range(1200):
            client.emit("bulk.item", resource, payload={"n": index})
        self.assertTrue(client.flush(30))
        stats = client.stats()
        self.assertEqual((stats["delivered"], stats["requests"], stats["buffered"]), (1200, 3, 0))
        self.assertEqual(len(_vigil.stored(resource, 1200)), 1200)

    def test_retries_503_and_429_with_the_same_ids(self) -> None:
        proxy = FaultyProxy([503, 503, 429])
        self.addCleanup(proxy.close)
        client = self.client(url=proxy.url, initial_backoff=0.05)
        resource = _vigil.unique("retried")
        for index in range(5):
            client.emit("job.step", resource, payload={"n": index})
        self.assertTrue(client.flush(20))
        self.assertEqual(len(proxy.bodies), 4)
        ids = [[event["id"] for event in body] for body in proxy.bodies]
        self.assertTrue(all(batch == ids[0] for batch in ids), ids)
        self.assertEqual(client.stats()["retries"], 3)
        events = _vigil.stored(resource, 5)
        self.assertEqual(sorted(event["id"] for event in events), sorted(ids[0]))
        self.assertEqual(self.errors, [])

    def test_network_errors_are_retried_then_reported_never_raised(self) -> None:
        client = self.client(url=f"http://127.0.0.1:{closed_port()}", max_retries=2, initial_backoff=0.01)
        self.assertTrue(client.emit("job.step", "unreachable"))
        self.assertTrue(client.flush(10), "flush returns once the events are given up")
        self.assertEqual([error.reason for error in self.errors], ["retries_exhausted"])
        self.assertEqual(self.errors[0].events[0]["event"], "job.step")
        self.assertEqual(client.stats()["requests"], 3)

    def test_a_4xx_is_not_retried(self) -> None:
        client = self.client(api_key="not-a-key-of-this-vigil")
        client.emit("job.step", "rejected")
        client.flush(10)
        self.assertEqual([(error.reason, error.status) for error in self.errors], [("rejected", 401)])
        self.assertEqual(client.stats()["requests"], 1)

    def test_invalid_events_are_reported_not_sent(self) -> None:
        client = self.client()
        self.assertFalse(client.emit("job.step", {"env": "prod"}))
        self.assertFalse(client.emit("job.step", {"id": "x", "tags": ["a"]}))
        self.assertFalse(client.emit("", "x"))
        self.assertFalse(client.emit("job.step", "x", related=[{"id": "y"}]))
        self.assertEqual([error.reason for error in self.errors], ["invalid"] * 4)
        self.assertIn("resource.id is required", self.errors[0].message)
        self.assertEqual(client.stats()["requests"], 0)

    def test_the_buffer_is_bounded(self) -> None:
        client = self.client(url=f"http://127.0.0.1:{closed_port()}", max_buffer=2, initial_backoff=30.0, max_retries=1)
        self.assertEqual([client.emit("job.step", "full") for _ in range(3)], [True, True, False])
        self.assertEqual(self.errors[0].reason, "overflow")

    def test_flushes_at_exit_and_never_fails_the_script(self) -> None:
        resource = _vigil.unique("exit")
        script = f"import vigil\nvigil.emit('script.done', {{'id': {resource!r}}})\nprint('done')\n"
        env = {**os.environ, "VIGIL_URL": _vigil.URL, "VIGIL_API_KEY": _vigil.API_KEY}
        finished = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual((finished.returncode, finished.stdout.strip()), (0, "done"), finished.stderr)
        self.assertEqual(len(_vigil.stored(resource, 1)), 1)

        started = time.monotonic()
        down = {**env, "VIGIL_URL": f"http://127.0.0.1:{closed_port()}", "VIGIL_EXIT_TIMEOUT": "1"}
        finished = subprocess.run([sys.executable, "-c", script], env=down, capture_output=True, text=True, timeout=60)
        self.assertEqual((finished.returncode, finished.stdout.strip()), (0, "done"))
        self.assertLess(time.monotonic() - started, 30)
        self.assertIn("not delivered", finished.stderr)


class Configuration(unittest.TestCase):
    def test_bad_options_fail_at_construction(self) -> None:
        with self.assertRaises(ValueError):
            Client("ftp://example", "k")
        with self.assertRaises(ValueError):
            Client("http://127.0.0.1:1", "k", batch_size=0)

    def test_module_level_emit_without_a_key_warns_instead_of_raising(self) -> None:
        code = "import os, vigil\nos.environ.pop('VIGIL_API_KEY', None)\nprint(vigil.emit('x.y', 'r'))\n"
        env = {key: value for key, value in os.environ.items() if key != "VIGIL_API_KEY"}
        finished = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(finished.stdout.strip(), "False")
        self.assertIn("no API key", finished.stderr)
        self.assertTrue(hasattr(vigil, "monitor"))


if __name__ == "__main__":
    unittest.main()
