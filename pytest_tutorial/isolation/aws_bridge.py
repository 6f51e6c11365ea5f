"""The check's AWS clients, served to the worker one API call at a time.

When a recorded client of the ``aws`` fixture crosses to a worker, the worker gets a real
botocore client of the same service, region and settings whose every API call
(``_make_api_call``, which paginators and waiters use too) is forwarded to the trusted side,
where the check's own client makes it: against moto in the trusted process, recorded, with
the faults the check injected. Only the operation's name and parameters cross, and the
parsed response comes back as plain values (a streaming body as its bytes, wrapped again
in the worker). The worker has no network and no moto: the learner's code can reach AWS
only through these clients, and cannot hide or fake a call. An error comes back as the
client's own exception class (``client.exceptions.NoSuchKey``), built by the worker's client.
Presigned URLs are computed by the worker's client as botocore would, for the same region.

The same check-side client crossing again (a property crosses the check's clients once per
example) is the same worker client, as it is the same object in one process: its callback
keeps its id, and the worker keeps the client it made for that callback (:data:`KEPT_CLIENTS`).
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Callable
from typing import Any

from pytest_tutorial.isolation.codec import tagged


def is_aws_client(value: object) -> bool:
    """Whether ``value`` is a botocore client (without importing botocore when it is not)."""
    meta = getattr(type(value), "meta", None) or getattr(value, "meta", None)
    return hasattr(value, "_make_api_call") and hasattr(meta, "service_model")


KEPT_CLIENTS = 16
"""Clients each side keeps for a client crossing again (a check crosses a handful)."""


class AwsBridge:
    """Turns the fixture's clients into ``$aws`` references backed by a callback."""

    def __init__(self, register_callback: Any) -> None:
        self.register_callback = register_callback
        self._api_call = functools.lru_cache(maxsize=KEPT_CLIENTS)(_api_call)
        """The same callback for a client each time it crosses (a client is its own key)."""

    def adapt(self, value: object) -> dict[str, object] | None:
        """The ``$aws`` reference of a botocore client, or None for anything else."""
        if not is_aws_client(value):
            return None
        client: Any = value
        config = client.meta.config
        return tagged(
            "aws",
            {
                "service": client.meta.service_model.service_name,
                "region": client.meta.region_name,
                "signature_version": getattr(config, "signature_version", None),
                "call": self.register_callback(self._api_call(client)),
            },
        )


def _api_call(client: Any) -> Callable[[str, dict[str, Any]], Any]:
    """The callback making ``client``'s API calls."""

    def api_call(operation: str, params: dict[str, Any]) -> Any:
        """Make one API call with the check's client; streaming bodies as bytes."""
        return _plain_response(client._make_api_call(operation, params))

    api_call.__name__ = f"{client.meta.service_model.service_name}_api_call"
    return api_call


def _plain_response(response: Any) -> Any:
    """A parsed response with every streaming body read into bytes."""
    if not isinstance(response, dict):
        return response
    plain = {}
    for key, value in response.items():
        reader = getattr(value, "read", None)
        plain[key] = reader() if callable(reader) else value
    return plain


_session: Any = None
_session_lock = threading.Lock()


def worker_client(payload: dict[str, Any], callback: Any) -> Any:
    """In the worker: a botocore client whose API calls run ``callback`` on the trusted side.

    The client made for the same callback (the same check-side client) before is given
    again. A new one comes from the worker's one boto3 session, whose loader keeps the
    service models it read: 2.5 to 5.5 ms a client, not the 85 ms of a session's first.
    """
    return _client(
        str(payload.get("service")),
        str(payload.get("region") or "us-east-1"),
        payload.get("signature_version") or None,
        callback,
    )


@functools.lru_cache(maxsize=KEPT_CLIENTS)
def _client(service: str, region: str, signature_version: str | None, callback: Any) -> Any:
    """A worker client of :func:`worker_client`, kept for the callback it forwards to."""
    global _session
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    from botocore.response import StreamingBody

    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        signature_version=signature_version,
    )
    with _session_lock:  # a session is not safe to share between threads
        if _session is None:
            _session = boto3.session.Session()
        client: Any = _session.client(
            service,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
            config=config,
        )
    service_model = client.meta.service_model

    def forwarded(operation: str, params: dict[str, Any]) -> Any:
        sent = {key: _readable(value) for key, value in params.items()}
        try:
            response = callback(operation, sent)
        except Exception as error:
            raise _client_error(client, error, operation, ClientError) from None
        output = service_model.operation_model(operation).output_shape
        members = output.members if output is not None else {}
        if isinstance(response, dict):
            for key, value in list(response.items()):
                shape = members.get(key)
                if isinstance(value, bytes) and shape is not None and _streaming(shape):
                    response[key] = StreamingBody(io.BytesIO(value), len(value))
        return response

    client._make_api_call = forwarded
    return client


def _readable(value: Any) -> Any:
    """A parameter as the trusted side can take it: a file-like body as its bytes."""
    reader = getattr(value, "read", None)
    return reader() if callable(reader) and not isinstance(value, bytes | str) else value


def _streaming(shape: Any) -> bool:
    return bool(shape.serialization.get("streaming") or getattr(shape, "type_name", "") == "blob")


def _client_error(client: Any, error: Exception, operation: str, client_error: type) -> Exception:
    """The exception botocore would raise for the error the trusted side's call raised."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict) or not isinstance(response.get("Error"), dict):
        return error
    code = str(response["Error"].get("Code", ""))
    kind = client.exceptions.from_code(code) if code else client_error
    made: Exception = (kind if isinstance(kind, type) else client_error)(response, operation)
    return made
