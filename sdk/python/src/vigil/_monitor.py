"""Check-ins: ``monitor(name)`` reports a job's start, success (with its duration) and failure."""

from __future__ import annotations

import functools
import logging
import inspect
import time
from types import TracebackType
from typing import Any, Callable, Dict, Mapping, Optional, Type, TypeVar, cast

from ._ids import new_event_id

F = TypeVar("F", bound=Callable[..., Any])


class monitor:  # noqa: N801 - used like a function: ``with vigil.monitor("job"):``
    """Reports a job to Vigil as ``check_in.started``, then ``check_in.succeeded`` or ``check_in.failed``.

    The events are on resource ``{"id": name, **labels}``; both finishing events carry
    ``duration_s`` and the ``check_in`` id of the start, and a failure the exception's
    ``error_type`` and ``error_message``. The exception itself is never swallowed, and Vigil
    being unreachable never breaks the job (the events are buffered and retried in the
    background, see :class:`vigil.Client`).

    As a context manager::

        with vigil.monitor("nightly-backup"):
            run_backup()

    or as a decorator (each call is one check-in; coroutine functions are supported)::

        @vigil.monitor("nightly-backup", labels={"env": "prod"})
        def main() -> None: ...
    """

    def __init__(
        self,
        name: str,
        *,
        labels: Optional[Mapping[str, Any]] = None,
        payload: Optional[Mapping[str, Any]] = None,
        client: Optional[Any] = None,
    ) -> None:
        self.name = name
        self.labels: Dict[str, Any] = dict(labels or {})
        self.payload: Dict[str, Any] = dict(payload or {})
        self._client = client
        self._check_in = ""
        self._started = 0.0

    def _emit(self, event: str, payload: Dict[str, Any]) -> None:
        from . import emit

        try:
            send = self._client.emit if self._client is not None else emit
            send(event, {**self.labels, "id": self.name}, payload={**self.payload, **payload})
        except Exception:  # noqa: BLE001 - a check-in must never break the job it reports
            logging.getLogger("vigil").warning("vigil: could not report %s for %s", event, self.name, exc_info=True)

    def __enter__(self) -> "monitor":
        self._check_in = new_event_id()
        self._started = time.monotonic()
        self._emit("check_in.started", {"check_in": self._check_in})
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool:
        duration = round(time.monotonic() - self._started, 3)
        ok = exc is None or (isinstance(exc, SystemExit) and exc.code in (None, 0))
        if ok:
            self._emit("check_in.succeeded", {"check_in": self._check_in, "duration_s": duration})
        else:
            assert exc_type is not None
            self._emit(
                "check_in.failed",
                {
                    "check_in": self._check_in,
                    "duration_s": duration,
                    "error_type": exc_type.__qualname__,
                    "error_message": str(exc)[:2000],
                },
            )
        return False

    async def __aenter__(self) -> "monitor":
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool:
        return self.__exit__(exc_type, exc, tb)

    def _fresh(self) -> "monitor":
        return monitor(self.name, labels=self.labels, payload=self.payload, client=self._client)

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                async with self._fresh():
                    return await func(*args, **kwargs)

            return cast(F, run_async)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return func(*args, **kwargs)

        return cast(F, run)
