"""Known-bad ``document_store``: sends an event on every put, also one that changed nothing."""

from __future__ import annotations

from typing import Any

from pytest_tutorial.tutorials.object_store.known_bad import (
    DocumentConflict,
    DocumentNotFound,
    NaiveDocumentStore,
)

__all__ = ["DocumentConflict", "DocumentNotFound", "DocumentStore"]


class DocumentStore(NaiveDocumentStore):
    """A document store with one classic bug (see the module docstring)."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings, event_every_put=True)
