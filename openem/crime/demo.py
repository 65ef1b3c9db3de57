"""The demo's crime batch: Leicestershire Police send yesterday's burglaries and thefts in Rutland, some on
the simulated wearers' paths (matches for the hub to review) and some where nobody monitored was (ruled
out), with one row the force must put right; the crime worker matches it; the hub has qualified one match
and released another, so every stage of the journey is on screen."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from openem.accounts.models import User
from openem.devices.models import Fitting
from openem.telemetry import trail as trail_store

from .batches import COLUMNS
from .models import BatchSource, Finding, ReviewState, Verdict
from .services import receive_batch
from .worker import CrimeWorker

FORCE = "Leicestershire Police"
# Places a couple of kilometres out of Oakham where nobody in the demo goes: their crimes, at times when the
# trails are complete, rule the monitored out (within OPENEM_CRIME_RULED_OUT_WITHIN_M, so they are named).
QUIET_PLACES = [(52.6480, -0.7000, "Burglary other than a dwelling", "BOTD"), (52.6950, -0.7600, "Robbery", "RB")]


QUIET_WINDOW = timedelta(minutes=15)


def _complete_times(end: datetime) -> list[datetime]:
    """Two times in the last day when the most wearers' trails have no gap across a quiet crime's window
    (with the matcher's buffer): there the matcher can rule them out, which is what these crimes show."""
    import numpy as np

    from .settings import from_settings

    params = from_settings()
    margin = timedelta(minutes=params.buffer_min + params.max_gap_min)
    devices = list(
        Fitting.objects.filter(device__kind="gps", removed_at__isnull=True).values_list("device__ref", flat=True)
    )
    lo, hi = end - timedelta(hours=28), end - timedelta(hours=2)
    read = trail_store.window(devices, (lo - margin).timestamp(), (hi + QUIET_WINDOW + margin).timestamp())
    gap_s = params.max_gap_min * 60
    scored = []
    for k in range(int((hi - lo) / timedelta(minutes=20))):
        t = lo + timedelta(minutes=20 * k)
        a, b = (t - margin).timestamp(), (t + QUIET_WINDOW + margin).timestamp()
        complete = 0
        for fixes in read.values():
            inside = fixes.t[(fixes.t >= a) & (fixes.t < b)]
            edges = np.concatenate([[a], inside, [b]])
            complete += bool(len(inside)) and bool(np.diff(edges).max() <= gap_s)
        scored.append((complete, t))
    best = sorted(scored, key=lambda x: -x[0])
    picked: list[datetime] = []
    for _, t in best:  # two times at least three hours apart
        if all(abs((t - p).total_seconds()) >= 3 * 3600 for p in picked):
            picked.append(t)
        if len(picked) == 2:
            break
    return picked


def _stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def demo_crime_batch(until: float) -> str:
    police = User.objects.filter(username="priya.police").first()
    hub = User.objects.filter(username="hana.caseworker").first()
    manager = User.objects.filter(username="hugo.hubmanager").first()
    if police is None or hub is None or manager is None:
        return "No crime batch: the personas are missing."
    end = datetime.fromtimestamp(until, UTC)
    rows: list[list[str]] = []
    # Three crimes on wearers' paths, yesterday afternoon, twenty metres from where their tags were.
    fittings = Fitting.objects.filter(device__kind="gps", removed_at__isnull=True).select_related("device")
    for n, f in enumerate(fittings.order_by("device__ref")[:12]):
        if len(rows) == 3:
            break
        at = end - timedelta(hours=20 + 2 * n)
        fixes = trail_store.fixes(f.device.ref, at.timestamp() - 900, at.timestamp() + 900)
        if len(fixes) < 5:
            continue
        i = len(fixes) // 2
        lat, lon = float(fixes.lat[i]) + 0.00018, float(fixes.lon[i])
        when = datetime.fromtimestamp(float(fixes.t[i]), UTC)
        kind = (
            ("BIAD", "Burglary in a dwelling"),
            ("TFMV", "Theft from a motor vehicle"),
            ("TFP", "Theft from the person"),
        )[len(rows)]
        rows.append(
            [
                FORCE,
                kind[0],
                kind[1],
                "LP-DEMO-1",
                f"LP/{4101 + len(rows)}/26",
                _stamp(when - timedelta(minutes=20)),
                _stamp(when + timedelta(minutes=25)),
                "",
                "",
                f"{lat:.6f}",
                f"{lon:.6f}",
                "WGS84",
                "Reported by the householder; entry through a rear window.",
            ]
        )
    for k, ((lat, lon, label, code), when) in enumerate(zip(QUIET_PLACES, _complete_times(end), strict=False)):
        rows.append(
            [
                FORCE,
                code,
                label,
                "LP-DEMO-1",
                f"LP/{4201 + k}/26",
                _stamp(when),
                _stamp(when + QUIET_WINDOW),
                "",
                "",
                f"{lat:.6f}",
                f"{lon:.6f}",
                "WGS84",
                "No suspect seen.",
            ]
        )
    # Sent as a grid reference (Oakham market place), and one row the force must put right: both locations.
    when = end - timedelta(hours=30)
    rows.append(
        [
            FORCE,
            "TOMV",
            "Theft of a motor vehicle",
            "LP-DEMO-1",
            "LP/4301/26",
            _stamp(when),
            _stamp(when + timedelta(hours=3)),
            "486060",
            "308780",
            "",
            "",
            "OSGB36",
            "Van taken from the yard.",
        ]
    )
    rows.append(
        [
            FORCE,
            "AB",
            "Attempted burglary",
            "LP-DEMO-1",
            "LP/4302/26",
            _stamp(when),
            _stamp(when + timedelta(hours=1)),
            "486060",
            "308780",
            "52.6705",
            "-0.7276",
            "OSGB36",
            "",
        ]
    )
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    got = receive_batch(
        police,
        buf.getvalue().encode(),
        filename="LP-DEMO-1.csv",
        source=BatchSource.PORTAL,
        lawful_basis="investigation",
        purpose="Operation Larch: acquisitive crime in Rutland, weekly batch",
    )
    CrimeWorker("demo-setup").run_once(now=timezone.now())
    matches = list(Finding.objects.filter(run__batch=got.batch, verdict=Verdict.MATCH).order_by("crime__reference"))
    if matches:
        first = matches[0]
        first.qualify(hub, "The trail passes the address in the crime window; positions are accurate to 10 m.")
        first.release(manager)
    if len(matches) > 1:
        matches[1].qualify(hub, "Two positions inside the distance in the window, consistent with walking past.")
    pending = Finding.objects.filter(run__batch=got.batch, review=ReviewState.PENDING).count()
    ruled_out = Finding.objects.filter(run__batch=got.batch, verdict=Verdict.NOT_THERE).count()
    return (
        f"Crime batch LP-DEMO-1 from {FORCE}: {got.batch.rows_accepted} of {got.batch.rows_read} rows accepted, "
        f"{len(matches)} possible matches ({pending} waiting for the hub), {ruled_out} people ruled out."
    )
