"""Known-bad ``document_store``: one S3 copy per document, so identical bodies are not shared.

Bodies go to ``documents/<owner>/<name>`` instead of ``sha256/<hex digest>``.
"""

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
        super().__init__(**settings, content_keys=False)
