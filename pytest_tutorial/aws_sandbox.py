"""The protection of an AWS tutorial run: no learner setting leaks in, no request leaks out.

:class:`AwsSandbox` is installed once per run of a tutorial that declares AWS resources
(by :mod:`pytest_tutorial.fixtures.aws`), before the learner's code is imported:

- every ``AWS_*`` variable is dropped; fake credentials and the tutorial's region are set;
  the shared config and credentials files are ``/dev/null`` (so ``AWS_PROFILE`` and
  ``~/.aws`` are ignored); the instance-metadata lookup is off; HTTP(S) proxies point at a
  dead loopback port, so a request that escapes moto anywhere, even in the learner's own
  tests run in child processes, fails at once;
- moto is imported, so a client the learner's module makes at import time carries moto's
  hook and is answered by moto while a check runs;
- botocore's HTTP layer (``URLLib3Session.send``) is guarded: a request that gets that far
  (a client made before moto was loaded, a custom ``endpoint_url``, a call made outside any
  check) is answered by moto when a check's mock is active and moto serves the URL, and is
  otherwise refused with :class:`RealAwsCallBlocked`, naming the line that made it.

Each check gets an account of its own from :meth:`AwsSandbox.open_account`: moto's mock
starts with the first account and runs until :meth:`AwsSandbox.uninstall`, its backends
emptied for every check and its hook off between checks. :meth:`AwsSandbox.uninstall` puts
everything back. moto and boto3 are imported only by :meth:`AwsSandbox.install`.
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pytest_tutorial.aws_clients import LearnerClients
from pytest_tutorial.aws_resources import DirectCreation, calibrated_creation
from pytest_tutorial.model import AwsResources

DEAD_PROXY = "http://127.0.0.1:9"
"""Where HTTP(S) proxies point during an AWS run: the discard port, nobody listens there."""
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
}
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
_NOT_LEARNER_CODE = (
    f"{os.sep}botocore{os.sep}",
    f"{os.sep}boto3{os.sep}",
    f"{os.sep}s3transfer{os.sep}",
    f"{os.sep}moto{os.sep}",
    f"{os.sep}urllib3{os.sep}",
    str(Path(__file__)),
    str(Path(__file__).parent / "fixtures" / "aws.py"),
)
"""Frames skipped when naming the line that made a request: libraries and the harness."""


def sandboxed_environment(environ: Mapping[str, str], region: str) -> dict[str, str]:
    """``environ`` as an AWS run has it: no learner ``AWS_*`` or proxy variable, the sandbox's set.

    For a process started before the run installed its sandbox (the learner tests' warm
    server, asked for as soon as the options are known): its own start-up then reads no
    learner profile, credentials or proxy either.
    """
    kept = {name: value for name, value in environ.items() if not _learner_setting(name)}
    return {**kept, **sandbox_environment(region)}


def _learner_setting(name: str) -> bool:
    """Whether the sandbox drops the variable ``name``: an AWS setting or a proxy."""
    return name.upper().startswith("AWS_") or name.lower() in PROXY_VARIABLES


class RealAwsCallBlocked(RuntimeError):
    """A request tried to leave the machine for AWS during a tutorial run."""


def sandbox_environment(region: str) -> dict[str, str]:
    """The variables an AWS run sets (every other ``AWS_*`` and proxy variable is unset)."""
    local = "localhost,127.0.0.1,::1"
    return {
        **FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
        "HTTP_PROXY": DEAD_PROXY,
        "HTTPS_PROXY": DEAD_PROXY,
        "http_proxy": DEAD_PROXY,
        "https_proxy": DEAD_PROXY,
        "NO_PROXY": local,
        "no_proxy": local,
    }


class AwsSandbox:
    """The run-wide protection of an AWS tutorial run; :meth:`uninstall` undoes all of it."""

    def __init__(self, resources: AwsResources) -> None:
        self.resources = resources
        self.blocked: list[str] = []
        """One message per request the guard refused, in order."""
        self._saved_environment: dict[str, str | None] = {}
        self._undo: list[Callable[[], None]] = []
        self._inspectors: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._mock: Any = None
        self.session: Any = None
        self.learner_clients = LearnerClients(self.new_client)
        """The clients the checks give the learner's code, kept from check to check."""
        self.direct_creation: DirectCreation | None = None
        """Makes each check's resources in moto's backends, once :meth:`warm_up` found that
        to make what the API makes; None: through the API."""

    def install(self) -> None:
        """Set the environment, load moto, guard botocore's HTTP layer."""
        wanted = sandbox_environment(self.resources.region)
        for name in list(os.environ):
            if _learner_setting(name):
                self._saved_environment[name] = os.environ.pop(name)
        for name, value in wanted.items():
            self._saved_environment.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        self._undo.append(self._restore_environment)

        import boto3
        import moto  # noqa: F401  (adds moto's hook to botocore before any learner client)
        from botocore.httpsession import URLLib3Session

        from pytest_tutorial.aws_memos import remember_per_process

        # A session the learner's code makes reuses the parsed models (aws_models), and its
        # clients what other clients worked out (aws_memos).
        remember_per_process()

        previous_session = boto3.DEFAULT_SESSION
        boto3.DEFAULT_SESSION = None  # one made earlier would keep the old environment
        self._undo.append(lambda: setattr(boto3, "DEFAULT_SESSION", previous_session))
        original_send = URLLib3Session.send
        sandbox = self

        def guarded_send(session: Any, request: Any) -> Any:
            return sandbox.answer(request)

        URLLib3Session.send = guarded_send
        self._undo.append(lambda: setattr(URLLib3Session, "send", original_send))
        self.session = boto3.session.Session(region_name=self.resources.region)

    def uninstall(self) -> None:
        """Put back the environment, botocore's HTTP layer and boto3's default session."""
        while self._undo:
            self._undo.pop()()

    def _restore_environment(self) -> None:
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def answer(self, request: Any) -> Any:
        """Let moto answer a request that reached botocore's HTTP layer, or refuse it."""
        from moto.core.models import botocore_stubber

        response = botocore_stubber("before-send", request)
        if response is not None:
            return response
        url = str(request.url).split("?")[0]
        where = _caller()
        if botocore_stubber.enabled:
            message = (
                f"{where} tried to reach {request.method} {url}, which moto does not serve "
                "(a client made with endpoint_url, or a service moto lacks), and the checks "
                "never let a request leave this machine: create clients without "
                "endpoint_url, or use the clients the check passes to your code"
            )
        else:
            message = (
                f"{where} tried to reach real AWS ({request.method} {url}) outside a check: "
                "the checks answer AWS calls with moto only while a check runs, and never let "
                "a request leave this machine. Make no AWS call at import time, and use the "
                "clients the check passes to your code instead of module-level clients"
            )
        with self._lock:
            self.blocked.append(message)
        raise RealAwsCallBlocked(message)

    def warm_up(self) -> None:
        """Pay the run's first-use costs before the first check.

        moto's modules of the declared services, their parsed models, the inspector clients
        moto's mock started, and one listing call each, in an account of its own. The
        first check would pay them otherwise; paid here, what they build can be left out of
        garbage collection with the rest of the run's long-lived objects. Then the declared
        resources are made through the API and directly, and compared
        (:func:`~pytest_tutorial.aws_resources.calibrated_creation`).
        """
        import importlib

        from pytest_tutorial.warm import AWS_IMPORTS

        for name in AWS_IMPORTS:
            importlib.import_module(name)
        listings = (
            ("s3", "list_buckets", self.resources.s3_buckets),
            ("dynamodb", "list_tables", self.resources.dynamodb_tables),
            ("sqs", "list_queues", self.resources.sqs_queues),
        )
        self.open_account()
        try:
            for service, operation, declared in listings:
                if declared:
                    getattr(self.inspector(service), operation)()
            self.direct_creation = calibrated_creation(
                self.resources, self.inspector, self.empty_account
            )
        finally:
            self.close_account()

    def open_account(self) -> None:
        """Give a check an account of its own: every moto backend empty, moto answering.

        moto's ``mock_aws`` starts once, at the first check, and stays on until
        :meth:`uninstall`: starting it registers some 1,300 URL patterns (5 ms a check).
        Each check starts from emptied backends instead, as a new mock would, and boto3's
        default session is dropped, as a new mock does. Between checks moto's botocore
        hook is off, so a request made outside a check is refused as before.
        """
        import boto3
        from moto.core.models import botocore_stubber

        if self._mock is None:
            from moto import mock_aws

            self._mock = mock_aws()
            self._mock.start()  # empties every backend
            self._undo.append(self._stop_mock)
        else:
            self.empty_account()
            botocore_stubber.enabled = True
        boto3.DEFAULT_SESSION = None

    def empty_account(self) -> None:
        """Drop every bucket, table, queue and object moto holds, in every account."""
        from moto.core.base_backend import BackendDict
        from moto.core.model_instances import reset_model_data

        BackendDict.reset()
        reset_model_data()

    def close_account(self) -> None:
        """End a check's account: its state dropped, moto no longer answering."""
        from moto.core.models import botocore_stubber

        self.empty_account()
        botocore_stubber.enabled = False

    def _stop_mock(self) -> None:
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    def inspector(self, service: str) -> Any:
        """A plain client for the checks themselves, shared by every check of the run."""
        if service not in self._inspectors:
            self._inspectors[service] = self.new_client(service)
        return self._inspectors[service]

    def new_client(self, service: str) -> Any:
        """A client of the sandbox's session: no retries, SigV4 presigning for S3."""
        from botocore.config import Config

        config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=2,
            read_timeout=10,
            signature_version="s3v4" if service == "s3" else None,
        )
        return self.session.client(service, config=config)


def _caller() -> str:
    """``file:line`` of the innermost frame outside boto3, botocore, moto and this module."""
    for frame in reversed(traceback.extract_stack()):
        if not any(part in frame.filename for part in _NOT_LEARNER_CODE):
            return f"{frame.filename}:{frame.lineno}"
    return "some code"
