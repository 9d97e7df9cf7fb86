"""The history's clock: every time it stores or compares comes from `now`. The other modules
call it as `clock.now()`, looked up at each call, so a test can move time by replacing it here.
"""

from __future__ import annotations

import datetime


def now() -> datetime.datetime:
    """The time a session starts or moves on, in UTC (tests move it)."""
    return datetime.datetime.now(datetime.UTC)
