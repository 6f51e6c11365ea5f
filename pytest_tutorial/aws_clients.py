"""The learner's AWS clients of a run: one per service, kept from check to check.

A botocore client takes about 5 ms to make (it copies the session's event hooks and builds
its class): object_store's checks made about a hundred, half a second of a run. Each check
now gets the run's client of each service, whose calls the check's own account records
(:attr:`LearnerClients.account`), for as long as nothing but botocore touched the client:
one on which code registered or removed an event handler, or set an attribute, is dropped
when its check ends, and the next check gets a new one, as every check did before. In worker
mode the learner's code never holds these clients (it holds the worker's, which forward
each call here), so the run keeps them to its end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

REGISTRATIONS = ("register", "register_first", "register_last", "unregister")
"""The event methods through which code changes what a client does (botocore's own
handlers are in place once the client is made)."""


class Account(Protocol):
    """What records a learner client's calls: the running check's account."""

    def before_call(self, model: Any) -> tuple[Any, dict[str, Any]] | None:
        """Record the call; an injected (response, parsed error) to answer instead, or None."""
        ...


class _Kept:
    """A client and what it looked like when made, to tell whether code changed it since."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.touched = False
        events = client.meta.events
        for name in REGISTRATIONS:
            setattr(events, name, self._noting(getattr(events, name)))
        self.attributes = self._attributes()

    def _noting(self, register: Callable[..., Any]) -> Callable[..., Any]:
        def noted(*args: Any, **kwargs: Any) -> Any:
            self.touched = True
            return register(*args, **kwargs)

        return noted

    def _attributes(self) -> dict[str, int]:
        """The client's own attributes: each name, and the identity of each public value.

        botocore replaces private ones as it fills its caches (``_exceptions``, say).
        """
        return {
            name: 0 if name.startswith("_") else id(value)
            for name, value in vars(self.client).items()
        }

    def untouched(self) -> bool:
        """Whether the client is still as it was made (no handler, no attribute changed)."""
        return not self.touched and self._attributes() == self.attributes


class LearnerClients:
    """The run's learner clients, made by ``make(service)`` on first use."""

    def __init__(self, make: Callable[[str], Any]) -> None:
        self._make = make
        self._kept: dict[str, _Kept] = {}
        self.account: Account | None = None
        """The running check's account; calls made between checks are recorded nowhere."""

    def client(self, service: str) -> Any:
        """The run's client of ``service``, recording into :attr:`account`."""
        kept = self._kept.get(service)
        if kept is None:
            client = self._make(service)
            client.meta.events.register("before-call", self._before_call)
            kept = self._kept[service] = _Kept(client)
        return kept.client

    def check_ended(self) -> None:
        """Forget the clients that code changed; no check records calls until the next."""
        self.account = None
        for service, kept in list(self._kept.items()):
            if not kept.untouched():
                del self._kept[service]

    def _before_call(self, model: Any, **_: Any) -> tuple[Any, dict[str, Any]] | None:
        account = self.account
        return None if account is None else account.before_call(model)
