"""What botocore and moto work out again for every client or request, worked out once a process.

Four results are pure functions of their inputs, yet each new client or request starts
without them, and a tutorial run makes hundreds of clients (a learner's tests typically make
three a test, in each of ten runs):

- **Event aliases.** botocore renames each event a client emits or registers through a
  table of aliases, and remembers the renaming in a dictionary of the client's own, so a new
  client works out every name again. Here every aliaser with the same table reads and fills
  one dictionary.
- **Service models.** Each client wraps its service's parsed description in a
  ``ServiceModel`` of its own, which resolves operations, shapes and error shapes lazily and
  remembers them for that client only. Here the clients of a description share one model
  (botocore never changes a model once built).
- **Endpoint rule sets.** Each client builds an ``EndpointProvider`` from its service's rule
  set (about a millisecond for S3) and remembers its resolutions only for itself. Here the
  clients of a rule set share one provider, and with it the resolutions it remembers
  (botocore already hands out the same resolved endpoint for repeated calls of a client).
- **moto's S3 URL table.** moto reloads ``moto.s3.urls`` twice for every S3 request, since
  the table depends on ``MOTO_S3_CUSTOM_ENDPOINTS``. Here it is reloaded when that variable
  has changed since the last load, and only then.

Nothing a client or a request returns changes, only the time. A fork inherits what its
parent worked out (the runs of a learner's tests find the warm server's) and adds to its
own copy only. Like :mod:`pytest_tutorial.aws_models`, the marks live on the patched
classes, so a second import of this module (pytester puts the module table back after each
in-process run) finds the work done. A botocore or moto whose internals differ from what
this module expects is left as it is.
"""

from __future__ import annotations

import importlib
import inspect
import os
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from pytest_tutorial.aws_models import share_parsed_models

_MARK = "_pytest_tutorial_memos"
"""The attribute set on each patched class, holding what its instances share."""
MOST_SHARED = 64
"""Shared providers or models of one kind kept before all are dropped (and built again as
clients ask). botocore's loaders share what they parsed (:mod:`pytest_tutorial.aws_models`),
so a process has one of each per service it uses; the bound keeps a process that parses
them again from growing."""
S3_ENDPOINTS_VARIABLE = "MOTO_S3_CUSTOM_ENDPOINTS"
"""The setting moto's S3 URL table is made from (``moto.settings.get_s3_custom_endpoints``)."""


class SharedInstance(NamedTuple):
    """One shared instance and what it was built from."""

    data: tuple[Any, ...]
    """The arguments shared by identity (parsed data), kept so their ids stay theirs."""
    others: dict[str, Any]
    """The other arguments, by name (``excluded_params`` of a newer botocore's provider)."""
    instance: Any


def share_event_aliases() -> None:
    """Make every botocore event aliaser with the same alias table share its renamings."""
    from botocore.hooks import EventAliaser

    if hasattr(EventAliaser, _MARK):
        return
    probe = EventAliaser(None)
    if not isinstance(getattr(probe, "_alias_name_cache", None), dict):
        return  # another botocore: its aliaser is left alone
    renamings: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    original: Callable[..., None] = EventAliaser.__init__

    def __init__(self: Any, event_emitter: Any, event_aliases: Any = None) -> None:
        original(self, event_emitter, event_aliases)
        try:
            table = tuple(sorted(self._event_aliases.items()))
        except TypeError:  # a table of another kind keeps its renamings for itself
            return
        self._alias_name_cache = renamings.setdefault(table, {})

    EventAliaser.__init__ = __init__
    setattr(EventAliaser, _MARK, renamings)


def share_endpoint_providers() -> None:
    """Make botocore's clients of one endpoint rule set share one ``EndpointProvider``."""
    from botocore import regions
    from botocore.endpoint_provider import EndpointProvider

    if regions.EndpointProvider is EndpointProvider:  # not done yet, nor built another way
        shared = sharing_subclass(EndpointProvider, ("ruleset_data", "partition_data"))
        regions.EndpointProvider = shared


