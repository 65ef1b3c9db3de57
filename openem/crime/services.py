"""Crime batches received (portal or API), ad-hoc searches asked for, and their senders told: what the
pages and the API call. The file is read and checked by the core (``batches.parse_batch``); matching is
the crime worker's (``worker.py``), never a request's."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from openem.audit.models import AuditAction, AuditEvent
from openem.uktime import plural

from . import forces
from .batches import COLUMNS, parse_batch
from .models import AdHocSearch, BatchSource, BatchStatus, Crime, CrimeBatch, Finding, LawfulBasis, RowProblem
from .records import ParsedBatch
from .records import RowProblem as Problem


def basis_text(basis: LawfulBasis | str, purpose: str) -> str:
    """The lawful basis and purpose as the audit log records them."""
    return f"{LawfulBasis(basis).label}. Purpose: {purpose}"


def audit_people(user: Any, action: AuditAction, findings: Iterable[Finding], what: str) -> None:
    """One event per person among ``findings`` shown (a page, a CSV or an API answer naming them with how near
    they came, how long, or when their trail had gaps): so each person's record shows who looked, at which
    period (their crimes' widened windows) and why (the batch's lawful basis and purpose). ``what``: the page
    or file, as its own event names it. The findings need their crime, batch, run and person loaded."""
    by_person: dict[int, list[Finding]] = {}
    for f in findings:
        by_person.setdefault(f.person_id, []).append(f)
    signed_in = user is not None and user.is_authenticated
    events = []
    for shown in by_person.values():
        windows = [f.window() for f in shown]
        person, batch = shown[0].person, shown[0].crime.batch
        listed = "; ".join(f"crime {f.crime.reference}: {f.verdict_enum.label.lower()}" for f in shown[:10])
        more = f"; and {len(shown) - 10} more" if len(shown) > 10 else ""
        events.append(
            AuditEvent(
                actor_id=user.pk if signed_in else None,
                actor_name=user.get_username() if signed_in else "system",
                action=action.value,
                person_id=person.pk,
                person_ref=person.ref,
                object_type="CrimeBatch",
                object_id=str(batch.pk),
                summary=f"{what}: {plural(len(shown), 'finding')} about them ({listed}{more})",
                reason=basis_text(batch.lawful_basis, batch.purpose),
                period_start=min(w[0] for w in windows),
                period_end=max(w[1] for w in windows),
            )
        )
    AuditEvent.objects.bulk_create(events)


class WrongForce(Exception):
    """The file is another force's: an analyst sends only their own force's batches."""


@dataclass
class Received:
    batch: CrimeBatch
    problems: list[RowProblem]

    def to_json(self) -> dict[str, Any]:
        b = self.batch
        return {
            "batch": b.pk,
            "batch_id": b.batch_ref,
            "force": b.force,
            "status": b.status,
            "sha256": b.sha256,
            "rows_read": b.rows_read,
            "rows_accepted": b.rows_accepted,
            "rejected_because": b.rejected_because or None,
            "problems": [p.to_json() for p in self.problems],
            "status_url": settings.OPENEM_BASE_URL + reverse("crime-api:batch", args=[b.pk]),
            "page_url": settings.OPENEM_BASE_URL + reverse("crime:batch", args=[b.pk]),
        }


def receive_batch(
    user: Any, data: bytes, *, filename: str, lawful_basis: str, purpose: str, source: BatchSource
) -> Received:
    """Read the file, keep every valid row (a crime, versioned by its reference) and every problem with
    its row and column, record it with the lawful basis, and tell the sender. Raises ``WrongForce`` when
    the file names a force other than the sender's (nothing is kept but the refusal in the audit log)."""
    parsed = parse_batch(data, filename=filename, max_rows=settings.OPENEM_CRIME_MAX_ROWS, force_of=forces.key)
    force = user.police_force
    other_force = bool(parsed.force) and not forces.same_force(parsed.force, force or "")
    if other_force:
        AuditEvent.record(
            user,
            AuditAction.DENIED,
            summary=f"crime batch {parsed.batch_id or '?'} of {parsed.force} refused: "
            f"the sender works for {force or 'no force'}",
            reason=basis_text(lawful_basis, purpose),
        )
        accepted = f" (written {forces.ways_to_write(force)}, in any case)" if force else ""
        raise WrongForce(
            f"This file is from {parsed.force} (its policeForce column), and you send batches for "
            f"{force or 'no force'}{accepted}: send only your own force's crimes, or ask the hub if your force "
            "is wrong."
        )
    limit_to_force(parsed, force)
    rows = len(parsed.crimes) + len({p.row for p in parsed.problems if p.row > 1})
    if parsed.fatal or not parsed.crimes:
        status = BatchStatus.REJECTED
    elif parsed.problems:
        status = BatchStatus.PARTIAL
    else:
        status = BatchStatus.RECEIVED
    with transaction.atomic():
        batch = CrimeBatch.objects.create(
            force=force,
            batch_ref=parsed.batch_id,
            uploaded_by=user,
            lawful_basis=lawful_basis,
            purpose=purpose,
            source=source,
            filename=filename[:200],
            sha256=hashlib.sha256(data).hexdigest(),
            status=status,
            rows_read=rows,
            rows_accepted=len(parsed.crimes),
            rejected_because=parsed.fatal or ("" if parsed.crimes else "No row of the file could be used."),
        )
        problems = RowProblem.objects.bulk_create(
            [RowProblem(batch=batch, row=p.row, column=p.column[:40], message=p.message) for p in parsed.problems]
            + ([RowProblem(batch=batch, row=0, column="", message=parsed.fatal)] if parsed.fatal else [])
        )
        for c in parsed.crimes:
            Crime.add_version(
                batch=batch,
                force=force,
                reference=c.reference,
                row=c.row,
                crime_type=c.crime_type.value,
                crime_type_description=c.description[:200],
                window_start=c.start,
                window_end=c.end,
                lat=c.lat,
                lon=c.lon,
                easting=c.easting,
                northing=c.northing,
                datum=c.datum[:20],
                crime_text=c.text,
            )
        AuditEvent.record(
            user,
            AuditAction.IMPORT,
            obj=batch,
            summary=f"crime batch {batch.batch_ref or batch.pk} ({batch.source_enum.phrase}, "
            f"{filename or 'no file name'}): {batch.rows_accepted} of {rows} rows accepted, "
            f"{plural(len(problems), 'problem')}; SHA-256 {batch.sha256}",
            reason=basis_text(lawful_basis, purpose),
        )
        tell_sender(batch, received_message(batch, problems))
    return Received(batch, problems)


