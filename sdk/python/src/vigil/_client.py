"""The batching, retrying, never-raising event client."""

from __future__ import annotations

import atexit
import collections
import datetime
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Sequence, Union

from ._ids import new_event_id

__all__ = ["Client", "DeliveryError", "Resource"]

logger = logging.getLogger("vigil")

VERSION = "0.1.0"
DEFAULT_URL = "http://127.0.0.1:7700"
MAX_EVENT_BYTES = 256 * 1024
MAX_REQUEST_BYTES = 10 * 1024 * 1024 - 64 * 1024
MAX_RETRY_AFTER_S = 300.0

Resource = Union[str, Mapping[str, Any]]


class DeliveryError:
    """Events the client could not deliver, and why.

    ``reason`` is one of ``invalid`` (the event breaks Vigil's rules and was never sent),
    ``overflow`` (the buffer was full), ``rejected`` (Vigil answered a 4xx other than 429),
    ``retries_exhausted`` (429/5xx/network errors outlasted ``max_retries``), ``closed`` (still
    buffered when ``close()`` or the exit flush ran out of time) and ``not_configured`` (no API
    key).
    """

    __slots__ = ("reason", "message", "events", "status")

    def __init__(self, reason: str, message: str, events: Sequence[Mapping[str, Any]], status: Optional[int] = None) -> None:
        self.reason = reason
        self.message = message
        self.events = list(events)
        self.status = status

    def __repr__(self) -> str:
        return f"DeliveryError(reason={self.reason!r}, events={len(self.events)}, message={self.message!r})"


