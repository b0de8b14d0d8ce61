from __future__ import annotations

import contextlib
import io
import json
import os
import unittest
from typing import Any, Dict

from vigil import dbt

from . import _vigil

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "test", "fixtures", "dbt")


def load(name: str) -> Dict[str, Any]:
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return json.load(handle)


class ArtifactMapping(unittest.TestCase):
    """Real artifacts of `dbt build` and `dbt source freshness` (dbt-core 1.11, dbt-duckdb) on test/integrations/dbt-project."""

    def test_build_and_freshness_results_become_the_dbt_vocabulary(self) -> None:
        events = list(dbt.events_from_artifacts(load("run_results.json"), load("manifest.json"), load("sources.json")))
        self.assertEqual(
            [(event["event"], event["resource"]["id"]) for event in events],
            [
                ("dbt.seed.refreshed", "dbt.seed.raw_orders"),
                ("dbt.model.refreshed", "dbt.model.sales"),
                ("dbt.test.failed", "dbt.test.accepted_values_sales_status__shipped"),
                ("dbt.test.passed", "dbt.test.not_null_sales_order_id"),
                ("dbt.source.fresh", "dbt.source.shop.orders_live"),
                ("dbt.source.stale", "dbt.source.shop.raw_orders"),
            ],
        )
        model = events[1]
        self.assertEqual(
            {key: model["resource"][key] for key in ("project", "schema", "materialization", "tags", "status", "command", "unique_id")},
            {"project": "shop", "schema": "main", "materialization": "table", "tags": "daily", "status": "success", "command": "build", "unique_id": "model.shop.sales"},
        )
        self.assertEqual([item["id"] for item in model["related"]], ["dbt.source.shop.raw_orders", "dbt.seed.raw_orders"])
        self.assertEqual(events[2]["related"][0], {"id": "dbt.model.sales", "role": "model", "unique_id": "model.shop.sales"})
        self.assertEqual(events[2]["payload"]["failures"], 1)
        self.assertEqual(events[5]["resource"]["status"], "error")
        self.assertIn("max_loaded_at", events[5]["payload"])
        self.assertTrue(all(event["occurred"].endswith("Z") or "+" in event["occurred"] for event in events))

    def test_a_failed_model_and_its_skipped_tests(self) -> None:
        events = list(dbt.events_from_artifacts(load("run_results-sales-failed.json"), load("manifest.json")))
        self.assertEqual([event["event"] for event in events], ["dbt.model.failed", "dbt.test.skipped", "dbt.test.skipped"])
        self.assertIn("no_such_column", events[0]["payload"]["message"])

    def test_ids_are_derived_from_the_invocation_and_node(self) -> None:
        once = [event["id"] for event in dbt.events_from_artifacts(load("run_results.json"), load("manifest.json"))]
        again = [event["id"] for event in dbt.events_from_artifacts(load("run_results.json"), None)]
        self.assertEqual(once, again)
        self.assertEqual(len(set(once)), len(once))

    def test_missing_artifacts_exit_2(self) -> None:
        with contextlib.redirect_stderr(io.StringIO()) as err:
            self.assertEqual(dbt.main(["--target-path", "/nonexistent"]), 2)
        self.assertIn("run dbt first", err.getvalue())


class CommandAgainstVigil(unittest.TestCase):
    def test_a_second_run_resends_the_same_ids(self) -> None:
        _vigil.require_vigil()
        os.environ["VIGIL_API_KEY"] = _vigil.API_KEY
        args = ["--url", _vigil.URL, "--run-results", os.path.join(FIXTURES, "run_results-sales-failed.json"),
                "--manifest", os.path.join(FIXTURES, "manifest.json"), "--sources", "/nonexistent/sources.json"]
        for _ in range(2):
            with contextlib.redirect_stdout(io.StringIO()) as out:
                self.assertEqual(dbt.main(args), 0)
            self.assertIn("sent 3 events", out.getvalue())
        failed = [event for event in _vigil.stored("dbt.model.sales", 2) if event["resource"].get("invocation_id") == load("run_results-sales-failed.json")["metadata"]["invocation_id"]]
        # The history keeps every delivery; the trigger evaluator dedupes by id, and both runs sent the same id.
        self.assertGreaterEqual(len(failed), 2)
        self.assertEqual({(event["event"], event["id"]) for event in failed}, {("dbt.model.failed", failed[0]["id"])})


if __name__ == "__main__":
    unittest.main()
