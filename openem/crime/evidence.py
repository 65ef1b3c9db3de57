"""The positions a match was made on, kept with the finding: docs/crime-hub.md, "Evidence".

When the crime worker finds a match it copies, from the trail it matched on, the person's fixes in the
crime's widened window and the matcher's max gap either side of it (the fixes a line into the window can
start or end at), with the fix just before and just after those, so that the matcher could be run again on
the copy alone and say the same. Each fix keeps its time, position, confidence radius as reported, device,
the speed and heading from the fix before it, and whether it was near, inside the widened window, and
certain enough to be used. The review map, the positions CSV and the proximity report read this copy,
never the live trail: trimming the trail by retention, correcting it or fixes arriving late change
nothing the hub reviewed or police were given.

Stored as the trail store stores fixes (``openem.telemetry.trail``): little-endian records, here
compressed with zlib, and a SHA-256 of the records and device names so that a report can name the evidence
it was made from and a damaged copy is refused rather than shown. 39 bytes a fix, some 30 once compressed: a
12-hour crime window with its buffers at a fix a minute (about 800 fixes) keeps about 25 KB. Only matches
keep positions: a batch of 1,000 crimes with 2,300 matches, some 60 MB. No Django here.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FORMAT = "crime-evidence/1"
RECORD = np.dtype(
    [
        ("t", "<f8"),  # Unix seconds, as stored in the trail
        ("lat", "<f8"),
        ("lon", "<f8"),
        ("acc", "<f4"),  # confidence radius as reported; NaN: not reported
        ("speed", "<f4"),  # km/h from the fix before; NaN: first, or at the same time
        ("heading", "<f4"),  # degrees from north, from the fix before; NaN: first, or moved under 5 m
        ("device", "<u2"),  # index into the device names
        ("flags", "u1"),
    ]
)
NEAR, IN_WINDOW, USED = 1, 2, 4  # flags: one of the fixes that show the match; inside the widened window;
# certain enough for the matcher to use (its confidence radius at most the max accuracy, or not reported)
STILL_M = 5.0  # moved less than this from the fix before: no heading (a wearer standing still jitters)


class EvidenceRefused(ValueError):
    """The kept positions cannot be shown: they are not those the match was made on (their digest differs),
    or were stored in a format this version does not read. Refused rather than shown."""


@dataclass
class StoredFixes:
    """Fixes as kept with a finding: ``records`` (of ``RECORD``) in time order and the device names."""

    records: np.ndarray
    devices: list[str]

    def __len__(self) -> int:
        return len(self.records)

    def pack(self) -> bytes:
        return zlib.compress(self.records.tobytes(), 6)

    @classmethod
    def unpack(cls, data: bytes, devices: Sequence[str], sha256: str = "") -> StoredFixes:
        """From ``pack``'s bytes; with ``sha256``, refused (EvidenceRefused) unless it is the digest they had."""
        try:
            records = np.frombuffer(zlib.decompress(bytes(data)), dtype=RECORD)
        except (zlib.error, ValueError) as exc:  # damaged past reading: refused as altered would be
            raise EvidenceRefused(f"the stored positions cannot be read ({exc})") from exc
        got = cls(records, list(devices))
        if sha256 and got.sha256() != sha256:
            raise EvidenceRefused("the stored positions are not those the match was made on (their digest differs)")
        return got

    def sha256(self) -> str:
        """The digest of the records and the device names: the same evidence gives the same digest."""
        digest = hashlib.sha256(self.records.tobytes())
        digest.update(json.dumps(self.devices).encode())
        return digest.hexdigest()

    def flagged(self, flag: int) -> np.ndarray:
        return (self.records["flags"] & flag) != 0

    def shown(self) -> StoredFixes:
        """The fixes a reviewer is shown: those in the widened window, and any near one just outside it (the
        far end of a line near the place that crosses the window's edge)."""
        keep = self.flagged(IN_WINDOW | NEAR)
        return StoredFixes(self.records[keep], self.devices)

    def device_names(self) -> list[str]:
        return [self.devices[i] for i in self.records["device"].tolist()]


def capture(
    t: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    acc: np.ndarray,
    devices: Sequence[str],
    near: Sequence[int],
    w0: float,
    w1: float,
    margin_s: float,
    max_accuracy_m: float,
) -> StoredFixes:
    """One person's fixes (columns in time order; ``devices`` the device of each) kept for a match on a
    crime whose widened window is [w0, w1]: those in [w0 - margin_s, w1 + margin_s], the one before and
    the one after, and every fix in ``near`` (indices into the columns)."""
    n = len(t)
    a = int(np.searchsorted(t, w0 - margin_s, side="left"))
    b = int(np.searchsorted(t, w1 + margin_s, side="right"))
    keep = np.zeros(n, dtype=bool)
    keep[max(a - 1, 0) : min(b + 1, n)] = True
    near_at = np.asarray(list(near), dtype=np.int64)
    keep[near_at] = True
    idx = np.flatnonzero(keep)
    names = sorted({str(devices[i]) for i in idx.tolist()}) if len(devices) else []
    number = {d: k for k, d in enumerate(names)}
    out = np.zeros(len(idx), dtype=RECORD)
    out["t"], out["lat"], out["lon"], out["acc"] = t[idx], lat[idx], lon[idx], acc[idx]
    if len(devices):
        out["device"] = [number[str(devices[i])] for i in idx.tolist()]
    flags = np.zeros(len(idx), dtype=np.uint8)
    flags[np.isin(idx, near_at)] |= NEAR
    flags[(out["t"] >= w0) & (out["t"] <= w1)] |= IN_WINDOW
    flags[~(out["acc"] > max_accuracy_m)] |= USED  # NaN (not reported) is used: the unreported radius applies
    out["flags"] = flags
    out["speed"], out["heading"] = movement(out["t"], out["lat"], out["lon"])
    return StoredFixes(out, names)


def movement(t: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Speed (km/h) and heading (degrees from north) of each fix from the one before: tags report
    neither. Distance in a plane centred on the earlier fix (the matcher's); NaN where there is none."""
    from .matching import _plane

    speed = np.full(len(t), np.nan)
    heading = np.full(len(t), np.nan)
    if len(t) < 2:
        return speed, heading
    x, y = _plane(lat[1:], lon[1:], lat[:-1], lon[:-1])
    d = np.hypot(x, y)
    dt = t[1:] - t[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        speed[1:] = np.where(dt > 0, d / dt * 3.6, np.nan)
    mid = np.radians((lat[1:] + lat[:-1]) / 2)
    bearing = np.degrees(np.arctan2(np.radians(lon[1:] - lon[:-1]) * np.cos(mid), np.radians(lat[1:] - lat[:-1])))
    heading[1:] = np.where(d >= STILL_M, bearing % 360, np.nan)
    return speed, heading
