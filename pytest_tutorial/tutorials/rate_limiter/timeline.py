"""The rules every correct limiter keeps over a timeline of requests on one key.

They hold for a sliding-window log, a sliding-window counter and a token bucket alike,
and each classic bug breaks one (the tutorial states them under "Validation Checklist"):

- **never too many**: within any span of T < window seconds, at most
  ``limit + limit * T / window`` requests are admitted (a fixed window admits twice the
  limit in the instant around its edge);
- **never refused for nothing**: a request is refused only when at least ``limit``
  requests were admitted in the two windows before it (counting refused requests, or an
  off-by-one, refuses a key that has barely been used);
- **an honest retry-after**: an admitted request says 0, a refused one a figure above 0
  and at most two windows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """One request on one key: when (ms after the epoch) and the decision's figures."""

    at_ms: int
    allowed: bool
    retry_after: float


def seconds(at_ms: int) -> str:
    """A time of the timeline as a message shows it."""
    return f"t={at_ms / 1000:.3f} s"


def broken_rules(events: list[Event], *, limit: int, window_ms: int, key: str) -> list[str]:
    """What ``events`` (one key, in time order) break of the rules above, at most three."""
    problems = _too_many(events, limit, window_ms, key)
    problems += _refused_for_nothing(events, limit, window_ms, key)
    problems += _dishonest_retry_after(events, window_ms, key)
    return problems[:3]


def _too_many(events: list[Event], limit: int, window_ms: int, key: str) -> list[str]:
    admitted = [event.at_ms for event in events if event.allowed]
    for first, start in enumerate(admitted):
        for last in range(first + limit, len(admitted)):
            span = admitted[last] - start
            if span >= window_ms:
                break
            count = last - first + 1
            if count * window_ms > limit * window_ms + limit * span:
                return [
                    f"key {key!r} admitted {count} requests between {seconds(start)} and "
                    f"{seconds(admitted[last])} ({span} ms); at most "
                    f"{limit + limit * span / window_ms:.2f} may pass in a span that short "
                    f"(limit {limit} per {window_ms / 1000:g} s)"
                ]
    return []


def _refused_for_nothing(events: list[Event], limit: int, window_ms: int, key: str) -> list[str]:
    for event in events:
        if event.allowed:
            continue
        recent = sum(
            1
            for other in events
            if other.allowed and event.at_ms - 2 * window_ms < other.at_ms <= event.at_ms
        )
        if recent < limit:
            return [
                f"key {key!r} was refused at {seconds(event.at_ms)} although only {recent} "
                f"request(s) were admitted in the {2 * window_ms / 1000:g} s before it "
                f"(limit {limit}); refused requests must not use up the allowance"
            ]
    return []


def _dishonest_retry_after(events: list[Event], window_ms: int, key: str) -> list[str]:
    for event in events:
        if event.allowed and event.retry_after != 0:
            return [
                f"key {key!r} was admitted at {seconds(event.at_ms)} with retry_after "
                f"{event.retry_after!r}; an admitted request's retry_after is 0"
            ]
        if not event.allowed and not 0 < event.retry_after <= 2 * window_ms / 1000:
            return [
                f"key {key!r} was refused at {seconds(event.at_ms)} with retry_after "
                f"{event.retry_after!r}; expected seconds above 0 and at most two windows"
            ]
    return []
