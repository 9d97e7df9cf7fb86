"""The hands-free player: the rendered routine on the device's clock, with controls that keys
and voice both drive.

One module per idea: `playing` (the Player: buffers on the device clock, confirmations),
`controls` (what each control does, and the queue keys and voice share), `status` (what the
status line shows), `quiet` (when the player is silent, for listening's half-duplex gate).
"""

from .controls import KEYS, Control, Controls
from .playing import EXTRA_MS, Player
from .quiet import Quiet
from .status import State, Status

__all__ = ["EXTRA_MS", "KEYS", "Control", "Controls", "Player", "Quiet", "State", "Status"]
