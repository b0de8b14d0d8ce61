"""Sustained events/s of the Python client to a running Vigil (bench/integrations/python-client.bench.ts).

Emits EVENTS events from one thread as fast as emit() returns, with the default batching, and
waits for the last delivery. Prints one JSON line of figures.
"""

import json
import os
import sys
import time

import vigil

events = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
client = vigil.Client(os.environ["VIGIL_URL"], os.environ["VIGIL_API_KEY"], max_buffer=events + 1)
started = time.perf_counter()
for index in range(events):
    client.emit("bench.python.event", {"id": "bench.python", "env": "bench"}, payload={"n": index})
emitted = time.perf_counter()
delivered = client.flush(300)
finished = time.perf_counter()
stats = client.stats()
print(json.dumps({
    "events": events,
    "delivered": stats["delivered"],
    "requests": stats["requests"],
    "retries": stats["retries"],
    "flushed": delivered,
    "emit_us_per_event": (emitted - started) / events * 1e6,
    "events_per_s": stats["delivered"] / (finished - started),
}))
