"""Request targets for tests/test_warm.py: what a forked child does, and what it saw.

:func:`recorded` runs one of the recording targets and reads what it wrote.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_tutorial.warm import WarmServer

WAIT_S = 60.0


def leave_state_behind(payload: dict[str, Any]) -> int:
    """Import a learner module, bump its counter, use a fake Redis and the hypothesis folder.

    Records what the run saw before it changed anything, so the next run can be compared.
    """
    import fakeredis
    from hypothesis.configuration import storage_directory

    folder = str(payload["learner"])
    storage = storage_directory("examples").path
    seen = {
        "learner_module_loaded": "learner_module" in sys.modules,
        "storage": str(storage),
        "storage_files": sorted(os.listdir(storage)) if storage.is_dir() else [],
        "redis_value": None,
        "cwd": os.getcwd(),
        "variable": os.environ.get("WARM_TEST_VARIABLE"),
    }
    sys.path.insert(0, folder)
    import learner_module  # type: ignore[import-not-found]

    learner_module.COUNT += 1
    seen["count"] = learner_module.COUNT
    client = fakeredis.FakeRedis()
    value = client.get("left-behind")
    seen["redis_value"] = None if value is None else str(value)
    client.set("left-behind", "from an earlier run")
    storage.mkdir(parents=True, exist_ok=True)
    (storage / "left-behind").write_text("an example from an earlier run")
    Path(payload["record"]).write_text(json.dumps(seen), encoding="utf-8")
    return 0


def wait_for_file(payload: dict[str, Any]) -> int:
    """Say it started, then wait until ``release`` exists (concurrent runs meet this way)."""
    Path(payload["started"]).write_text("started", encoding="utf-8")
    release = Path(payload["release"])
    while not release.exists():
        threading.Event().wait(0.01)
    return 7


def hang_with_a_grandchild(payload: dict[str, Any]) -> int:
    """Start a grandchild that writes its pid, then hang (the time limit must end both)."""
    if os.fork() == 0:
        Path(payload["pid_file"]).write_text(str(os.getpid()), encoding="utf-8")
        threading.Event().wait()
    threading.Event().wait()
    return 0


def print_and_exit(payload: str) -> int:
    """Write to stdout and stderr, then end with ``SystemExit(5)``."""
    print(f"out: {payload}")
    print(f"err: {payload}", file=sys.stderr)
    raise SystemExit(5)


def make_a_bucket_and_list_without_reset(payload: dict[str, Any]) -> int:
    """List the buckets moto holds (a mock started without resetting), then make one."""
    import boto3
    from moto import mock_aws

    mock = mock_aws()
    mock.start(reset=False)  # what an earlier run in this process left would show
    try:
        client = boto3.client(
            "s3", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
        )
        names = [bucket["Name"] for bucket in client.list_buckets()["Buckets"]]
        client.create_bucket(Bucket=f"left-behind-{payload['number']}")
    finally:
        mock.stop(remove_data=False)
    Path(payload["record"]).write_text(json.dumps(names), encoding="utf-8")
    return 0


def write_to_the_sent_descriptors(payload: dict[str, Any]) -> int:
    """Print (to the first descriptor sent: the run's output) and write to the second one."""
    print(f"printed {payload['text']}")
    os.write(payload["fds"][1], f"written {payload['text']}".encode())
    busy = 0
    for number in range(2_000_000):  # some CPU time for the answer to report
        busy += number
    return 7


def report_descriptors(payload: dict[str, Any]) -> int:
    """Write what each open descriptor of the run is, and what the server's stdout is."""
    held = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            held.add(os.readlink(f"/proc/self/fd/{fd}"))
    server_stdout = os.readlink(f"/proc/{os.getppid()}/fd/1")
    record = {"held": sorted(held), "server_stdout": server_stdout}
    Path(payload["result"]).write_text(json.dumps(record), encoding="utf-8")
    return 0


def print_parent(payload: str) -> int:
    """Print the pid of the process that forked the run."""
    print(os.getppid())
    return 0


FROZEN_RECORD_VARIABLE = "WARM_TEST_FROZEN_RECORD"
"""Where :func:`pytest_unconfigure` writes, when this module is a warm-up run's plugin."""


def pytest_unconfigure() -> None:
    """As a warm-up run's ``-p`` plugin: record how many objects are frozen as the run ends.

    pytest's last collections of that run follow this hook; they skip the frozen objects.
    """
    record = os.environ.get(FROZEN_RECORD_VARIABLE)
    if record:
        Path(record).write_text(str(gc.get_freeze_count()), encoding="utf-8")


def record_variable(payload: dict[str, Any]) -> int:
    """Record the value of the environment variable ``name`` (null when unset)."""
    value = os.environ.get(str(payload["name"]))
    Path(payload["record"]).write_text(json.dumps(value), encoding="utf-8")
    return 0


def record_module_attribute(payload: dict[str, Any]) -> int:
    """Record ``len()`` of attribute ``name`` of the loaded module ``module`` (null if absent)."""
    module = sys.modules.get(str(payload["module"]))
    value = None if module is None else len(getattr(module, str(payload["name"])))
    Path(payload["record"]).write_text(json.dumps(value), encoding="utf-8")
    return 0


def record_what_hypothesis_has_seen(payload: dict[str, Any]) -> int:
    """Record how many loaded modules hypothesis has not looked at, and its storage folder."""
    from hypothesis.configuration import storage_directory
    from hypothesis.internal.conjecture import providers

    unseen = [
        name
        for name, module in list(sys.modules.items())
        if id(module) not in providers._seen_modules
    ]
    record = {
        "unseen": unseen,
        "storage": str(storage_directory(intent_to_write=False).path),
        "storage_variable": os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"),
    }
    Path(payload["record"]).write_text(json.dumps(record), encoding="utf-8")
    return 0


def record_fakeredis_state(payload: dict[str, Any]) -> int:
    """Record the fake servers fakeredis shares, and whether its command table is loaded."""
    from fakeredis import FakeServer
    from fakeredis.model import _command_info

    record = {
        "shared_servers": len(FakeServer._servers_map),
        "commands_loaded": _command_info._COMMAND_INFO is not None,
    }
    Path(payload["record"]).write_text(json.dumps(record), encoding="utf-8")
    return 0


def record_loaded_modules(payload: dict[str, Any]) -> int:
    """Record which of the modules named in ``payload["names"]`` the child finds loaded."""
    loaded = {name: name in sys.modules for name in payload["names"]}
    Path(payload["record"]).write_text(json.dumps(loaded), encoding="utf-8")
    return 0


def recorded(server: WarmServer, target: str, tmp_path: Path, **payload: Any) -> Any:
    """What a child of ``server`` running ``target`` of this module recorded (its JSON)."""
    record = tmp_path / f"{target}.json"
    result = server.run(
        f"{__name__}:{target}",
        {**payload, "record": str(record)},
        output=tmp_path / "out",
        timeout_s=WAIT_S,
    )
    assert result.exit_code == 0, (tmp_path / "out").read_text(encoding="utf-8")
    return json.loads(record.read_text(encoding="utf-8"))
