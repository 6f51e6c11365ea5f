"""What the ``aws`` fixture costs a check, cold (first check of a run) and warm.

Run from the repository root::

    python benchmarks/aws_fixture.py [--warm-rounds 40] [--cold-runs 5]

Cold figures come from fresh interpreters (one per run, so moto, boto3 and the service
models load from scratch): installing the sandbox (which imports moto and boto3), its
warm-up before the first check (moto's service modules, the parsed models, the run's
``mock_aws`` started) and the first check's fixture (an emptied account, the object_store
tutorial's bucket, table and queue created, three learner clients made, the account
closed). Warm figures repeat the same
fixture in one interpreter, the cost of every later check, and split it into its parts. A
typical check body (the reference ``DocumentStore``'s put then get) sets the scale. Every
figure is a median; the ratios are computed from the medians of this one run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pytest_tutorial.document import parse_tutorial  # noqa: E402
from pytest_tutorial.model import AwsResources  # noqa: E402

TUTORIAL = REPO / "pytest_tutorial" / "tutorials" / "object_store" / "tutorial.md"
REFERENCE = REPO / "reference_solutions" / "object_store" / "document_store.py"
SERVICES = ("s3", "dynamodb", "sqs")


def resources() -> AwsResources:
    """The object_store tutorial's declared resources."""
    validation = parse_tutorial(TUTORIAL).validation
    assert validation is not None
    assert validation.aws is not None
    return validation.aws


def ms(seconds: float) -> float:
    """Seconds to milliseconds."""
    return seconds * 1000


def one_check(sandbox: Any) -> dict[str, float]:
    """One check's fixture, timed by part: start (account + resources), clients, stop."""
    from pytest_tutorial.fixtures.aws import AwsMock

    began = time.perf_counter()
    mock = AwsMock(sandbox)
    mock.start()
    started = time.perf_counter()
    for service in SERVICES:
        mock.client(service)
    made = time.perf_counter()
    mock.stop()
    stopped = time.perf_counter()
    return {
        "start": ms(started - began),
        "clients": ms(made - started),
        "stop": ms(stopped - made),
        "total": ms(stopped - began),
    }


def cold_child() -> None:
    """In a fresh interpreter: the sandbox's install, warm-up and first check, as JSON."""
    from pytest_tutorial.aws_sandbox import AwsSandbox

    began = time.perf_counter()
    sandbox = AwsSandbox(resources())
    sandbox.install()
    installed = time.perf_counter()
    sandbox.warm_up()
    warmed = time.perf_counter()
    first = one_check(sandbox)
    sandbox.uninstall()
    figures = {
        "install": ms(installed - began),
        "warm_up": ms(warmed - installed),
        "first_check": first["total"],
    }
    print(json.dumps(figures))


def cold(runs: int) -> dict[str, float]:
    """Medians over ``runs`` fresh interpreters."""
    samples: list[dict[str, float]] = []
    for _ in range(runs):
        child = subprocess.run(
            [sys.executable, __file__, "--cold-child"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        samples.append(json.loads(child.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(sample[key] for sample in samples) for key in samples[0]}


def load_reference() -> Any:
    """The reference solution's module, imported from its file."""
    sys.path.insert(0, str(REFERENCE.parent))
    spec = importlib.util.spec_from_file_location("benchmark_document_store", REFERENCE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def warm(rounds: int) -> tuple[dict[str, float], float]:
    """Medians of ``rounds`` checks' fixtures in one warmed interpreter, and of a check body."""
    from pytest_tutorial.aws_sandbox import AwsSandbox
    from pytest_tutorial.fixtures.aws import AwsMock

    sandbox = AwsSandbox(resources())
    sandbox.install()
    reference = load_reference()
    try:
        sandbox.warm_up()  # as a run does after collection (resources made directly after it)
        for _ in range(3):
            one_check(sandbox)  # warm-up: moto's backends, the service models
        parts = [one_check(sandbox) for _ in range(rounds)]
        mock = AwsMock(sandbox)
        mock.start()
        store = reference.DocumentStore(
            **{service: mock.client(service) for service in SERVICES},
            bucket=mock.bucket,
            table=mock.table,
            queue_url=mock.queue_url,
        )
        counter = iter(range(10**6))

        def body() -> None:
            name = f"doc-{next(counter)}.txt"
            store.put("ada", name, name.encode(), content_type="text/plain")
            store.get("ada", name)

        bodies = timed(body, rounds)
        mock.stop()
    finally:
        sandbox.uninstall()
    medians = {key: statistics.median(part[key] for part in parts) for key in parts[0]}
    return medians, statistics.median(bodies)


def timed(call: Callable[[], None], rounds: int) -> list[float]:
    """Milliseconds of each of ``rounds`` calls, after three untimed ones."""
    for _ in range(3):
        call()
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        call()
        samples.append(ms(time.perf_counter() - began))
    return samples


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-rounds", type=int, default=40)
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--cold-child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.cold_child:
        cold_child()
        return
    import boto3
    import moto

    cold_figures = cold(options.cold_runs)
    warm_figures, body = warm(options.warm_rounds)
    cold_total = cold_figures["install"] + cold_figures["warm_up"] + cold_figures["first_check"]
    print(
        f"aws fixture cost per check: moto {moto.__version__}, boto3 {boto3.__version__}, "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    print(
        f"  medians of {options.cold_runs} fresh interpreters and {options.warm_rounds} warm checks"
    )
    rows = [
        ("cold: sandbox install (imports moto, boto3)", cold_figures["install"]),
        ("cold: sandbox warm-up (after collection)", cold_figures["warm_up"]),
        ("cold: first check's fixture", cold_figures["first_check"]),
        ("cold: total before the first check body", cold_total),
        ("warm: fixture per check", warm_figures["total"]),
        ("warm:   emptied account + resources", warm_figures["start"]),
        ("warm:   three learner clients", warm_figures["clients"]),
        ("warm:   account closed", warm_figures["stop"]),
        ("check body: reference put + get (5 calls)", body),
    ]
    for label, value in rows:
        print(f"  {label:<46} {value:9.1f} ms")
    print(f"  {'ratio cold total / warm fixture':<46} {cold_total / warm_figures['total']:9.1f} x")
    print(
        f"  {'ratio cold first check / warm fixture':<46} "
        f"{cold_figures['first_check'] / warm_figures['total']:9.1f} x"
    )
    print(f"  {'ratio warm fixture / check body':<46} {warm_figures['total'] / body:9.1f} x")


if __name__ == "__main__":
    main()
