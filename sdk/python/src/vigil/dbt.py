"""``vigil-dbt`` / ``python -m vigil.dbt``: dbt's run artifacts as Vigil events.

Run it after ``dbt build``, ``run``, ``test``, ``seed``, ``snapshot`` or ``source freshness`` (with
``;`` rather than ``&&``, so a failed build is reported too). It reads ``run_results.json`` and
``sources.json`` from the target directory (whichever exist) and ``manifest.json`` for each
node's project, schema, materialization and tags, and sends one event per node result:

=========================  ====================================  =============================
node                       status                                event
=========================  ====================================  =============================
model                      success / error / skipped             dbt.model.refreshed / failed / skipped
seed, snapshot             success / error / skipped             dbt.seed.* / dbt.snapshot.* (same)
test, unit test            pass / fail, error / warn / skipped   dbt.test.passed / failed / warned / skipped
source (freshness)         pass / warn, error / runtime error    dbt.source.fresh / stale / failed
=========================  ====================================  =============================

The resource is ``dbt.<type>.<name>`` (a source: ``dbt.source.<source>.<table>``) with labels
``name``, ``unique_id``, ``project``, ``database``, ``schema``, ``materialization``, ``tags``
(comma-separated), ``status``, ``invocation_id`` and ``command``; a test or model names what it
depends on as related resources (roles ``model``, ``source``, ``seed``, ``snapshot``). Event
ids are derived from the invocation id and the node, so running ``vigil-dbt`` twice on the same
artifacts sends nothing new.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ._client import Client
from ._ids import derived_event_id

__all__ = ["events_from_artifacts", "main"]

_RUN_STATES: Dict[str, Dict[str, str]] = {
    "model": {"success": "refreshed", "error": "failed", "skipped": "skipped", "no-op": "skipped", "partial success": "failed"},
    "seed": {"success": "refreshed", "error": "failed", "skipped": "skipped"},
    "snapshot": {"success": "refreshed", "error": "failed", "skipped": "skipped"},
    "test": {"pass": "passed", "fail": "failed", "error": "failed", "warn": "warned", "skipped": "skipped"},
    "unit_test": {"pass": "passed", "fail": "failed", "error": "failed", "warn": "warned", "skipped": "skipped"},
    "source": {"pass": "fresh", "warn": "stale", "error": "stale", "runtime error": "failed"},
}
_EVENT_TYPE = {"unit_test": "test"}
_MAX_LABEL = 1024


def _load(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a dbt artifact (a JSON object)")
    return data


def _node(manifest: Optional[Mapping[str, Any]], unique_id: str) -> Mapping[str, Any]:
    if not manifest:
        return {}
    for section in ("nodes", "sources", "unit_tests"):
        found = (manifest.get(section) or {}).get(unique_id)
        if isinstance(found, Mapping):
            return found
    return {}


def _resource_type(unique_id: str, node: Mapping[str, Any]) -> str:
    return str(node.get("resource_type") or unique_id.split(".", 1)[0])


def _resource_id(kind: str, unique_id: str, node: Mapping[str, Any]) -> str:
    if kind == "source":
        source = node.get("source_name")
        table = node.get("name")
        if source and table:
            return f"dbt.source.{source}.{table}"
        return "dbt.source." + ".".join(unique_id.split(".")[2:])
    name = node.get("name") or unique_id.split(".")[-1]
    return f"dbt.{_EVENT_TYPE.get(kind, kind)}.{name}"


def _completed_at(result: Mapping[str, Any], fallback: Optional[str]) -> Optional[str]:
    for timing in reversed(result.get("timing") or []):
        if isinstance(timing, Mapping) and timing.get("completed_at"):
            stamp = str(timing["completed_at"])
            return stamp if stamp.endswith("Z") or "+" in stamp[10:] else stamp + "Z"
    return fallback


def _related(node: Mapping[str, Any], manifest: Optional[Mapping[str, Any]]) -> List[Dict[str, str]]:
    related: List[Dict[str, str]] = []
    for upstream in ((node.get("depends_on") or {}).get("nodes") or [])[:50]:
        if not isinstance(upstream, str):
            continue
        kind = upstream.split(".", 1)[0]
        if kind not in ("model", "source", "seed", "snapshot"):
            continue
        related.append({"id": _resource_id(kind, upstream, _node(manifest, upstream)), "role": kind, "unique_id": upstream})
    return related


def _labels(kind: str, unique_id: str, node: Mapping[str, Any], status: str, metadata: Mapping[str, Any], command: str) -> Dict[str, str]:
    config = node.get("config") or {}
    tags = node.get("tags") or config.get("tags") or []
    labels = {
        "id": _resource_id(kind, unique_id, node),
        "name": str(node.get("name") or unique_id.split(".")[-1]),
        "unique_id": unique_id,
        "project": str(node.get("package_name") or (unique_id.split(".") + [""])[1]),
        "database": str(node.get("database") or ""),
        "schema": str(node.get("schema") or ""),
        "materialization": str(config.get("materialized") or ""),
        "tags": ",".join(str(tag) for tag in tags) if isinstance(tags, list) else str(tags),
        "status": status,
        "invocation_id": str(metadata.get("invocation_id") or ""),
        "command": command,
    }
    if kind == "source":
        labels["source"] = str(node.get("source_name") or "")
    return {key: value[:_MAX_LABEL] for key, value in labels.items() if value}


def _payload(result: Mapping[str, Any], metadata: Mapping[str, Any], extra: Mapping[str, Any]) -> Dict[str, Any]:
    adapter = result.get("adapter_response") or {}
    payload: Dict[str, Any] = {
        "status": result.get("status"),
        "message": result.get("message"),
        "execution_time_s": result.get("execution_time"),
        "failures": result.get("failures"),
        "rows_affected": adapter.get("rows_affected") if isinstance(adapter, Mapping) else None,
        "relation": result.get("relation_name"),
        "dbt_version": metadata.get("dbt_version"),
        **extra,
    }
    return {key: value for key, value in payload.items() if value is not None}


def events_from_artifacts(
    run_results: Optional[Mapping[str, Any]],
    manifest: Optional[Mapping[str, Any]],
    sources: Optional[Mapping[str, Any]] = None,
) -> Iterator[Dict[str, Any]]:
    """The Vigil events (keyword arguments of ``Client.emit``) for dbt's artifacts."""
    for artifact, is_freshness in ((run_results, False), (sources, True)):
        if not artifact:
            continue
        metadata = artifact.get("metadata") or {}
        args = artifact.get("args") or {}
        command = str(args.get("which") or ("source freshness" if is_freshness else ""))
        generated_at = str(metadata.get("generated_at") or "")
        for result in artifact.get("results") or []:
            if not isinstance(result, Mapping) or not isinstance(result.get("unique_id"), str):
                continue
            unique_id = result["unique_id"]
            node = _node(manifest, unique_id)
            kind = _resource_type(unique_id, node)
            status = str(result.get("status") or "")
            state = _RUN_STATES.get(kind, {}).get(status)
            if state is None:
                continue
            extra: Dict[str, Any] = {}
            if kind == "source":
                for key in ("max_loaded_at", "snapshotted_at", "max_loaded_at_time_ago_in_s", "criteria", "error"):
                    if key in result:
                        extra[key] = result[key]
            yield {
                "event": f"dbt.{_EVENT_TYPE.get(kind, kind)}.{state}",
                "resource": _labels(kind, unique_id, node, status, metadata, command),
                "related": _related(node, manifest),
                "payload": _payload(result, metadata, extra),
                "occurred": _completed_at(result, generated_at or None),
                "id": derived_event_id("dbt", metadata.get("invocation_id") or generated_at, unique_id, status),
            }


