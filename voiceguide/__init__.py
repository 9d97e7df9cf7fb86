"""voiceguide: voice-guided upper-back mobility routines.

The library API lives in `voiceguide.api`; the command line is a thin layer over it.
"""

__version__ = "0.1.0"