def share_service_models() -> None:
    """Make botocore's clients of one service description share one ``ServiceModel``."""
    from botocore import client
    from botocore.model import ServiceModel

    if client.ServiceModel is ServiceModel:  # not done yet, nor built another way
        client.ServiceModel = sharing_subclass(ServiceModel, ("service_description",))


def sharing_subclass(cls: type, data: tuple[str, ...]) -> type:
    """A subclass of ``cls`` whose construction hands out one shared instance of ``cls``.

    Instances are shared by the identity of the ``data`` arguments (parsed data, never
    changed once loaded) and the value of every other argument; a construction whose
    arguments do not fit ``cls``, lack a data argument or cannot be hashed builds its own.
    The instances are of ``cls`` itself, so Python calls no ``__init__`` on them again.
    """
    signature = inspect.signature(cls)  # its __init__'s, without self
    instances: dict[tuple[Any, ...], SharedInstance] = {}
    lock = threading.Lock()

    def construct(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            given = dict(signature.bind(*args, **kwargs).arguments)
        except TypeError:
            return cls(*args, **kwargs)  # raises as the class itself would
        shared = tuple(given.pop(name, None) for name in data)
        if any(value is None for value in shared):
            return cls(*args, **kwargs)
        key = (*map(id, shared), *_comparable(given))
        try:
            hash(key)
        except TypeError:
            return cls(*args, **kwargs)
        with lock:
            known = instances.get(key)
            if known is not None and all(a is b for a, b in zip(known.data, shared, strict=True)):
                return known.instance
        instance = cls(*args, **kwargs)
        with lock:
            if len(instances) >= MOST_SHARED:
                instances.clear()
            instances[key] = SharedInstance(shared, given, instance)
        return instance

    def __new__(subclass: type, *args: Any, **kwargs: Any) -> Any:
        return construct(args, kwargs)

    namespace = {"__new__": __new__, "__doc__": f"Hands out shared {cls.__name__} instances."}
    sharing = type(f"Shared{cls.__name__}", (cls,), namespace)
    setattr(sharing, _MARK, instances)
    return sharing


def _comparable(arguments: dict[str, Any]) -> list[tuple[str, Any]]:
    """Arguments as a key: sets (botocore passes one as ``excluded_params``) as frozensets."""
    return [
        (name, frozenset(value) if isinstance(value, set) else value)
        for name, value in sorted(arguments.items())
    ]


def load_s3_urls_once() -> None:
    """Make moto reload its S3 URL table only when its setting changed since the last load."""
    try:
        s3_models = importlib.import_module("moto.s3.models")
        s3_urls = importlib.import_module("moto.s3.urls")
    except ImportError:
        return
    backend = s3_models.S3Backend
    if hasattr(backend, _MARK) or not isinstance(backend.__dict__.get("_url_module"), property):
        return
    loaded = {"setting": os.environ.get(S3_ENDPOINTS_VARIABLE)}
    lock = threading.Lock()

    def _url_module(self: Any) -> Any:
        setting = os.environ.get(S3_ENDPOINTS_VARIABLE)
        if setting != loaded["setting"]:
            with lock:
                if setting != loaded["setting"]:
                    importlib.reload(s3_urls)
                    loaded["setting"] = setting
        return s3_urls

    importlib.reload(s3_urls)  # made from the setting of now, whenever it was imported
    backend._url_module = property(_url_module)
    setattr(backend, _MARK, loaded)


def remember_per_process() -> None:
    """Share all four results, where botocore and moto are the versions this module knows.

    Models and providers are shared by the identity of the parsed data they are built
    from, which :mod:`pytest_tutorial.aws_models` makes one per process.
    """
    share_parsed_models()
    share_event_aliases()
    share_service_models()
    share_endpoint_providers()
    load_s3_urls_once()


remember_per_process()
