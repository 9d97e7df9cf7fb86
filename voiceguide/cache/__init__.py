"""A disk cache of synthesized clips, so a routine speaks instantly the second time.

An entry is a WAV file named by the sha256 of everything that shapes the clip (text, voice,
rate, volume, engine). After the WAV's data comes one more RIFF chunk, "vgck", holding the
sha256 of all bytes before it: a truncated or corrupted entry fails that check and is
deleted and synthesized again. Entries are written to a temporary file in the same
directory and renamed into place, so a reader, even in another process, sees a whole entry
or none. Only regular files are read (never a link, FIFO or device put in its place).

The cache has a size limit (config `cache_limit_mb`): an entry's modification time is
touched whenever it is used, and once the limit is passed the least recently used go first.
Temporary files carry their writer's process id, so what a killed process left is found and
removed by the next one that uses the cache.

One module per idea: `entry` (an entry's bytes and its checksum; reading one safely),
`temporary` (names that carry their writer's process id), `limit` (the configured size
limit), `clips` (ClipCache: the folder of entries, eviction) and `synthesizer`
(CachedSynthesizer: the cache in front of an engine).
"""

from .clips import ClipCache, Info, default_directory
from .entry import MAX_ENTRY_BYTES, read_regular
from .entry import _decode as _decode  # store.py writes and reads its files as entries
from .entry import _encode as _encode
from .limit import DEFAULT_LIMIT_MB, LIMIT_RANGE_MB, configured_limit_mb
from .synthesizer import CachedSynthesizer
from .temporary import RUN_PREFIX, temp_name

__all__ = [
    "DEFAULT_LIMIT_MB",
    "LIMIT_RANGE_MB",
    "MAX_ENTRY_BYTES",
    "RUN_PREFIX",
    "CachedSynthesizer",
    "ClipCache",
    "Info",
    "configured_limit_mb",
    "default_directory",
    "read_regular",
    "temp_name",
]
