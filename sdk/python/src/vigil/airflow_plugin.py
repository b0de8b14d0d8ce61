"""An Airflow listener plugin that reports DAG runs and task instances to Vigil without OpenLineage.

Installed with the package, Airflow finds it through the ``airflow.plugins`` entry point. It is
active when ``VIGIL_API_KEY`` is set (``VIGIL_AIRFLOW_PLUGIN=off`` turns it off regardless) and
sends, in the same vocabulary as Vigil's mapping of Airflow's OpenLineage events:

- ``airflow.dag_run.started|success|failed`` on ``airflow.dag.<dag_id>``, labels ``dag_id``,
  ``namespace``, ``run_id`` (Airflow's), ``run_type`` and ``logical_date``;
- ``airflow.task.started|success|failed|skipped`` on ``airflow.task.<dag_id>.<task_id>``, labels
  ``dag_id``, ``task_id``, ``namespace``, ``run_id``, ``try_number`` (and ``map_index`` for a
  mapped task), related ``airflow.dag.<dag_id>`` with role ``dag``.

``namespace`` is ``VIGIL_AIRFLOW_NAMESPACE``, else Airflow's ``[openlineage] namespace`` or
``OPENLINEAGE_NAMESPACE``, else ``default`` — what the OpenLineage provider would use. Event ids
derive from (dag, run, task, map index, try, state), so a resent state dedupes.

Sending never blocks or fails a task: events go to a background thread. DAG-run hooks run in
the scheduler, a long-lived process: they only buffer. When a task instance finishes, the plugin
waits at most ``VIGIL_AIRFLOW_FLUSH_TIMEOUT`` seconds (default 2) for delivery, because Airflow 3's
task runner ends the task's process with ``os._exit`` (no ``atexit``) right after; an unreachable
Vigil costs a warning in the task log, never the task.
"""

from __future__ import annotations

import datetime
import logging
import os
from typing import Any, Dict, List, Optional

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

from ._client import Client
from ._ids import derived_event_id

log = logging.getLogger("vigil.airflow")


def _enabled() -> bool:
    if os.environ.get("VIGIL_AIRFLOW_PLUGIN", "").lower() in ("0", "off", "false", "no"):
        return False
    return bool(os.environ.get("VIGIL_API_KEY"))


def _namespace() -> str:
    explicit = os.environ.get("VIGIL_AIRFLOW_NAMESPACE")
    if explicit:
        return explicit
    try:
        from airflow.configuration import conf

        configured = conf.get("openlineage", "namespace", fallback="")
    except Exception:  # noqa: BLE001 - a missing section is the default
        configured = ""
    return configured or os.environ.get("OPENLINEAGE_NAMESPACE") or "default"