def _paths(options: argparse.Namespace) -> Tuple[str, str, str]:
    target = options.target_path or os.environ.get("DBT_TARGET_PATH") or os.path.join(options.project_dir, "target")
    return (
        options.run_results or os.path.join(target, "run_results.json"),
        options.manifest or os.path.join(target, "manifest.json"),
        options.sources or os.path.join(target, "sources.json"),
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="vigil-dbt", description="Send dbt's run results to Vigil (VIGIL_URL, VIGIL_API_KEY).")
    parser.add_argument("--project-dir", default=os.environ.get("DBT_PROJECT_DIR", "."), help="dbt project directory (default: .)")
    parser.add_argument("--target-path", help="dbt's target directory (default: PROJECT_DIR/target)")
    parser.add_argument("--run-results", help="run_results.json to read (default: TARGET/run_results.json)")
    parser.add_argument("--manifest", help="manifest.json to read (default: TARGET/manifest.json)")
    parser.add_argument("--sources", help="sources.json to read (default: TARGET/sources.json)")
    parser.add_argument("--url", help="Vigil's URL (default: VIGIL_URL or http://127.0.0.1:7700)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for delivery (default: 30)")
    parser.add_argument("--dry-run", action="store_true", help="print the events as JSON lines instead of sending them")
    options = parser.parse_args(argv)

    run_results_path, manifest_path, sources_path = _paths(options)
    try:
        run_results, manifest, sources = _load(run_results_path), _load(manifest_path), _load(sources_path)
    except (OSError, ValueError) as error:
        print(f"vigil-dbt: {error}", file=sys.stderr)
        return 2
    if run_results is None and sources is None:
        print(f"vigil-dbt: neither {run_results_path} nor {sources_path} exists: run dbt first", file=sys.stderr)
        return 2
    events = list(events_from_artifacts(run_results, manifest, sources))
    if options.dry_run:
        for event in events:
            print(json.dumps(event, sort_keys=True))
        return 0

    failures: List[str] = []
    client = Client(options.url, on_error=lambda error: failures.append(f"{len(error.events)} {error.reason}: {error.message}"), max_retries=5)
    for event in events:
        client.emit(**event)
    delivered = client.close(options.timeout)
    counts: Dict[str, int] = {}
    for event in events:
        counts[event["event"]] = counts.get(event["event"], 0) + 1
    summary = ", ".join(f"{name} x{count}" for name, count in sorted(counts.items())) or "nothing to report"
    if failures or not delivered:
        print(f"vigil-dbt: not all events were delivered to {client.url}: {'; '.join(failures) or 'timed out'}", file=sys.stderr)
        return 1
    print(f"vigil-dbt: sent {len(events)} events to {client.url} ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