def limit_to_force(parsed: ParsedBatch, force: str, now: datetime | None = None) -> None:
    """Refuse, each on its row, the crimes an ad-hoc search could not ask about either: outside the sender's
    force's area, or starting more than ``OPENEM_CRIME_MAX_AGE_DAYS`` ago (a batch must not get round the
    search's limits)."""
    now = now or datetime.now(UTC)
    if parsed.crimes and forces.area_of(force) is None:
        parsed.fatal = (
            f"OpenEM has no area on file for {force or 'your force'}, so its crimes cannot be checked to be in "
            "its area: ask the monitoring hub to add the force's area (docs/crime-hub.md)."
        )
        parsed.crimes[:] = []
        return
    max_age = settings.OPENEM_CRIME_MAX_AGE_DAYS
    oldest = now - timedelta(days=max_age)
    kept = []
    for c in parsed.crimes:
        refused = False
        if not forces.covers(force, c.lat, c.lon):
            column = "latitude" if c.easting is None else "easting"
            shown = f"{c.lat}, {c.lon}" if c.easting is None else f"easting {c.easting:g}, northing {c.northing:g}"
            parsed.problems.append(
                Problem(
                    c.row,
                    column,
                    f"this place ({shown}) is outside {force or 'your force'}'s area ({forces.described(force)}): "
                    "send only crimes in your own force's area.",
                )
            )
            refused = True
        if c.start < oldest:
            parsed.problems.append(
                Problem(
                    c.row,
                    "dateFrom",
                    f"{c.start:%Y%m%d%H%M%S} is more than {max_age} days ago: crimes older than that are not matched.",
                )
            )
            refused = True
        if not refused:
            kept.append(c)
    parsed.crimes[:] = kept
    parsed.problems.sort(key=lambda p: (p.row, COLUMNS.index(p.column) if p.column in COLUMNS else -1))


