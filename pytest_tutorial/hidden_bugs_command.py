"""``pytest-tutorial hidden-bugs [NAME|PATH ...]``: make each tutorial's pool of hidden bugs.

For each tutorial with bugs declared in its ``known_bad.py``: every mutant of that module
(:func:`pytest_tutorial.hidden_bugs.candidates`) is built with its bug flags off and the
reference solution's own tests run against it three times (three shuffle seeds), beside the
correct build. The mutants those tests catch every time, without hanging, make the pool
(a mutant caught only now and then, by a test that depends on random jitter, stays out),
written to ``hidden_bugs.json``. ``--check`` only says whether each pool still matches its
``known_bad.py`` (``pytest-tutorial verify`` checks that too). Exit status 0 when all went
well, 1 when a pool is stale or could not be made, 2 for a usage mistake.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_tutorial.hidden_bugs import HiddenBug
    from pytest_tutorial.known_bugs import KnownBad
    from pytest_tutorial.verify.results import StepResult

NAME = "hidden-bugs"
HELP = (
    "make each tutorial's pool of hidden bugs (hidden_bugs.json): the mutants of its "
    "known_bad.py that the reference solution's tests catch"
)
SEEDS = (1, 2, 3)
DEFAULT_RUN_TIMEOUT_S = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``hidden-bugs``."""
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="tutorials, by id or by the path of their folder (default: every installed "
        "tutorial with a known_bad.py)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="only check that each pool matches its known_bad.py (exit status 1 when not)",
    )
    parser.add_argument(
        "--reference",
        type=Path,
        metavar="PATH",
        help="the reference solution whose tests judge the mutants, for one tutorial "
        "(default: reference_solutions/NAME in the current folder)",
    )
    parser.add_argument(
        "--run-timeout",
        type=float,
        default=DEFAULT_RUN_TIMEOUT_S,
        metavar="SECONDS",
        help="a mutant whose run takes longer is left out of the pool "
        f"(default {DEFAULT_RUN_TIMEOUT_S:g})",
    )


def run(args: argparse.Namespace) -> int:
    """Make or check the pools of the tutorials asked for."""
    from pytest_tutorial.known_bugs import KnownBadError, load_known_bad

    targets = _targets(args.names)
    if targets is None:
        return 2
    if args.reference is not None and len(targets) != 1:
        print("hidden-bugs: --reference needs exactly one tutorial")
        return 2
    status = 0
    for name, directory in targets:
        try:
            known = load_known_bad(directory)
        except KnownBadError as error:
            print(f"{name}: {error}")
            status = 1
            continue
        if known is None:
            print(f"{name}: no KNOWN_BUGS in {directory / 'known_bad.py'}: nothing to do")
            continue
        if args.check:
            step = pool_step(directory)
            print(f"{name}: {step.summary if step else 'no pool needed'}")
            for finding in step.findings if step else ():
                print(f"  {finding.message}" + (f"\n  fix: {finding.fix}" if finding.fix else ""))
            status |= int(step is not None and step.outcome.value == "failed")
            continue
        reference = args.reference or Path.cwd() / "reference_solutions" / name
        status |= _make(name, directory, known, reference.resolve(), args.run_timeout)
    return status


def pool_step(directory: Path) -> StepResult | None:
    """The ``hidden-bugs`` step of ``verify``: the pool matches ``known_bad.py`` (None: no bugs)."""
    from pytest_tutorial.hidden_bugs import HiddenBugsError, load_pool
    from pytest_tutorial.known_bugs import KnownBadError, load_known_bad
    from pytest_tutorial.verify.results import Finding, Outcome, StepResult

    started = time.perf_counter()
    try:
        known = load_known_bad(directory)
        if known is None:
            return None
        pool = load_pool(directory, known)
    except (KnownBadError, HiddenBugsError) as error:
        message, _, fix = str(error).partition(": run ")
        finding = Finding(message, fix=f"run {fix}" if fix else "")
        return StepResult(
            NAME, Outcome.FAILED, "no usable pool", (finding,), time.perf_counter() - started
        )
    summary = f"{len(pool.bugs)} hidden bugs, made for the current known_bad.py"
    return StepResult(NAME, Outcome.PASSED, summary, (), time.perf_counter() - started)


