"""Vectorised writing of telemetry JSON Lines.

A GPS tag sends a fix a minute, so the simulator writes millions of near-identical lines. Formatting
each with Python costs about 2.5 µs a line; here whole columns become bytes with numpy. Numbers are
right-aligned in fixed-width fields padded with spaces, which JSON allows between tokens, so every
fix line of a run has the same width and a block of lines is one uint8 matrix: a template row copied
n times, with each field's digits written into its columns from lookup tables (four digits, or a
whole clock time, per gathered integer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPACE, MINUS = ord(" "), ord("-")

# "0000" .. "9999" as one uint32 each: gathering whole words is far cheaper than gathering bytes.
_LUT4 = np.frombuffer(b"".join(b"%04d" % k for k in range(10_000)), dtype=np.uint32)
_POW10 = 10 ** np.arange(1, 19, dtype=np.int64)


def _zero_padded(a: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as zero-padded decimals: an (n, width) uint8 matrix."""
    chunks = -(-width // 4)
    words = np.empty((len(a), chunks), dtype=np.uint32)
    rest = a
    for k in range(chunks - 1, -1, -1):
        rest, low = np.divmod(rest, 10_000)
        words[:, k] = _LUT4[low]
    return words.view(np.uint8).reshape(len(a), 4 * chunks)[:, 4 * chunks - width :]


def _blank_leading(field: np.ndarray, ndigits: np.ndarray, negative: np.ndarray | None) -> None:
    """Turn the zeros before each number's first significant digit into spaces, and put a minus
    sign just before that digit where the number is negative."""
    width = field.shape[1]
    blanks = width - ndigits
    lo, hi = int(blanks.min()), int(blanks.max())
    if lo == hi:  # the usual case: every number in a block has as many digits
        field[:, :lo] = SPACE
    else:
        field[np.arange(width)[None, :] < blanks[:, None]] = SPACE
    if negative is not None and negative.any():
        rows = np.flatnonzero(negative)
        field[rows, blanks[rows] - 1] = MINUS


def _ndigits(a: np.ndarray) -> np.ndarray:
    return np.searchsorted(_POW10, a, side="right") + 1


def _put_int(out: np.ndarray, col: int, values: np.ndarray, width: int) -> None:
    """Right-aligned, space-padded integers into columns [col, col + width)."""
    v = np.asarray(values, dtype=np.int64)
    a = np.abs(v)
    field = out[:, col : col + width]
    field[:] = _zero_padded(a, width)
    _blank_leading(field, _ndigits(a), v < 0)


def _put_fixed(out: np.ndarray, col: int, values: np.ndarray, int_width: int, decimals: int) -> None:
    """Fixed-point numbers: sign and integer part right-aligned in int_width columns, a dot, decimals."""
    scaled = np.rint(np.asarray(values, dtype=np.float64) * 10**decimals).astype(np.int64)
    a = np.abs(scaled)
    digits = _zero_padded(a, int_width + decimals)
    out[:, col : col + int_width] = digits[:, :int_width]
    out[:, col + int_width] = ord(".")
    out[:, col + int_width + 1 : col + int_width + 1 + decimals] = digits[:, int_width:]
    # At least one digit before the dot (0.5, -0.5).
    ndig = np.maximum(_ndigits(a // 10**decimals), 1)
    _blank_leading(out[:, col : col + int_width], ndig, scaled < 0)


_CLOCK: np.ndarray | None = None


def _clock() -> np.ndarray:
    """ "HH:MM:SS" for every second of a day, as one uint64 each, built once (691 KB)."""
    global _CLOCK
    if _CLOCK is None:
        text = b"".join(b"%02d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60) for s in range(86400))
        _CLOCK = np.frombuffer(text, dtype=np.uint64)
    return _CLOCK


def _civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = days + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    return np.where(m <= 2, y + 1, y), m, d


ISO_WIDTH = 20  # YYYY-MM-DDTHH:MM:SSZ


def _put_iso(out: np.ndarray, col: int, epoch_s: np.ndarray) -> None:
    """YYYY-MM-DDTHH:MM:SSZ for whole seconds since the Unix epoch (civil-from-days, vectorised)."""
    t = np.asarray(epoch_s, dtype=np.int64)
    days, secs = np.divmod(t, 86400)
    # A batch spans few days: format each day once.
    first = int(days.min()) if len(days) else 0
    span = np.arange(first, (int(days.max()) if len(days) else first) + 1)
    y, m, d = _civil(span)
    dates = np.concatenate([_zero_padded(y, 4), _zero_padded(m, 2), _zero_padded(d, 2)], axis=1)
    date_part = dates[days - first]
    out[:, col : col + 4] = date_part[:, :4]
    out[:, col + 5 : col + 7] = date_part[:, 4:6]
    out[:, col + 8 : col + 10] = date_part[:, 6:8]
    out[:, col + 11 : col + 19] = _clock()[secs].view(np.uint8).reshape(len(t), 8)
    for offset, char in ((4, b"-"), (7, b"-"), (10, b"T"), (19, b"Z")):
        out[:, col + offset] = ord(char)


@dataclass
class Iso:
    epoch_s: np.ndarray  # whole seconds


@dataclass
class Int:
    values: np.ndarray
    width: int


@dataclass
class Fixed:
    values: np.ndarray
    int_width: int
    decimals: int


@dataclass
class Bool:
    values: np.ndarray  # written "true " or "false": a space before the next token is valid JSON


Field = Iso | Int | Fixed | Bool


def _width(f: Field) -> int:
    if isinstance(f, Iso):
        return ISO_WIDTH
    if isinstance(f, Int):
        return f.width
    if isinstance(f, Fixed):
        return f.int_width + 1 + f.decimals
    return 5


def lines(n: int, parts: list[bytes | Field]) -> np.ndarray:
    """n lines of constant bytes and fields, as an (n, width) uint8 matrix: a template row copied n
    times, then each field's columns written in place."""
    row = bytearray()
    placed: list[tuple[int, Field]] = []
    for p in parts:
        if isinstance(p, bytes):
            row += p
        else:
            placed.append((len(row), p))
            row += b" " * _width(p)
    out = np.empty((n, len(row)), dtype=np.uint8)
    out[:] = np.frombuffer(bytes(row), dtype=np.uint8)
    if not n:
        return out
    for col, f in placed:
        if isinstance(f, Iso):
            _put_iso(out, col, f.epoch_s)
        elif isinstance(f, Int):
            _put_int(out, col, f.values, f.width)
        elif isinstance(f, Fixed):
            _put_fixed(out, col, f.values, f.int_width, f.decimals)
        else:
            v = np.asarray(f.values, dtype=bool)
            out[v, col : col + 5] = _TRUE
            out[~v, col : col + 5] = _FALSE
    return out


_TRUE, _FALSE = np.frombuffer(b"true ", dtype=np.uint8), np.frombuffer(b"false", dtype=np.uint8)


def _device(device: str, width: int) -> bytes:
    dev = device.encode()
    return b'{"device":"' + dev + b'"' + b" " * max(0, width - len(dev))


def fix_lines(
    device: str,
    epoch_s: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    accuracy_m: np.ndarray,
    seq: np.ndarray,
    device_width: int = 16,
) -> np.ndarray:
    """Telemetry ``fix`` lines as a (n, width) uint8 matrix; ``.tobytes()`` is valid JSON Lines."""
    return lines(len(epoch_s), [_device(device, device_width) + b',"time":"', Iso(epoch_s), b'","type":"fix","lat":',
                                Fixed(lat, 4, 6), b',"lon":', Fixed(lon, 4, 6), b',"accuracy_m":',
                                Fixed(accuracy_m, 4, 1), b',"seq":', Int(seq, 10), b"}\n"])  # fmt: skip


def power_lines(
    device: str, epoch_s: np.ndarray, battery_pct: np.ndarray, charging: np.ndarray, width: int
) -> np.ndarray:
    return lines(len(epoch_s), [_device(device, width) + b',"time":"', Iso(epoch_s), b'","type":"power","battery_pct":',
                                Int(battery_pct, 3), b',"charging":', Bool(charging), b"}\n"])  # fmt: skip


def heartbeat_lines(device: str, epoch_s: np.ndarray, width: int) -> np.ndarray:
    return lines(len(epoch_s), [_device(device, width) + b',"time":"', Iso(epoch_s), b'","type":"heartbeat"}\n'])


def rf_lines(device: str, epoch_s: np.ndarray, in_range: np.ndarray, width: int) -> np.ndarray:
    return lines(len(epoch_s), [_device(device, width) + b',"time":"', Iso(epoch_s), b'","type":"rf","in_range":',
                                Bool(in_range), b"}\n"])  # fmt: skip


def iso_utc_strings(epoch_s: np.ndarray) -> list[bytes]:
    """The timestamps as separate ISO strings (for the less frequent reading types)."""
    block = np.empty((len(epoch_s), ISO_WIDTH), dtype=np.uint8)
    _put_iso(block, 0, epoch_s)
    return block.view(f"S{ISO_WIDTH}").ravel().tolist()