def received_message(batch: CrimeBatch, problems: list[RowProblem]) -> tuple[str, str]:
    name = batch.batch_ref or f"#{batch.pk}"
    lines = [
        f"Batch {name} from {batch.force}: {batch.status_enum.label.lower()}.",
        f"{batch.rows_accepted} of {plural(batch.rows_read, 'row')} accepted.",
    ]
    if batch.rejected_because:
        lines.append(batch.rejected_because)
    lines += [f"Row {p.row}, {p.column or 'file'}: {p.message}" for p in problems[:50]]
    if len(problems) > 50:
        lines.append(f"... and {len(problems) - 50} more problems: see the batch's page.")
    if batch.waiting:
        lines.append("Matching starts now; matches are released to you once the monitoring hub has reviewed them.")
    lines.append(f"Open it: {settings.OPENEM_BASE_URL}{reverse('crime:batch', args=[batch.pk])}")
    return f"OpenEM crime batch {name}: {batch.status_enum.label.lower()}", "\n".join(lines)


def tell_sender(batch: CrimeBatch, message: tuple[str, str]) -> None:
    """A notification to whoever sent the batch, through their channels (the alerts worker sends it)."""
    from openem.alerts.models import NotificationKind
    from openem.alerts.worker import queue

    if batch.uploaded_by is not None and batch.uploaded_by.is_active:
        queue(None, [batch.uploaded_by], NotificationKind.IMMEDIATE, message[0], message[1], timezone.now())


def start_search(
    user: Any,
    *,
    place: str,
    lat: float,
    lon: float,
    radius_m: float,
    start: datetime,
    end: datetime,
    lawful_basis: str,
    purpose: str,
) -> AdHocSearch:
    """An ad-hoc search, checked by the form (a day at most, inside the force's area): stored as a batch
    of one for the crime worker, and audited with its lawful basis."""
    with transaction.atomic():
        batch = CrimeBatch.objects.create(
            force=user.police_force,
            batch_ref="",
            uploaded_by=user,
            lawful_basis=lawful_basis,
            purpose=purpose,
            source=BatchSource.SEARCH,
            status=BatchStatus.RECEIVED,
            rows_read=1,
            rows_accepted=1,
        )
        search = AdHocSearch.objects.create(
            user=user,
            force=user.police_force,
            place=place[:200],
            lat=lat,
            lon=lon,
            radius_m=radius_m,
            start=start,
            end=end,
            lawful_basis=lawful_basis,
            purpose=purpose,
            batch=batch,
        )
        batch.batch_ref = f"SEARCH-{search.pk}"
        batch.save(update_fields=["batch_ref"])
        Crime.add_version(
            batch=batch,
            force=user.police_force,
            reference=f"SEARCH-{search.pk}",
            crime_type="",
            crime_type_description=place[:200] or "Ad-hoc search",
            window_start=start,
            window_end=end,
            lat=lat,
            lon=lon,
            radius_m=radius_m,
        )
        AuditEvent.record(
            user,
            AuditAction.SEARCH,
            obj=search,
            summary=f"crime search: who was within {radius_m:.0f} m of {lat:.5f}, {lon:.5f}"
            + (f" ({place})" if place else ""),
            reason=basis_text(lawful_basis, purpose),
            period=(start, end),
        )
    return search
