"""G.711 µ-law and A-law expansion to 16-bit linear PCM, by table.

The tables follow the ITU-T G.711 reference expansion (the classic ``g711.c``
``ulaw2linear``/``alaw2linear``), built once at import from the bit layout rather
than copied, so there is nothing to mistype. Decoding a block is one numpy take.
"""

from __future__ import annotations

import numpy as np

_QUANT_MASK = 0x0F
_SEG_MASK = 0x70
_SEG_SHIFT = 4
_SIGN_BIT = 0x80
_ULAW_BIAS = 0x84


def ulaw_to_linear(code: int) -> int:
    """Expand one µ-law byte to a 16-bit sample."""
    u = ~code & 0xFF
    t = ((u & _QUANT_MASK) << 3) + _ULAW_BIAS
    t <<= (u & _SEG_MASK) >> _SEG_SHIFT
    return _ULAW_BIAS - t if u & _SIGN_BIT else t - _ULAW_BIAS


def alaw_to_linear(code: int) -> int:
    """Expand one A-law byte to a 16-bit sample."""
    a = code ^ 0x55
    t = (a & _QUANT_MASK) << 4
    seg = (a & _SEG_MASK) >> _SEG_SHIFT
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t += 0x108
        t <<= seg - 1
    return t if a & _SIGN_BIT else -t


ULAW_TABLE = np.array([ulaw_to_linear(i) for i in range(256)], dtype=np.int16)
ALAW_TABLE = np.array([alaw_to_linear(i) for i in range(256)], dtype=np.int16)


def ulaw_decode(data: bytes | np.ndarray) -> np.ndarray:
    codes = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes | bytearray) else data
    return ULAW_TABLE[codes]


def alaw_decode(data: bytes | np.ndarray) -> np.ndarray:
    codes = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes | bytearray) else data
    return ALAW_TABLE[codes]
