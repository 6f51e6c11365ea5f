"""Learner code in a separate, sandboxable worker process; checks in the trusted one.

The process that runs pytest, the checks and the fakes need never import the learner's
code: a worker process does, and serves calls over a socket. Only plain values cross
(:mod:`.codec`), in length-prefixed JSON frames (:mod:`.channel`); anything else crosses as
a handle the other side can call. :mod:`.worker` is the worker's side, :mod:`.remote` the
trusted side's, :mod:`.redis_bridge` serves a check's fake Redis to the worker, and
:mod:`.load_check` runs load tests in the worker with their figures checked from outside.
"""

from __future__ import annotations