def _iso(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.isoformat()
    return str(value)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _run_type(dag_run: Any) -> str:
    value = getattr(dag_run, "run_type", None)
    return str(getattr(value, "value", value) or "")


class VigilListener:
    """Airflow listener hooks (the same signatures on Airflow 2.10 and 3.x; extra arguments ignored)."""

    def __init__(self) -> None:
        self._client: Optional[Client] = None
        self._pid = 0

    # -- sending ----------------------------------------------------------------------------------
    def _get_client(self) -> Client:
        if self._client is None or self._pid != os.getpid():
            self._client = Client(flush_interval=0.05, max_buffer=1_000, max_retries=5, timeout=5.0, exit_timeout=_flush_timeout())
            self._pid = os.getpid()
        return self._client

    def _send(self, event: Dict[str, Any], *, wait: bool) -> None:
        try:
            client = self._get_client()
            client.emit(**event)
            if wait and not client.flush(_flush_timeout()):
                log.warning("vigil: %s not yet delivered to %s; it stays buffered and is retried in the background", event["event"], client.url)
        except Exception:  # noqa: BLE001 - reporting must never fail a task or the scheduler
            log.warning("vigil: could not report %s", event.get("event"), exc_info=True)

    # -- DAG runs -----------------------------------------------------------------------------------
    def _dag_run_event(self, dag_run: Any, state: str, msg: Any) -> Dict[str, Any]:
        dag_id = str(dag_run.dag_id)
        run_id = str(dag_run.run_id)
        logical_date = _iso(getattr(dag_run, "logical_date", None) or getattr(dag_run, "execution_date", None))
        resource = {
            "id": f"airflow.dag.{dag_id}",
            "dag_id": dag_id,
            "namespace": _namespace(),
            "run_id": run_id,
            "run_type": _run_type(dag_run),
            "logical_date": logical_date,
        }
        start, end = _iso(getattr(dag_run, "start_date", None)), _iso(getattr(dag_run, "end_date", None))
        payload = {
            "state": state,
            "start_date": start,
            "end_date": end,
            "data_interval_start": _iso(getattr(dag_run, "data_interval_start", None)),
            "data_interval_end": _iso(getattr(dag_run, "data_interval_end", None)),
            "message": str(msg) if msg else None,
            "emitter": "vigil.airflow_plugin",
        }
        return {
            "event": f"airflow.dag_run.{state}",
            "resource": {key: value for key, value in resource.items() if value},
            "payload": {key: value for key, value in payload.items() if value is not None},
            "occurred": (end if state != "started" else None) or _now(),
            "id": derived_event_id("airflow", dag_id, run_id, "", "", "", state),
        }

    @hookimpl
    def on_dag_run_running(self, dag_run: Any, msg: str) -> None:
        if _enabled():
            self._send(self._dag_run_event(dag_run, "started", msg), wait=False)

    @hookimpl
    def on_dag_run_success(self, dag_run: Any, msg: str) -> None:
        if _enabled():
            self._send(self._dag_run_event(dag_run, "success", msg), wait=False)

    @hookimpl
    def on_dag_run_failed(self, dag_run: Any, msg: str) -> None:
        if _enabled():
            self._send(self._dag_run_event(dag_run, "failed", msg), wait=False)

    # -- task instances -----------------------------------------------------------------------------
    def _task_event(self, task_instance: Any, state: str, error: Any = None) -> Dict[str, Any]:
        dag_id = str(task_instance.dag_id)
        task_id = str(task_instance.task_id)
        run_id = str(task_instance.run_id)
        try_number = getattr(task_instance, "try_number", None)
        map_index = getattr(task_instance, "map_index", -1)
        mapped = isinstance(map_index, int) and map_index >= 0
        resource = {
            "id": f"airflow.task.{dag_id}.{task_id}",
            "dag_id": dag_id,
            "task_id": task_id,
            "namespace": _namespace(),
            "run_id": run_id,
            "try_number": "" if try_number is None else str(try_number),
            "map_index": str(map_index) if mapped else "",
        }
        start = _iso(getattr(task_instance, "start_date", None))
        end = _iso(getattr(task_instance, "end_date", None))
        payload: Dict[str, Any] = {"state": state, "start_date": start, "end_date": end, "emitter": "vigil.airflow_plugin"}
        operator = getattr(getattr(task_instance, "task", None), "task_type", None)
        if operator:
            payload["operator"] = str(operator)
        if error is not None:
            payload["error_type"] = type(error).__qualname__ if isinstance(error, BaseException) else "str"
            payload["error_message"] = str(error)[:2000]
        related: List[Dict[str, str]] = [{"id": f"airflow.dag.{dag_id}", "role": "dag"}]
        occurred = start if state == "started" else None
        return {
            "event": f"airflow.task.{state}",
            "resource": {key: value for key, value in resource.items() if value},
            "related": related,
            "payload": {key: value for key, value in payload.items() if value is not None},
            "occurred": occurred or _now(),
            "id": derived_event_id("airflow", dag_id, run_id, task_id, map_index if mapped else "", try_number, state),
        }

    @hookimpl
    def on_task_instance_running(self, previous_state: Any, task_instance: Any) -> None:
        if _enabled():
            self._send(self._task_event(task_instance, "started"), wait=False)

    @hookimpl
    def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
        if _enabled():
            self._send(self._task_event(task_instance, "success"), wait=True)

    @hookimpl
    def on_task_instance_failed(self, previous_state: Any, task_instance: Any, error: Any) -> None:
        if _enabled():
            self._send(self._task_event(task_instance, "failed", error), wait=True)

    @hookimpl
    def on_task_instance_skipped(self, previous_state: Any, task_instance: Any) -> None:
        if _enabled():
            self._send(self._task_event(task_instance, "skipped"), wait=True)


def _flush_timeout() -> float:
    try:
        return float(os.environ.get("VIGIL_AIRFLOW_FLUSH_TIMEOUT", "2"))
    except ValueError:
        return 2.0


listener = VigilListener()


class VigilAirflowPlugin(AirflowPlugin):
    """Registers :data:`listener` with Airflow (entry point ``airflow.plugins``: ``vigil``)."""

    name = "vigil"
    listeners = [listener]
