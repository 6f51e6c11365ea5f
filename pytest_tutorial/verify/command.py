"""``pytest-tutorial verify [NAME|PATH ...]``: proof that a tutorial's checks can be trusted.

For each tutorial (default: every tutorial pytest finds from the current folder): the
document is well-formed and has nothing of the template left, every Validation Checklist
item is covered or marked manual, the pool of hidden bugs matches ``known_bad.py`` (for a
tutorial that declares known bugs), the reference solution is validated, the starter fails
every automated item, and mutation analysis of the reference measures how many small bugs
the checks catch (see :mod:`.analysis`). Exit status 0 when every tutorial passed, 1 when
one did not, 2 for a usage mistake.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_tutorial.verify.output import Printer
    from pytest_tutorial.verify.results import TutorialVerification
    from pytest_tutorial.verify.runs import ChildRun
    from pytest_tutorial.verify.steps import Target

NAME = "verify"
HELP = (
    "check that tutorials are ready: document, coverage, reference validated, starter "
    "failing, and mutation analysis of the checks"
)
DEFAULT_RUN_TIMEOUT_S = 900.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``verify``."""
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="tutorials to verify, by id or by the path of their folder (default: all found)",
    )
    parser.add_argument(
        "--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH (for CI)"
    )
    parser.add_argument(
        "--max-mutants",
        type=_count,
        metavar="N",
        help="run at most N mutants per tutorial, a deterministic sample spread over the "
        "reference's code (0: no mutation analysis; default: all)",
    )
    parser.add_argument(
        "--jobs",
        type=_positive,
        default=os.cpu_count() or 1,
        metavar="N",
        help="mutants run in parallel (default: the number of CPUs)",
    )
    parser.add_argument(
        "--mutant-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="time limit of one mutant's run; past it the mutant counts as killed "
        "(default: 5 times the reference's run, at least 15 s)",
    )
    parser.add_argument(
        "--with-own-tests",
        action="store_true",
        help="also run the checks that run the solution's own tests against every mutant "
        "(slow; left out by default)",
    )
    parser.add_argument(
        "--run-timeout",
        type=_seconds,
        default=DEFAULT_RUN_TIMEOUT_S,
        metavar="SECONDS",
        help="time limit of the reference's and the starter's runs "
        f"(default {DEFAULT_RUN_TIMEOUT_S:g})",
    )


def run(args: argparse.Namespace) -> int:
    """Verify the tutorials asked for; print as it goes; write the JSON if asked."""
    from pytest_tutorial.verify.output import Printer
    from pytest_tutorial.verify.results import verification_json

    started = time.perf_counter()
    printer = Printer()
    targets = _targets(args)
    if targets is None:
        return 2
    results = [_verify(target, args, printer) for target in targets]
    if args.json is not None:
        document = verification_json(results, time.perf_counter() - started)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    printer.summary(results, args.json)
    return 0 if all(result.passed for result in results) else 1


def _targets(args: argparse.Namespace) -> list[Target] | None:
    from pytest_tutorial.verify import runs
    from pytest_tutorial.verify.steps import Target

    cwd = Path.cwd()
    answer, run = runs.probe([], cwd=cwd)
    if "tutorials" not in answer:
        print(f"verify: cannot list the tutorials: {answer.get('error') or run.error_text()}")
        return None
    rootdir = Path(answer["rootdir"])
    found = {name: Path(folder) for name, folder in answer["tutorials"].items()}
    names = args.names or sorted(found)
    if not names:
        print("verify: no tutorials found (pytest --tutorial-list shows where it looks)")
        return None
    targets: list[Target] = []
    for name in names:
        folder = Path(name)
        if name in found:
            targets.append(Target(name, found[name], rootdir, cwd, run_timeout_s=args.run_timeout))
        elif (folder / "tutorial.md").is_file():
            folder = folder.resolve()
            extra = ("-o", f"tutorial_paths={folder.parent}")
            targets.append(
                Target(folder.name, folder, rootdir, cwd, extra, run_timeout_s=args.run_timeout)
            )
        else:
            known = ", ".join(sorted(found)) or "none"
            print(
                f"verify: {name}: no such tutorial (known: {known}); give a tutorial's id or "
                "the path of a folder holding tutorial.md"
            )
            return None
    return targets


def _verify(target: Target, args: argparse.Namespace, printer: Printer) -> TutorialVerification:
    from pytest_tutorial.hidden_bugs_command import pool_step
    from pytest_tutorial.verify import analysis, steps
    from pytest_tutorial.verify.results import Outcome, StepResult, TutorialVerification

    result = TutorialVerification(target.name, str(target.document))

    def add(step: StepResult) -> None:
        result.steps.append(step)
        printer.step(step, result.mutation)

    document, tutorial = steps.document_step(target)
    if tutorial is not None:
        result.title = tutorial.metadata.title
    printer.tutorial(result)
    add(document)
    if document.outcome is Outcome.FAILED:
        return result
    add(steps.placeholder_step(target))
    if tutorial is None:  # not automated: nothing else to verify
        return result
    coverage, runnable = steps.coverage_step(target, tutorial)
    add(coverage)
    pool = pool_step(target.directory)
    if pool is not None:
        add(pool)
    if not runnable:
        add(StepResult("reference", Outcome.SKIPPED, "not run: fix the coverage problems first"))
        return result
    # One after the other: a reference run beside another run would skew its performance
    # checks, which compare it with itself.
    reference_step = steps.reference_step(
        target, _solution_run(target, target.reference, "reference")
    )
    starter_step = steps.starter_step(target, _solution_run(target, target.starter, "starter"))
    add(reference_step)
    add(starter_step)
    if reference_step.outcome is not Outcome.PASSED:
        add(StepResult("mutation", Outcome.SKIPPED, "not run: the reference is not validated"))
        return result
    assert tutorial.validation is not None
    mutation, summary = analysis.mutation_step(
        target,
        min_kill_rate=tutorial.validation.min_kill_rate,
        max_mutants=args.max_mutants,
        jobs=args.jobs,
        timeout_s=args.mutant_timeout,
        own_tests=args.with_own_tests,
        progress=printer.counter,
    )
    result.mutation = summary
    add(mutation)
    return result


def _solution_run(target: Target, folder: Path, label: str) -> ChildRun | None:
    from pytest_tutorial.verify import steps

    if not folder.is_dir():
        return None
    return steps.solution_run(target, folder, label)


def _count(text: str) -> int:
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return int(value)


def _positive(text: str) -> int:
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return int(value)


def _seconds(text: str) -> float:
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds > 0")
    return float(value)


def _number(text: str, kind: type[int] | type[float]) -> float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
