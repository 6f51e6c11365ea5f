"""Hostile and broken submissions of the caching tutorial, for ``pytest-tutorial grade``.

Each :class:`~tests.adversarial.case.Case` is built from the starter or the reference
solution (see :mod:`tests.adversarial.case`). :data:`CASES` gathers them all: the ones below
(containment: hangs, crashes, floods, escapes, forged reports), the attacks on the parent
through the result stream and the batch's files (:mod:`.stream_cases`), the attacks on
the channel to a worker (:mod:`.worker_cases`), and one case per resource limit, graded
under tight limits (:mod:`.limit_cases`).

``learner_tests``: the case needs the ``tests`` item's checks (the learner's own tests),
the slowest ones; the others are graded with those deselected.
"""

from __future__ import annotations

from tests.adversarial.case import MODULE, REPO, Case
from tests.adversarial.limit_cases import LIMIT_CASES
from tests.adversarial.stream_cases import STREAM_CASES
from tests.adversarial.worker_cases import WORKER_CASES

__all__ = ["CASES", "MODULE", "REPO", "Case"]

CONTAINMENT_CASES = (
    Case("syntax_error", "def broken(:\n    pass\n", replace=True, archive="zip"),
    Case("import_error", "import no_such_module_for_grading\n", replace=True, archive="tar.gz"),
    Case("exception_at_import", "raise RuntimeError('exploding at import')\n"),
    Case("loop_at_import", "while True:\n    pass\n"),
    Case(
        "loop_in_method",
        # Swallows the per-check time limit too: only the wall clock stops it. It waits in
        # its loop rather than spins: a spin would burn the whole wall-clock limit in CPU in
        # each mode, and the CPU limits have cases of their own (limit_cases.py).
        "import time as _time\n"
        "def _loop(self, *args, **kwargs):\n"
        "    while True:\n"
        "        try:\n"
        "            while True:\n"
        "                _time.sleep(0.01)\n"
        "        except BaseException:\n"
        "            pass\n"
        "CacheService.get_or_compute = _loop\n"
        "CacheService.set = _loop\n"
        "CacheService.get = _loop\n",
    ),
    Case("sleep_forever", "import time as _time\n_time.sleep(10**6)\n"),
    Case(
        "memory_bomb",
        # calloc'd blocks: the address-space limit stops it before the machine notices.
        "_hog = []\nwhile True:\n    _hog.append(bytes(64 * 1024 * 1024))\n",
    ),
    Case(
        "fork_storm",
        "import os as _os, subprocess as _sp, time as _time\n"
        "_sp.Popen(['sleep', '31337'], env={}, start_new_session=True,\n"
        "          stdout=_sp.DEVNULL, stderr=_sp.DEVNULL)\n"
        "for _n in range(150):\n"
        "    try:\n"
        "        if _os.fork() == 0:\n"
        "            _os.setsid()\n"
        "            _time.sleep(1000)\n"
        "            _os._exit(0)\n"
        "    except OSError:\n"
        "        break\n",
    ),
    Case(
        "output_flood",
        "import os as _os\n"
        "_chunk = b'flood ' * 10000\n"
        "for _fd in range(1, 64):\n"
        "    try:\n"
        "        if _os.readlink(f'/proc/self/fd/{_fd}').startswith('pipe:'):\n"
        "            for _ in range(100):\n"
        "                _os.write(_fd, _chunk)\n"
        "    except OSError:\n"
        "        pass\n"
        "for _ in range(100000):\n"
        "    print('flood' * 2000)\n",
    ),
    Case("sys_exit_at_import", "import sys as _sys\n_sys.exit(0)\n"),
    Case("os_exit_at_import", "import os as _os\n_os._exit(0)\n"),
    Case(
        "conftest_forces_passes",
        files={
            "conftest.py": "import pytest\n\n"
            "@pytest.hookimpl(wrapper=True)\n"
            "def pytest_runtest_makereport(item, call):\n"
            "    report = yield\n"
            "    report.outcome = 'passed'\n"
            "    report.longrepr = None\n"
            "    return report\n",
        },
        learner_tests=True,
    ),
    Case(
        "ini_addopts",
        files={
            "pytest.ini": "[pytest]\naddopts = -k nothing_matches_this "
            "--tutorial-solution=$repo/reference_solutions/caching -p no:tutorial\n",
            "pyproject.toml": "[tool.pytest.ini_options]\n"
            'addopts = "--tutorial-solution=$repo/reference_solutions/caching"\n',
            "setup.cfg": "[tool:pytest]\naddopts = -k nothing_matches_this\n",
        },
    ),
    Case(
        "patches_reporting",
        "import _pytest.reports as _reports, _pytest.runner as _runner\n"
        "import pytest_tutorial.session as _session\n"
        "_from_item = _reports.TestReport.from_item_and_call.__func__\n"
        "def _forged(cls, item, call):\n"
        "    report = _from_item(cls, item, call)\n"
        "    report.outcome = 'passed'\n"
        "    report.longrepr = None\n"
        "    report.user_properties = [p for p in report.user_properties\n"
        "                              if p[0] != 'tutorial_status']\n"
        "    return report\n"
        "_reports.TestReport.from_item_and_call = classmethod(_forged)\n"
        "_runner.check_interactive_exception = lambda call, report: False\n"
        "_session.TutorialSession.pytest_runtest_logreport = lambda self, report: None\n",
    ),
    Case(
        "equal_to_everything",
        '"""Everything is equal to everything."""\n\n'
        "class _Anything:\n"
        "    def __eq__(self, other): return True\n"
        "    def __ne__(self, other): return False\n"
        "    def __hash__(self): return 0\n"
        "    def __getattr__(self, name): return _Anything()\n"
        "    def __call__(self, *args, **kwargs): return _Anything()\n"
        "    def __iter__(self): return iter(())\n"
        "    def __len__(self): return 0\n"
        "    def __contains__(self, item): return True\n"
        "def monitor(func): return func\n"
        "class CacheService:\n"
        "    def __init__(self, *args, **kwargs): pass\n"
        "    def __getattr__(self, name): return lambda *args, **kwargs: _Anything()\n"
        "JSONValue = object\n",
        replace=True,
    ),
    Case(
        "fake_report",
        "import json as _json, os as _os\n"
        "_forged = {'score': 37, 'max_score': 37, 'verdict': 'validated', 'FORGED': True}\n"
        "for _folder in ['$out', '$out/fake_report', _os.getcwd(), '/grading',\n"
        "                _os.path.expanduser('~'), '/tmp']:\n"
        "    for _name in ('report.json', 'results.json', 'gradebook.json', 'child-report.json'):\n"
        "        try:\n"
        "            _os.makedirs(_folder, exist_ok=True)\n"
        "            with open(_os.path.join(_folder, _name), 'w') as _file:\n"
        "                _json.dump(_forged, _file)\n"
        "        except OSError:\n"
        "            pass\n",
    ),
    Case(
        "reads_reference",
        "import os as _os\n"
        "_found = None\n"
        "for _path in ['$repo/reference_solutions/caching/cache_service.py',\n"
        "              '../reference_solutions/caching/cache_service.py']:\n"
        "    try:\n"
        "        _found = open(_path).read()\n"
        "        break\n"
        "    except OSError:\n"
        "        pass\n"
        "for _root, _dirs, _files in _os.walk('/'):\n"
        "    _dirs[:] = [d for d in _dirs if d not in ('proc', 'sys', 'dev')]\n"
        "    if _found is None and _root.endswith('reference_solutions/caching'):\n"
        "        _found = open(_os.path.join(_root, 'cache_service.py')).read()\n"
        "    if _root.count('/') > 5:\n"
        "        _dirs[:] = []\n"
        "if _found is not None:\n"
        "    exec(compile(_found, 'reference', 'exec'), globals())\n",
        needs_sandbox=True,
    ),
    Case(
        "probes_the_sandbox",
        # Says what it could reach in the import error, which every check then reports.
        "import os as _os\n"
        "def _can_read(path):\n"
        "    try:\n"
        "        open(path, 'rb').close()\n"
        "        return 'readable'\n"
        "    except OSError:\n"
        "        return 'hidden'\n"
        "def _can_write(folder):\n"
        "    return 'writable' if _os.access(folder, _os.W_OK) else 'readonly'\n"
        "def _can_plant(folder):\n"
        "    try:\n"
        "        _os.makedirs(folder)\n"
        "        return 'planted'\n"
        "    except OSError:\n"
        "        return 'blocked'\n"
        "import pytest_tutorial as _package\n"
        "import pytest_tutorial.tutorials.caching as _tutorial\n"
        "_checks = _os.path.join(_os.path.dirname(_tutorial.__file__), 'check_core.py')\n"
        "_fed = _os.path.join(_os.path.dirname(_os.path.dirname(_tutorial.__file__)),\n"
        "                     '.reference', 'caching', 'cache_service.py')\n"
        "raise RuntimeError(\n"
        "    f'probe: checks={_can_read(_checks)} '\n"
        "    f'reference={_can_read(\"$repo/reference_solutions/caching/cache_service.py\")} '\n"
        "    f'fed_reference={_can_read(_fed)} '\n"
        "    f'shadow={_can_read(\"/etc/shadow\")} '\n"
        "    f'package={_can_write(_os.path.dirname(_package.__file__))} '\n"
        "    f'own_reference={_can_plant(\"/grading/reference_solutions/caching\")} '\n"
        '    f\'root={"yes" if _os.geteuid() == 0 else "no"}\'\n'
        ")\n",
        needs_sandbox=True,
    ),
    Case(
        "network",
        "import socket as _socket\n"
        "try:\n"
        "    _connection = _socket.create_connection(('127.0.0.1', $port), timeout=2)\n"
        "    _source = b''\n"
        "    while _chunk := _connection.recv(65536):\n"
        "        _source += _chunk\n"
        "    exec(compile(_source.decode(), 'network', 'exec'), globals())\n"
        "except OSError:\n"
        "    pass\n",
        needs_sandbox=True,
    ),
    Case(
        "dies_mid_run",
        # The reference, except that invalidate() ends the process: what ran before counts.
        "def _dying_invalidate(self, key):\n"
        "    import os\n"
        "    os._exit(0)\n"
        "CacheService.invalidate = _dying_invalidate\n",
        base="reference_solutions",
    ),
    Case(
        "imports_known_bad",
        # Known hole of the caching tutorial, pinned: its known-bad base class is correct
        # with default flags and must stay importable for the known-bad runs.
        '"""Borrowed from the tutorial\'s known-bad implementations."""\n'
        "from pytest_tutorial.tutorials.caching.known_bad import (\n"
        "    JSONValue, NaiveCacheService as CacheService, monitor,\n"
        ")\n",
        replace=True,
    ),
    Case(
        "patches_the_checks",
        # Known limit, pinned: code sharing the process with the checks can rewrite them.
        "import sys as _sys\n"
        "def _noop(*args, **kwargs):\n"
        "    return None\n"
        "for _name, _module in list(_sys.modules.items()):\n"
        "    if _name.startswith('pytest_tutorial.tutorials.caching.check_'):\n"
        "        for _value in list(vars(_module).values()):\n"
        "            if getattr(_value, '__name__', '').startswith('test_'):\n"
        "                try:\n"
        "                    _value.__code__ = _noop.__code__\n"
        "                except (AttributeError, ValueError):\n"
        "                    pass\n",
        learner_tests=True,
    ),
)

CASES = (*CONTAINMENT_CASES, *STREAM_CASES, *WORKER_CASES, *LIMIT_CASES)