def _targets(names: list[str]) -> list[tuple[str, Path]] | None:
    from pytest_tutorial.discovery import DOCUMENT_NAME, find_tutorials

    found = {name: source.directory for name, source in find_tutorials().items()}
    if not names:
        return [(n, d) for n, d in sorted(found.items()) if (d / "known_bad.py").is_file()]
    targets = []
    for name in names:
        folder = Path(name)
        if name in found:
            targets.append((name, found[name]))
        elif (folder / DOCUMENT_NAME).is_file():
            targets.append((folder.resolve().name, folder.resolve()))
        else:
            known = ", ".join(sorted(found)) or "none"
            print(
                f"hidden-bugs: {name}: no such tutorial (known: {known}); give a tutorial's id "
                "or the path of a folder holding tutorial.md"
            )
            return None
    return targets


def _make(name: str, directory: Path, known: KnownBad, reference: Path, timeout: float) -> int:
    """Run the mutants against the reference's tests and write the pool; the exit status."""
    from pytest_tutorial.document import parse_tutorial
    from pytest_tutorial.hidden_bugs import candidates, hidden_bug, write_pool
    from pytest_tutorial.hypothesis_warmup import shared_unicode_tables
    from pytest_tutorial.learner_layout import solution_layout, tests_use_hypothesis
    from pytest_tutorial.learner_model import Implementation, Kind, LearnerTestsError
    from pytest_tutorial.learner_tests import run_many
    from pytest_tutorial.learner_verdicts import catching_tests, consistency_problem
    from pytest_tutorial.options import user_cache_dir
    from pytest_tutorial.verify.mutation import mutate

    validation = parse_tutorial(directory / "tutorial.md", name).validation
    if validation is None or not (reference / "tests").is_dir():
        print(f"{name}: no reference tests at {reference / 'tests'} (give --reference PATH)")
        return 1
    started = time.perf_counter()
    control = known.build()
    uses_hypothesis = tests_use_hypothesis(reference / "tests")
    tables = shared_unicode_tables(user_cache_dir()) if uses_hypothesis else {}
    try:
        layout = solution_layout(reference, validation.solution.module)
        checks = [(Implementation(Kind.CONTROL, source=control), seed) for seed in SEEDS]
        first = run_many(layout, checks, timeout_s=timeout, hypothesis_tables=tables)
    except LearnerTestsError as error:
        print(f"{name}: {error}")
        return 1
    problem = consistency_problem(first)
    if problem is not None:
        print(
            f"{name}: the reference's tests must pass against the correct build of "
            f"known_bad.py before any mutant can be judged; {problem.partition('; ')[2]}"
        )
        return 1
    controls = {run.seed: run for run in first}
    mutants = candidates(known)
    print(f"{name}: {len(mutants)} mutants of known_bad.py against {reference / 'tests'} ...")
    jobs: list[tuple[Implementation, int]] = []
    for mutant in mutants:
        built = known.build(mutate(known.source, mutant))
        jobs += [(Implementation(Kind.HIDDEN, str(mutant.index), "", built), s) for s in SEEDS]
    # The control's runs passed; when they skipped no test either, every test passed against
    # it, and a mutant's first failing test decides whether it is caught.
    decided = all(run.skipped == 0 for run in first)
    runs = run_many(
        layout,
        jobs,
        timeout_s=timeout,
        hypothesis_tables=tables,
        exitfirst={Kind.HIDDEN} if decided else (),
    )
    chosen: list[HiddenBug] = []
    hung = 0
    for position, mutant in enumerate(mutants):
        tried = runs[len(SEEDS) * position : len(SEEDS) * (position + 1)]
        hung += any(not run.finished for run in tried)
        if all(run.finished and catching_tests(controls[run.seed], run) for run in tried):
            chosen.append(hidden_bug(known, mutant))
    note = (
        f"{len(mutants)} mutants tried, {len(chosen)} caught, {hung} left out for hanging or "
        f"ending the process, {len(mutants) - len(chosen) - hung} not caught"
    )
    path = write_pool(directory, known, chosen, note)
    print(f"{name}: {note} -> {path} ({time.perf_counter() - started:.0f} s)")
    return 0
