"""Crime data has its own retention period (``OPENEM_CRIME_RETENTION_DAYS``): a batch, its crimes, the
runs and findings matched against them, the positions kept with each match as its evidence, their reviews
and proximity report records, and ad-hoc searches are deleted that many days after the batch arrived. Run by
``openem retention``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from openem.audit.models import AuditAction, AuditEvent

from .models import AdHocSearch, Crime, CrimeBatch, Finding, FindingEvidence, IssuedReport, ProximityReport


@dataclass
class CrimeRetention:
    batches: int = 0
    crimes: int = 0
    findings: int = 0
    evidence: int = 0  # matches' kept positions (deleted with their findings)


def enforce_crime(now: datetime | None = None, dry_run: bool = False) -> CrimeRetention:
    days = settings.OPENEM_CRIME_RETENTION_DAYS
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = CrimeBatch.objects.filter(uploaded_at__lt=cutoff)
    result = CrimeRetention(
        batches=old.count(),
        crimes=Crime.objects.filter(batch__in=old).count(),
        findings=Finding.objects.filter(run__batch__in=old).count(),
        evidence=FindingEvidence.objects.filter(finding__run__batch__in=old).count(),
    )
    if dry_run or not result.batches:
        return result
    span = old.aggregate(first=Min("uploaded_at"), last=Max("uploaded_at"))
    with transaction.atomic():
        # A later version of a crime keeps its place though the earlier is gone (previous is SET_NULL).
        AdHocSearch.objects.filter(batch__in=old).delete()
        # Each report made stays recognisable (its digest and date, no personal data): Verify says so.
        made = ProximityReport.objects.filter(finding__run__batch__in=old).values_list("sha256", flat=True)
        IssuedReport.objects.filter(sha256__in=list(made), data_deleted_at__isnull=True).update(
            data_deleted_at=now or timezone.now()
        )
        old.delete()
        AuditEvent.record(
            None,
            AuditAction.DELETE,
            summary=f"retention: deleted {result.batches} crime batches, {result.crimes} crimes and "
            f"{result.findings} match findings (with their reviews, report records and the positions kept as "
            f"evidence of {result.evidence} matches)",
            reason=f"crime data kept {days} days",
            period=(span["first"], span["last"]),
        )
    return result
