"""What an exported autograder grades with, written into the bundle and read at grading.

``pytest-tutorial-export.json`` at the bundle's root (``/autograder/source`` on Gradescope)
holds the tutorial, the options of ``grade`` and how ``results.json`` shows the checks.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SETTINGS_NAME = "pytest-tutorial-export.json"
FORMAT = "pytest-tutorial-gradescope"
VERSION = 1
TUTORIALS_FOLDER = "tutorials"
"""The bundle's folder holding a tutorial the package does not carry."""
WHEELS_FOLDER = "wheels"


class Visibility(enum.Enum):
    """Gradescope's visibility of a test (its autograder specification's four values)."""

    VISIBLE = "visible"
    AFTER_DUE_DATE = "after_due_date"
    AFTER_PUBLISHED = "after_published"
    HIDDEN = "hidden"


class SettingsError(Exception):
    """A settings file that is missing or not one this version understands."""


@dataclass(frozen=True)
class Settings:
    """One exported autograder's grading and display choices."""

    tutorial: str
    package_version: str
    visibility: Visibility = Visibility.VISIBLE
    """Of every check not in ``hidden_items``."""
    hidden_items: tuple[str, ...] = ()
    """Checklist items whose checks are ``hidden`` from students."""
    hide_messages: bool = False
    """Checks not ``visible`` show their status only: no message, hint or step."""
    timeout_s: float = 300.0
    sandbox: str = "auto"
    carries_tutorial: bool = False

    def to_json(self) -> str:
        """The settings file's text."""
        data: dict[str, Any] = {"format": FORMAT, "version": VERSION, **asdict(self)}
        data["visibility"] = self.visibility.value
        data["hidden_items"] = list(self.hidden_items)
        return json.dumps(data, indent=2) + "\n"

    def visibility_of(self, item_id: str) -> Visibility:
        """The visibility of the checks of checklist item ``item_id``."""
        return Visibility.HIDDEN if item_id in self.hidden_items else self.visibility


def read(path: Path) -> Settings:
    """The settings in ``path``; :class:`SettingsError` naming the file when unusable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SettingsError(f"cannot read {path}: {error}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SettingsError(f"{path} is not the settings of a pytest-tutorial autograder")
    if data.get("version") != VERSION:
        raise SettingsError(
            f"{path} is version {data.get('version')}; this pytest-tutorial reads version "
            f"{VERSION}: export the autograder again with the pytest-tutorial it installs"
        )
    try:
        return Settings(
            tutorial=str(data["tutorial"]),
            package_version=str(data["package_version"]),
            visibility=Visibility(data["visibility"]),
            hidden_items=tuple(str(item) for item in data["hidden_items"]),
            hide_messages=bool(data["hide_messages"]),
            timeout_s=float(data["timeout_s"]),
            sandbox=str(data["sandbox"]),
            carries_tutorial=bool(data["carries_tutorial"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise SettingsError(f"{path}: a field is missing or wrong: {error}") from None
