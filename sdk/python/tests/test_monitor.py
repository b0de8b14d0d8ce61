from __future__ import annotations

import asyncio
import unittest
from typing import Any, List

from vigil import Client, DeliveryError, monitor

from . import _vigil


class MonitorAgainstVigil(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        _vigil.require_vigil()

    def setUp(self) -> None:
        self.errors: List[DeliveryError] = []
        self.client = Client(_vigil.URL, _vigil.API_KEY, on_error=self.errors.append)
        self.addCleanup(self.client.close, 1.0)

    def events(self, name: str, count: int) -> List[Any]:
        self.assertTrue(self.client.flush(10))
        events = _vigil.stored(name, count)
        self.assertEqual(len(events), count, events)
        return events

    def test_context_manager_reports_start_and_success_with_duration(self) -> None:
        name = _vigil.unique("nightly-backup")
        with monitor(name, labels={"env": "prod"}, client=self.client):
            pass
        started, succeeded = sorted(self.events(name, 2), key=lambda event: event["event"] != "check_in.started")
        self.assertEqual((started["event"], succeeded["event"]), ("check_in.started", "check_in.succeeded"))
        self.assertEqual(succeeded["resource"], {"id": name, "env": "prod"})
        self.assertEqual(succeeded["payload"]["check_in"], started["payload"]["check_in"])
        self.assertIsInstance(succeeded["payload"]["duration_s"], (int, float))

    def test_a_failure_is_reported_and_the_exception_propagates(self) -> None:
        name = _vigil.unique("nightly-backup")
        with self.assertRaises(RuntimeError):
            with monitor(name, client=self.client):
                raise RuntimeError("disk full")
        failed = next(event for event in self.events(name, 2) if event["event"] == "check_in.failed")
        self.assertEqual((failed["payload"]["error_type"], failed["payload"]["error_message"]), ("RuntimeError", "disk full"))

    def test_decorator_one_check_in_per_call_sync_and_async(self) -> None:
        name = _vigil.unique("load-orders")

        @monitor(name, client=self.client)
        def load(rows: int) -> int:
            return rows * 2

        @monitor(name, client=self.client)
        async def load_async() -> str:
            return "ok"

        self.assertEqual(load(21), 42)
        self.assertEqual(load.__name__, "load")
        self.assertEqual(asyncio.run(load_async()), "ok")
        names = sorted(event["event"] for event in self.events(name, 4))
        self.assertEqual(names, ["check_in.started", "check_in.started", "check_in.succeeded", "check_in.succeeded"])
        self.assertEqual(self.errors, [])


if __name__ == "__main__":
    unittest.main()