class _Retry(Exception):
    def __init__(self, message: str, retry_after: Optional[float] = None, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class _Rejected(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _Buffered:
    __slots__ = ("event", "body", "queued_at")

    def __init__(self, event: Dict[str, Any], body: bytes) -> None:
        self.event = event
        self.body = body
        self.queued_at = time.monotonic()


class _ErrorLog:
    """The default error report: a warning on the ``vigil`` logger, then a summary at most every 10 s."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: Dict[str, int] = {}
        self._suppressed: Dict[str, int] = {}
        self._last_summary = 0.0

    def __call__(self, error: DeliveryError) -> None:
        with self._lock:
            first = error.reason not in self._seen
            self._seen[error.reason] = self._seen.get(error.reason, 0) + len(error.events)
            if not first:
                self._suppressed[error.reason] = self._suppressed.get(error.reason, 0) + len(error.events)
                now = time.monotonic()
                if now - self._last_summary < 10.0:
                    return
                self._last_summary = now
                summary = ", ".join(f"{count} {reason}" for reason, count in sorted(self._suppressed.items()))
                self._suppressed.clear()
                logger.warning("vigil: events not delivered since the last report: %s (last: %s)", summary, error.message)
                return
            self._last_summary = time.monotonic()
        logger.warning("vigil: %d event(s) not delivered (%s): %s", len(error.events), error.reason, error.message)


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        logger.warning("vigil: ignoring %s=%r (not a number)", name, raw)
        return default


def _iso(value: Union[str, datetime.datetime, None]) -> str:
    if value is None:
        return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.isoformat()
    return str(value)


def _labels(value: Any, where: str) -> Dict[str, str]:
    if isinstance(value, str):
        return {"id": value}
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a string id or a mapping of labels")
    labels: Dict[str, str] = {}
    for key, label in value.items():
        if not isinstance(key, str):
            raise ValueError(f"{where} label names must be strings")
        if label is None:
            continue
        if isinstance(label, bool):
            labels[key] = "true" if label else "false"
        elif isinstance(label, (str, int, float)):
            labels[key] = str(label)
        else:
            raise ValueError(f"{where}.{key} must be a string, number or boolean")
    if not labels.get("id"):
        raise ValueError(f"{where}.id is required")
    return labels


class Client:
    """Sends events to Vigil's ``POST /api/events`` from a background thread.

    ``emit()`` never blocks on the network and never raises: it validates the event, fixes its
    ``id`` and ``occurred``, and buffers it. A daemon thread sends the buffer in batches (at once
    when ``batch_size`` events wait, else after ``flush_interval`` seconds); 429, 5xx and network
    errors are retried with exponential backoff and full jitter, honouring ``Retry-After``, with
    the same event ids (Vigil deduplicates them); other 4xx answers drop the batch. What cannot
    be delivered goes to ``on_error`` (by default a warning on the ``vigil`` logger). Buffered
    events are flushed at interpreter exit for up to ``exit_timeout`` seconds.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        batch_size: int = 500,
        flush_interval: float = 0.2,
        max_buffer: int = 10_000,
        max_retries: int = 10,
        initial_backoff: float = 0.2,
        max_backoff: float = 30.0,
        timeout: float = 10.0,
        exit_timeout: Optional[float] = None,
        on_error: Optional[Callable[[DeliveryError], None]] = None,
    ) -> None:
        base = (url or os.environ.get("VIGIL_URL") or DEFAULT_URL).rstrip("/")
        parsed = urllib.parse.urlsplit(base)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"url must be an http(s) URL, got {base!r}")
        if not 1 <= batch_size <= 10_000:
            raise ValueError("batch_size must be between 1 and 10000")
        if max_buffer < 1 or max_retries < 0 or initial_backoff < 0 or max_backoff < 0 or timeout <= 0 or flush_interval < 0:
            raise ValueError("max_buffer, max_retries, backoffs, timeout and flush_interval must be positive")
        self.url = base
        self.api_key = api_key if api_key is not None else os.environ.get("VIGIL_API_KEY", "")
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_buffer = max_buffer
        self.max_retries = max_retries
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.exit_timeout = exit_timeout if exit_timeout is not None else _env_float("VIGIL_EXIT_TIMEOUT", 5.0)
        self.on_error = on_error or _ErrorLog()
        self._counters = {"emitted": 0, "delivered": 0, "failed": 0, "retries": 0, "requests": 0}
        self._reset_state()
        _live_clients.add(self)

    # -- state that a fork must not share -------------------------------------------------------
    def _reset_state(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._buffer: Deque[_Buffered] = collections.deque()
        self._in_flight = 0
        self._in_flight_batch: List[_Buffered] = []
        self._flush_requested = False
        self._closed = False
        self._thread: Optional[threading.Thread] = None

    def _after_fork(self) -> None:
        # The parent's buffer and thread stay with the parent; the child starts empty.
        self._reset_state()

    # -- public API -----------------------------------------------------------------------------
    def emit(
        self,
        event: str,
        resource: Resource,
        *,
        payload: Optional[Mapping[str, Any]] = None,
        related: Optional[Sequence[Mapping[str, Any]]] = None,
        occurred: Union[str, datetime.datetime, None] = None,
        id: Optional[str] = None,  # noqa: A002 - the event's field name
        follows: Optional[str] = None,
    ) -> bool:
        """Buffer one event; ``False`` (and a report to ``on_error``) when it cannot be sent."""
        try:
            built: Dict[str, Any] = {
                "id": id or new_event_id(),
                "event": event,
                "occurred": _iso(occurred),
                "resource": _labels(resource, "resource"),
            }
            if not isinstance(event, str) or not event or len(event) > 256:
                raise ValueError("event must be a name of 1 to 256 characters")
            if related:
                built["related"] = [_labels(item, f"related[{index}]") for index, item in enumerate(related)]
                for index, item in enumerate(built["related"]):
                    if not item.get("role"):
                        raise ValueError(f"related[{index}].role is required")
            if payload is not None:
                if not isinstance(payload, Mapping):
                    raise ValueError("payload must be a mapping")
                built["payload"] = dict(payload)
            if follows:
                built["follows"] = follows
            body = json.dumps(built, separators=(",", ":"), default=str, allow_nan=False).encode("utf-8")
            if len(body) > MAX_EVENT_BYTES:
                raise ValueError(f"the event is {len(body)} bytes as JSON; at most {MAX_EVENT_BYTES} are allowed")
        except (ValueError, TypeError) as error:
            self._report("invalid", str(error), [{"event": event, "resource": resource}])
            return False
        return self._enqueue(built, body)

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until every buffered event is delivered or dropped; ``False`` if ``timeout`` ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._wake:
            if self._pid != os.getpid():
                return True
            self._flush_requested = True
            self._wake.notify_all()
            try:
                while self._buffer or self._in_flight:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._wake.wait(remaining if remaining is not None else 1.0)
                return True
            finally:
                self._flush_requested = False

    def close(self, timeout: Optional[float] = None) -> bool:
        """Flush for up to ``timeout`` seconds, then report what is left as ``closed`` and stop."""
        drained = self.flush(timeout)
        with self._wake:
            left = [item.event for item in self._in_flight_batch] + [item.event for item in self._buffer]
            self._buffer.clear()
            self._closed = True
            self._wake.notify_all()
        if left:
            self._report("closed", f"Vigil at {self.url} had not confirmed them when the client was closed", left)
        return drained

    def stats(self) -> Dict[str, int]:
        """Counters: emitted, delivered, failed, retries, requests, and buffered (waiting or in flight)."""
        with self._lock:
            return {**self._counters, "buffered": len(self._buffer) + self._in_flight}

    # -- internals ------------------------------------------------------------------------------
    def _enqueue(self, event: Dict[str, Any], body: bytes) -> bool:
        with self._wake:
            if self._pid != os.getpid():
                self._after_fork()
            if self._closed:
                refused = "closed"
            elif not self.api_key:
                refused = "not_configured"
            elif len(self._buffer) + self._in_flight >= self.max_buffer:
                refused = "overflow"
            else:
                refused = ""
                self._counters["emitted"] += 1
                self._buffer.append(_Buffered(event, body))
                self._ensure_thread()
                self._wake.notify_all()
        if refused:
            messages = {
                "closed": "the client is closed",
                "not_configured": "no API key (set VIGIL_API_KEY or pass api_key)",
                "overflow": f"{self.max_buffer} events are already buffered",
            }
            self._report(refused, messages[refused], [event])
            return False
        return True

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="vigil-sender", daemon=True)
            self._thread.start()

    def _report(self, reason: str, message: str, events: Sequence[Mapping[str, Any]], status: Optional[int] = None) -> None:
        with self._lock:
            self._counters["failed"] += len(events)
        try:
            self.on_error(DeliveryError(reason, message, events, status))
        except Exception:  # noqa: BLE001 - a callback must not stop delivery
            logger.debug("vigil: on_error raised", exc_info=True)

    def _take_batch(self) -> Optional[List[_Buffered]]:
        """Waits (holding no lock while sleeping) until a batch is due; None when closed and empty."""
        with self._wake:
            while True:
                if self._pid != os.getpid():
                    return None
                if self._buffer:
                    age = time.monotonic() - self._buffer[0].queued_at
                    if self._flush_requested or self._closed or len(self._buffer) >= self.batch_size or age >= self.flush_interval:
                        break
                    self._wake.wait(self.flush_interval - age)
                    continue
                if self._closed:
                    return None
                self._wake.wait(5.0)
            batch: List[_Buffered] = []
            size = 2
            while self._buffer and len(batch) < self.batch_size:
                nxt = len(self._buffer[0].body) + 1
                if batch and size + nxt > MAX_REQUEST_BYTES:
                    break
                batch.append(self._buffer.popleft())
                size += nxt
            self._in_flight = len(batch)
            self._in_flight_batch = batch
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            try:
                self._deliver(batch)
            except Exception as error:  # noqa: BLE001 - the sender thread must survive anything
                self._report("rejected", f"unexpected error: {error!r}", [item.event for item in batch])
            with self._wake:
                self._in_flight = 0
                self._in_flight_batch = []
                self._wake.notify_all()

    def _deliver(self, batch: List[_Buffered]) -> None:
        body = b"[" + b",".join(item.body for item in batch) + b"]"
        events = [item.event for item in batch]
        attempt = 0
        while True:
            try:
                self._post(body)
                with self._lock:
                    self._counters["delivered"] += len(batch)
                return
            except _Rejected as error:
                self._report("rejected", str(error), events, error.status)
                return
            except _Retry as error:
                if self._give_up():
                    return  # close() reported them
                if attempt >= self.max_retries:
                    self._report("retries_exhausted", f"after {attempt + 1} attempts: {error}", events, error.status)
                    return
                delay = random.uniform(0.0, min(self.max_backoff, self.initial_backoff * (2**attempt)))
                if error.retry_after is not None:
                    delay = max(delay, min(error.retry_after, MAX_RETRY_AFTER_S))
                attempt += 1
                until = time.monotonic() + delay
                with self._wake:
                    self._counters["retries"] += 1
                    # New events and flush() wake the condition too: the backoff still holds.
                    while not self._closed and until > time.monotonic():
                        self._wake.wait(until - time.monotonic())

    def _give_up(self) -> bool:
        with self._lock:
            return self._closed

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(
            f"{self.url}/api/events",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.api_key}",
                "User-Agent": f"vigil-python/{VERSION}",
            },
        )
        with self._lock:
            self._counters["requests"] += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - the configured URL
                response.read()
                if response.status == 202 or 200 <= response.status < 300:
                    return
                raise _Retry(f"unexpected answer {response.status}", status=response.status)
        except urllib.error.HTTPError as error:
            detail = _server_message(error)
            if error.code == 429 or error.code >= 500:
                raise _Retry(f"{error.code} {detail}", _retry_after(error.headers.get("Retry-After")), error.code) from None
            raise _Rejected(f"{error.code} {detail}", error.code) from None
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            raise _Retry(f"no answer from {self.url}: {getattr(error, 'reason', error)}") from None


def _server_message(error: urllib.error.HTTPError) -> str:
    try:
        text = error.read().decode("utf-8", "replace")
    except Exception:  # noqa: BLE001
        return error.reason or ""
    try:
        parsed = json.loads(text)
    except ValueError:
        return text[:500]
    if isinstance(parsed, dict):
        message = parsed.get("message") or parsed.get("error") or text
        problems = parsed.get("errors")
        if isinstance(problems, list) and problems:
            message = f"{message}: " + "; ".join(
                f"{p.get('path', '')} {p.get('message', '')}".strip() for p in problems[:5] if isinstance(p, dict)
            )
        return str(message)[:1000]
    return text[:500]


def _retry_after(value: Optional[str]) -> Optional[float]:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


_live_clients: "weakref.WeakSet[Client]" = weakref.WeakSet()


def _flush_all_at_exit() -> None:
    for client in list(_live_clients):
        if client._pid == os.getpid() and not client._closed:
            client.close(client.exit_timeout)


def _reset_after_fork() -> None:
    for client in list(_live_clients):
        client._after_fork()


atexit.register(_flush_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
