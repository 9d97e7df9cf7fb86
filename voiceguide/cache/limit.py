"""The cache's size limit, config `cache_limit_mb`: its default, its range, and the value read
from the config file (a bad one names the file and the key).
"""

from __future__ import annotations

from ..errors import Problem, RoutineError

DEFAULT_LIMIT_MB = 1024
LIMIT_RANGE_MB = (10, 1_000_000)


def configured_limit_mb(config: dict[str, object] | None = None) -> float:
    """The config's `cache_limit_mb`, or the default; a bad value names the file and key."""
    from ..config import config_path, read_config

    value = (read_config() if config is None else config).get("cache_limit_mb", DEFAULT_LIMIT_MB)
    low, high = LIMIT_RANGE_MB
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise RoutineError(
            [
                Problem(
                    str(config_path()),
                    "cache_limit_mb",
                    f"must be megabytes from {low} to {high:,}, got {value!r}",
                )
            ]
        )
    return float(value)
