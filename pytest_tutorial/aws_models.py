"""botocore's data files parsed once per process, whatever the number of sessions.

Each botocore session has a loader of its own, and a loader keeps what it read only for
itself: every new session (``boto3.session.Session()``, or ``boto3.client()`` after
``mock_aws`` cleared boto3's default one) reads and parses the service models, endpoints
and partitions again, about 0.1 s for S3, DynamoDB and SQS. A learner's tests build a
session in every run; :func:`share_parsed_models` makes every loader of the process read
through one cache, so a run forked from the warm server (which imports this module before
its first AWS call) finds the three models already parsed.

The cache is keyed by what decides a file's content: the loader's class (moto's loader
merges its own extras), its search paths and its extras types, and the method and its
arguments. botocore never changes the data it loaded (a session shares it between its
clients already), so sharing it between sessions changes nothing but the time. In a fork
the cache is the parent's copy: a run can add to it, never reach another run's.

The mark that the loader is shared lives on botocore's ``Loader`` class, not in this
module: a process that imports this module again (a tutorial run made in-process by
pytester, whose module table is put back after each run) then keeps the one cache and the
one wrapper, where a second wrapper would keep the first module and its parsed models
alive, each run adding a copy that every garbage collection walks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_shared: dict[tuple[Any, ...], Any] = {}
_SHARED_MARK = "_pytest_tutorial_shared_cache"
"""The attribute set on ``Loader`` once its instances read through a shared cache."""


class _SharedCache:
    """A loader's ``_cache`` (what botocore's ``instance_cache`` reads and fills).

    A view of the process-wide cache under the loader's own key.
    """

    __slots__ = ("_loader",)

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def _prefix(self) -> tuple[Any, ...]:
        loader = self._loader
        return (
            type(loader),
            type(loader.file_loader),
            tuple(loader.search_paths),
            tuple(loader.extras_types),
        )

    def __contains__(self, key: tuple[Any, ...]) -> bool:
        return (self._prefix(), key) in _shared

    def __getitem__(self, key: tuple[Any, ...]) -> Any:
        return _shared[(self._prefix(), key)]

    def __setitem__(self, key: tuple[Any, ...], value: Any) -> None:
        _shared[(self._prefix(), key)] = value


def share_parsed_models() -> None:
    """Make every botocore loader created from now on read through the process-wide cache."""
    from botocore.loaders import Loader

    if getattr(Loader, _SHARED_MARK, False):
        return
    original: Callable[..., None] = Loader.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._cache = _SharedCache(self)

    Loader.__init__ = __init__
    setattr(Loader, _SHARED_MARK, True)


share_parsed_models()
