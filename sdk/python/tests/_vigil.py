"""The real Vigil the tests talk to (started by test/integrations/python-sdk.test.ts): VIGIL_TEST_URL, VIGIL_TEST_API_KEY."""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import urllib.request
import uuid
from typing import Any, Dict, List

URL = os.environ.get("VIGIL_TEST_URL", "")
API_KEY = os.environ.get("VIGIL_TEST_API_KEY", "")


def require_vigil() -> None:
    if not URL or not API_KEY:
        raise RuntimeError("set VIGIL_TEST_URL and VIGIL_TEST_API_KEY to a running Vigil (test/integrations/python-sdk.test.ts does)")


def unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:12]}"


def stored(resource_id: str, expected: int, timeout: float = 15.0) -> List[Dict[str, Any]]:
    """The events on a resource in Vigil's history, once there are at least ``expected`` (oldest first)."""
    deadline = time.monotonic() + timeout
    while True:
        events: List[Dict[str, Any]] = []
        cursor = ""
        while True:
            query = {"resource": resource_id, "limit": "1000", **({"cursor": cursor} if cursor else {})}
            request = urllib.request.Request(f"{URL}/api/events?{urllib.parse.urlencode(query)}", headers={"Authorization": f"Bearer {API_KEY}"})
            with urllib.request.urlopen(request, timeout=10) as response:
                page = json.load(response)
            events.extend(page["events"])
            cursor = page.get("next") or ""
            if not cursor:
                break
        if len(events) >= expected or time.monotonic() > deadline:
            return sorted(events, key=lambda event: (event["occurred"], event["id"]))
        time.sleep(0.1)
