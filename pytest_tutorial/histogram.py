"""Latency distributions as a picture: log-spaced buckets and a one-line sparkline.

People read a shape faster than a table: the report carries the buckets, the terminal
draws them as a row of block characters between the fastest and the slowest request.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_tutorial.report_model import Histogram as HistogramEntry

BUCKETS = 16
BLOCKS = " ▁▂▃▄▅▆▇█"
ASCII_BLOCKS = " .:-=+*#%@"


@dataclass(frozen=True)
class Histogram:
    """Counts of latencies in ``len(counts)`` log-spaced buckets between ``edges_ms``."""

    edges_ms: tuple[float, ...]
    counts: tuple[int, ...]

    def as_dict(self) -> HistogramEntry:
        """Plain values for the report."""
        return {"edges_ms": [round(edge, 6) for edge in self.edges_ms], "counts": list(self.counts)}

    def sparkline(self, *, ascii_only: bool = False) -> str:
        """One character per bucket, its height the bucket's share of the tallest."""
        blocks = ASCII_BLOCKS if ascii_only else BLOCKS
        tallest = max(self.counts, default=0)
        if not tallest:
            return ""
        top = len(blocks) - 1
        return "".join(
            blocks[math.ceil(count / tallest * top)] if count else blocks[0]
            for count in self.counts
        )


def histogram(latencies_ns: Sequence[int], buckets: int = BUCKETS) -> Histogram:
    """Bucket latencies (nanoseconds) geometrically from the fastest to the slowest."""
    if not latencies_ns:
        return Histogram((), ())
    low, high = max(min(latencies_ns), 1), max(max(latencies_ns), 1)
    if high <= low:
        return Histogram((low / 1e6, high / 1e6), (len(latencies_ns),))
    ratio = (high / low) ** (1 / buckets)
    edges = [low * ratio**step for step in range(buckets + 1)]
    counts = [0] * buckets
    log_low, log_ratio = math.log(low), math.log(ratio)
    for value in latencies_ns:
        index = int((math.log(max(value, 1)) - log_low) / log_ratio)
        counts[min(max(index, 0), buckets - 1)] += 1
    return Histogram(tuple(edge / 1e6 for edge in edges), tuple(counts))
