"""Attacks on the channel between the checks and the submission's worker.

With workers (``grade``'s default) the submission's code runs in a process of its own and
answers the checks' calls over a framed JSON channel. These cases attack that channel
from the worker's side: they rewrite the worker's own serving code, lie about the types of
what they return, return values too big or too deep to cross, block the channel with a
frame that never arrives, or flood it. All are built on the starter, so every point they
score would be forged. In the in-process mode they find no worker and stay the starter.
"""

from __future__ import annotations

from tests.adversarial.case import Case

_CHANNEL_FD = (
    # The worker's channel is the file descriptor named by its last argument.
    "import os as _os, sys as _sys\n"
    "try:\n"
    "    _fd = int(_sys.argv[-1])\n"
    "    _os.fstat(_fd)\n"
    "except (ValueError, OSError):\n"
    "    _fd = None\n"
)

WORKER_CASES = (
    Case(
        "patches_the_proxy",
        # Every answer of the worker becomes True, whatever the check asked.
        "import gc as _gc\n"
        "for _server in [o for o in _gc.get_objects() if type(o).__name__ == 'WorkerServer']:\n"
        "    _server._dispatch = lambda message: True\n"
        "    _server.codec.encode = lambda value, depth=0: True\n",
    ),
    Case(
        "lies_about_types",
        "class _Liar(dict):\n"
        "    __class__ = property(lambda self: dict)\n"
        "    def __eq__(self, other): return True\n"
        "    def __ne__(self, other): return False\n"
        "    __hash__ = None\n"
        "def _lie(self, *args, **kwargs):\n"
        "    return _Liar(value=1)\n"
        "CacheService.get_or_compute = _lie\n"
        "CacheService.get = _lie\n"
        "CacheService.stats = _lie\n",
    ),
    Case(
        "huge_and_deep_values",
        # Just over the channel's 32 MiB cap; made once (a new one each call would only
        # measure the allocator).
        "_HUGE = 'x' * (33 * 1024 * 1024)\n"
        "def _huge(self, *args, **kwargs):\n"
        "    return _HUGE\n"
        "def _deep(self, *args, **kwargs):\n"
        "    value = []\n"
        "    for _ in range(100000):\n"
        "        value = [value]\n"
        "    return value\n"
        "CacheService.get_or_compute = _huge\n"
        "CacheService.get = _deep\n"
        "CacheService.stats = _deep\n",
    ),
    Case(
        "blocks_the_channel",
        # The header of a frame (2 GiB) whose body never comes.
        _CHANNEL_FD + "if _fd is not None:\n    _os.write(_fd, (2**31 - 1).to_bytes(4, 'big'))\n",
    ),
    Case(
        "floods_the_channel",
        # Log frames as fast as the socket takes them, from a thread of its own.
        _CHANNEL_FD + "import json as _json, threading as _threading\n"
        "def _flood(fd):\n"
        "    frame = _json.dumps({'op': 'log', 'level': 40, 'name': 'flood',\n"
        "                         'message': 'x' * 1000}).encode()\n"
        "    data = len(frame).to_bytes(4, 'big') + frame\n"
        "    while True:\n"
        "        try:\n"
        "            _os.write(fd, data)\n"
        "        except OSError:\n"
        "            return\n"
        "if _fd is not None:\n"
        "    _threading.Thread(target=_flood, args=(_fd,), daemon=True).start()\n",
    ),
)
