"""What botocore and moto work out again for every client or request, worked out once a process.

Three results are pure functions of their inputs, yet each new client or request starts
without them, and a tutorial run makes hundreds of clients (a learner's tests typically make
three a test, in each of ten runs):

- **Event aliases.** botocore renames each event a client emits or registers through a
  table of aliases, and remembers the renaming in a dictionary of the client's own, so a new
  client works out every name again. Here every aliaser with the same table reads and fills
  one dictionary.
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
import os
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

_MARK = "_pytest_tutorial_memos"
"""The attribute set on each patched class, holding what its instances share."""
MOST_RULE_SETS = 64
"""Shared endpoint providers kept before all are dropped (and built again as clients ask).
botocore's loaders share their parsed rule sets (:mod:`pytest_tutorial.aws_models`), so a
process has one per service it uses; the bound keeps a process that parses them again from
growing."""
_PROVIDER_DATA = ("ruleset_data", "partition_data")
S3_ENDPOINTS_VARIABLE = "MOTO_S3_CUSTOM_ENDPOINTS"
"""The setting moto's S3 URL table is made from (``moto.settings.get_s3_custom_endpoints``)."""


class SharedProvider(NamedTuple):
    """One shared ``EndpointProvider`` and what it was built from."""

    ruleset: Any
    partitions: Any
    others: dict[str, Any]
    """The other keywords of its construction (``excluded_params`` in newer botocore)."""
    provider: Any


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
    """Make botocore's clients of one endpoint rule set share one ``EndpointProvider``.

    botocore builds a provider with keywords only: the rule set's and the partitions' data
    (shared by every loader of the process, :mod:`pytest_tutorial.aws_models`), and in newer
    releases the parameters a service leaves out (``excluded_params``). Providers are shared
    by the identity of the data and the value of every other keyword; a construction with
    anything else (positional arguments, a value that cannot be hashed) builds its own.
    """
    from botocore import regions
    from botocore.endpoint_provider import EndpointProvider

    built = regions.EndpointProvider
    if hasattr(built, _MARK) or built is not EndpointProvider:
        return  # done already, or another botocore (or another patch) builds them
    providers: dict[tuple[Any, ...], SharedProvider] = {}
    lock = threading.Lock()

    def shared(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        ruleset, partitions = kwargs.get("ruleset_data"), kwargs.get("partition_data")
        others = {k: v for k, v in kwargs.items() if k not in _PROVIDER_DATA}
        key: tuple[Any, ...] = (id(ruleset), id(partitions), *_comparable(others))
        try:
            hash(key)
        except TypeError:
            key = ()
        if args or ruleset is None or partitions is None or not key:
            return EndpointProvider(*args, **kwargs)
        with lock:
            known = providers.get(key)
            # The data is kept with its provider, so an id is never another object's.
            if known is not None and known.ruleset is ruleset and known.partitions is partitions:
                return known.provider
        provider = EndpointProvider(**kwargs)
        with lock:
            if len(providers) >= MOST_RULE_SETS:
                providers.clear()
            providers[key] = SharedProvider(ruleset, partitions, others, provider)
        return provider

    class SharedEndpointProvider(EndpointProvider):  # type: ignore[misc]
        """An ``EndpointProvider`` whose construction hands out the rule set's shared one."""

        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            # An EndpointProvider, not one of this class: Python calls no __init__ on it.
            return shared(args, kwargs)

    setattr(SharedEndpointProvider, _MARK, providers)
    regions.EndpointProvider = SharedEndpointProvider


def _comparable(keywords: dict[str, Any]) -> list[tuple[str, Any]]:
    """Keywords as a key: sets (botocore passes one as ``excluded_params``) as frozensets."""
    return [
        (name, frozenset(value) if isinstance(value, set) else value)
        for name, value in sorted(keywords.items())
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
    """Share all three results, where botocore and moto are the versions this module knows."""
    share_event_aliases()
    share_endpoint_providers()
    load_s3_urls_once()


remember_per_process()
