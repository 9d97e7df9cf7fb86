"""The history's clock: every time it stores or compares comes from `now`. The other modules
call it as `clock.now()`, looked up at each call, so a test can move time by replacing it here.
"""

from __future__ import annotations

import datetime
import time


def now() -> datetime.datetime:
    """The time a session starts or moves on, in UTC (tests move it)."""
    return datetime.datetime.now(datetime.UTC)


def local(moment: datetime.datetime) -> datetime.datetime:
    """`moment` on the local wall clock (naive), for display and for counting days. A zone
    Python's datetime cannot hold (TZ=UTC+24: a whole day's offset) is read from the C
    library instead, and a moment no zone can show (the year 1) stays in UTC: never an error
    from a clock."""
    try:
        return moment.astimezone().replace(tzinfo=None)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        return datetime.datetime(*time.localtime(moment.timestamp())[:6])
    except (ValueError, OverflowError, OSError):
        return moment.astimezone(datetime.UTC).replace(tzinfo=None)
