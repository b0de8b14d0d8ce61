"""Vigil's Python client: events and check-ins from scripts, dbt and Airflow, standard library only.

    import vigil
    vigil.emit("backup.done", resource={"id": "cron.backup", "env": "prod"}, payload={"bytes": 1234})
    with vigil.monitor("nightly-backup"):
        run_backup()

The module-level functions use one shared :class:`Client`, configured from ``VIGIL_URL``
(default ``http://127.0.0.1:7700``) and ``VIGIL_API_KEY`` when first used, or by
:func:`configure`. Nothing here raises into the caller because Vigil is slow or down.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Mapping, Optional, Sequence, Union
import datetime

from ._client import Client, DeliveryError, Resource
from ._ids import derived_event_id, new_event_id
from ._monitor import monitor

__all__ = [
    "Client",
    "DeliveryError",
    "configure",
    "derived_event_id",
    "emit",
    "flush",
    "monitor",
    "new_event_id",
]
__version__ = "0.1.0"

_lock = threading.Lock()
_client: Optional[Client] = None


def configure(url: Optional[str] = None, api_key: Optional[str] = None, **options: Any) -> Client:
    """Replace the shared client (the old one is flushed and closed); returns the new one."""
    global _client
    new = Client(url, api_key, **options)
    with _lock:
        old, _client = _client, new
    if old is not None:
        old.close(old.exit_timeout)
    return new


def _default_client() -> Client:
    global _client
    with _lock:
        if _client is None:
            _client = Client()
        return _client


def emit(
    event: str,
    resource: Resource,
    *,
    payload: Optional[Mapping[str, Any]] = None,
    related: Optional[Sequence[Mapping[str, Any]]] = None,
    occurred: Union[str, datetime.datetime, None] = None,
    id: Optional[str] = None,  # noqa: A002
    follows: Optional[str] = None,
) -> bool:
    """Buffer one event on the shared client; see :meth:`Client.emit`."""
    try:
        client = _default_client()
    except ValueError as error:
        import logging

        logging.getLogger("vigil").warning("vigil: not configured: %s", error)
        return False
    return client.emit(event, resource, payload=payload, related=related, occurred=occurred, id=id, follows=follows)


def flush(timeout: Optional[float] = None) -> bool:
    """Wait until the shared client's buffer is delivered or dropped (``False`` on timeout)."""
    with _lock:
        client = _client
    return True if client is None else client.flush(timeout)


def stats() -> Dict[str, int]:
    """The shared client's counters (see :meth:`Client.stats`)."""
    return _default_client().stats()
