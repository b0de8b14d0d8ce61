"""Event ids: time-ordered UUIDs for new events, name-based UUIDs for events that have an identity."""

from __future__ import annotations

import os
import time
import uuid

# The namespace of the ids the integrations derive from a tool's own identity of an event
# (Airflow's dag/run/task/try/state, dbt's invocation and node), so a resend dedupes in Vigil.
_INTEGRATION_NAMESPACE = uuid.UUID("6f1c8e52-3a7d-4b0e-9c21-5d8f4e7a9b30")


def new_event_id() -> str:
    """A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits."""
    millis = time.time_ns() // 1_000_000
    value = bytearray(millis.to_bytes(6, "big") + os.urandom(10))
    value[6] = 0x70 | (value[6] & 0x0F)
    value[8] = 0x80 | (value[8] & 0x3F)
    return str(uuid.UUID(bytes=bytes(value)))


def derived_event_id(source: str, *identity: object) -> str:
    """A UUID version 5 of a tool's identity of an event: the same event always gets the same id."""
    return str(uuid.uuid5(_INTEGRATION_NAMESPACE, "\n".join([source, *(str(part) for part in identity)])))
