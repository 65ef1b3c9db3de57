"""Pseudonymised research extracts (inspectorate recommendation 2): one row per person-order and one per
incident, for an approved project, with identifiers replaced by keyed hashes, dates by weeks, places by
regions, and rare combinations of characteristics generalised until each is shared by enough people.

The key is OpenEM's (OPENEM_RESEARCH_KEY, or a key file made on first use): researchers never hold it, so
they cannot reverse a pseudonym or link to another project's extract (each project's pseudonyms differ)."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import os
import secrets
import zipfile
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .equality import NOT_RECORDED, EthnicGroup, age_band
from .measures import LONDON, NO_DATA_TYPES, NO_REGION, _device_kinds, _union_hours, rows

SUPPRESSED = "suppressed"


def research_key() -> bytes:
    if settings.OPENEM_RESEARCH_KEY:
        return settings.OPENEM_RESEARCH_KEY.encode()
    path = settings.OPENEM_RESEARCH_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def pseudonym(key: bytes, project: int, kind: str, ident: Any) -> str:
    return hmac.new(key, f"{project}:{kind}:{ident}".encode(), hashlib.sha256).hexdigest()[:20]


def week(value: date | datetime | None) -> str:
    """The ISO week (Monday to Sunday, UK local) a date or time falls in: 2026-W45."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LONDON).date()
    y, w, _d = value.isocalendar()
    return f"{y}-W{w:02d}"


# Quasi-identifiers, generalised step by step until every combination is shared by at least k people.
QUASI = ("region", "ethnic_group", "age_band", "sex", "gender_identity", "sexual_orientation", "religion", "disability")
STEPS: list[tuple[str, ...]] = [
    (),
    ("ethnic_group",),  # detailed group -> its high-level group
    ("ethnic_group", "religion", "sexual_orientation", "gender_identity"),  # -> suppressed
    ("ethnic_group", "religion", "sexual_orientation", "gender_identity", "disability", "age_band"),
    QUASI,
]


def _generalise(attrs: dict[str, str], step: int) -> dict[str, str]:
    out = dict(attrs)
    for name in STEPS[step]:
        if name == "ethnic_group" and step == 1:
            eg = attrs["ethnic_group"]
            out[name] = EthnicGroup(eg).high_level.value if eg not in (NOT_RECORDED, SUPPRESSED) else eg
        else:
            out[name] = SUPPRESSED
    return out


def protect_people(people: dict[int, dict[str, str]], k: int) -> dict[int, dict[str, str]]:
    """Each person's characteristics at the least generalisation at which their combination is shared by
    at least ``k`` people in the extract (k-anonymity over the quasi-identifiers)."""
    out: dict[int, dict[str, str]] = {}
    todo = set(people)
    for step in range(len(STEPS)):
        general = {p: _generalise(people[p], step) for p in people}
        counts = Counter(tuple(general[p][q] for q in QUASI) for p in people)
        for p in list(todo):
            if counts[tuple(general[p][q] for q in QUASI)] >= k or step == len(STEPS) - 1:
                out[p] = general[p]
                todo.discard(p)
    return out


DICTIONARY: list[tuple[str, str, str]] = [
    (
        "person_orders.csv",
        "person",
        "Pseudonym of the person (keyed hash; the same person has the same pseudonym "
        "in both files of this project's extracts, and a different one in any other)",
    ),
    ("person_orders.csv", "order", "Pseudonym of the order"),
    ("person_orders.csv", "region", "The probation region of the person's team (no address or location)"),
    (
        "person_orders.csv",
        "order_type",
        "community_order, suspended_sentence_order, hdc, licence, parole_licence, post_sentence_supervision, bail",
    ),
    ("person_orders.csv", "technology", "Devices the order's conditions need: rf, gps, alcohol (joined by +)"),
    ("person_orders.csv", "order_start_week / order_end_week", "ISO week (UK local) of the order's start and end"),
    ("person_orders.csv", "rosh", "Risk of Serious Harm: low, medium, high, very_high, or blank if not assessed"),
    ("person_orders.csv", "mappa_level", "1 to 3, blank if not MAPPA"),
    (
        "person_orders.csv",
        "ethnic_group, religion, disability, sex, gender_identity, sexual_orientation",
        "Equality monitoring answers (2021 census categories); not_recorded and prefer_not_to_say are kept apart; "
        "'suppressed' where the combination was too rare; ethnic_group may be the high-level group for the same reason",
    ),
    ("person_orders.csv", "age_band", "Age at the order's start, in bands"),
    ("person_orders.csv", "first_fitted_week", "ISO week of the first device fitted for the order (blank: never)"),
    ("person_orders.csv", "hours_to_fit", "Whole hours from 00:00 on the start date to the first fitting"),
    ("person_orders.csv", "hours_monitored", "Hours with a device fitted, within the order and the extract's dates"),
    (
        "person_orders.csv",
        "hours_no_data",
        "Device-hours with no data (no signal, location failure, battery, home unit power, not fitted)",
    ),
    ("person_orders.csv", "curfew_hours", "Curfew hours scheduled, within the extract's dates"),
    ("person_orders.csv", "curfew_breach_hours", "Hours of curfew absence"),
    ("person_orders.csv", "behaviour_violations / equipment_violations", "Violations starting within the order"),
    ("person_orders.csv", "incidents", "Behaviour incidents starting within the order"),
    ("person_orders.csv", "warnings / breaches / recalls / no_action", "Enforcement decisions on those incidents"),
    ("incidents.csv", "incident", "Pseudonym of the incident"),
    ("incidents.csv", "person", "Pseudonym of the person (as in person_orders.csv)"),
    ("incidents.csv", "kind", "behaviour or equipment"),
    ("incidents.csv", "severity", "low, medium, high, critical"),
    ("incidents.csv", "start_week", "ISO week the incident began"),
    ("incidents.csv", "first_violation", "Category of its earliest violation: behaviour or equipment"),
    ("incidents.csv", "violation_types", "Types of its violations, joined by +"),
    ("incidents.csv", "minutes_to_acknowledged", "Whole minutes from its start to acknowledgement (blank: not)"),
    ("incidents.csv", "decision", "First enforcement decision: no_action, warning, breach, recall (blank: none)"),
    ("incidents.csv", "days_to_decision", "Days from the start date to the decision date"),
]


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue()


def make_extract(project: Any, user: Any, start: date, end: date) -> tuple[bytes, Any]:
    from openem.alerts.models import EnforcementDecision, Incident, Violation
    from openem.audit.models import AuditAction, AuditEvent
    from openem.cases.models import Condition, Order, Person
    from openem.devices.models import Fitting

    from .measures import _weekly_hours
    from .models import EqualityRecord, ResearchExtract

    key = research_key()
    k = max(1, int(settings.OPENEM_MI_SUPPRESS_BELOW))
    t0 = datetime.combine(start, datetime.min.time(), LONDON)
    t1 = datetime.combine(end + timedelta(days=1), datetime.min.time(), LONDON)
    now = timezone.now()
    orders = rows(
        Order.objects.filter(start__lte=end, end__gte=start).values("id", "person_id", "type", "start", "end")
    )
    conds: dict[int, list[dict[str, Any]]] = defaultdict(list)
    live = Condition.objects.filter(order_id__in=[o["id"] for o in orders], removed_in_version__isnull=True)
    for c in rows(live.values("order_id", "type", "spec", "start", "end")):
        conds[c["order_id"]].append(c)
    person_ids = {o["person_id"] for o in orders}
    people_rows = {
        p["id"]: p
        for p in rows(Person.objects.filter(id__in=person_ids).values(
            "id", "date_of_birth", "rosh", "mappa_level", "team__region", "practitioner__team__region"))
    }  # fmt: skip
    equality = {e["person_id"]: e for e in rows(EqualityRecord.objects.filter(person_id__in=person_ids).values())}
    fittings: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    fitted = Fitting.objects.filter(person_id__in=person_ids, fitted_at__lt=t1).filter(
        Q(removed_at__isnull=True) | Q(removed_at__gt=t0)
    )
    for f in rows(fitted.values("person_id", "fitted_at", "removed_at")):
        fittings[f["person_id"]].append((f["fitted_at"], f["removed_at"] or now))
    violations: dict[int, list[dict[str, Any]]] = defaultdict(list)
    found = Violation.objects.filter(person_id__in=person_ids, retracted=False, start__lt=t1).filter(
        Q(end__isnull=True) | Q(end__gt=t0)
    )
    for v in rows(found.values("person_id", "type", "category", "start", "end", "incident_id")):
        violations[v["person_id"]].append(v)
    incidents = rows(Incident.objects.filter(person_id__in=person_ids, start__gte=t0, start__lt=t1).values(
        "id", "person_id", "kind", "severity", "start", "acknowledged_at"))  # fmt: skip
    decisions: dict[int, list[dict[str, Any]]] = defaultdict(list)
    made = EnforcementDecision.objects.filter(incident_id__in=[i["id"] for i in incidents]).order_by("decided_on", "at")
    for d in rows(made.values("incident_id", "decision", "decided_on")):
        decisions[d["incident_id"]].append(d)

    attrs: dict[int, dict[str, str]] = {}
    for pid in person_ids:
        p, e = people_rows[pid], equality.get(pid, {})
        first_start = min(o["start"] for o in orders if o["person_id"] == pid)
        attrs[pid] = {
            "region": p["team__region"] or p["practitioner__team__region"] or NO_REGION,
            **{q: str(e.get(q) or NOT_RECORDED) for q in QUASI if q not in ("region", "age_band")},
            "age_band": age_band(p["date_of_birth"], first_start),
        }  # fmt: skip
    safe = protect_people(attrs, k)

    def clip(a: datetime, b: datetime, lo: datetime, hi: datetime) -> tuple[datetime, datetime]:
        return max(a, lo), min(b, hi)

    order_rows = []
    for o in orders:
        kinds = {kd for c in conds.get(o["id"], []) if (kd := _device_kinds(c["type"], c["spec"] or {}))}
        if not kinds:
            continue
        pid = o["person_id"]
        lo = max(t0, datetime.combine(o["start"], datetime.min.time(), LONDON))
        hi = min(t1, datetime.combine(o["end"] + timedelta(days=1), datetime.min.time(), LONDON), now)
        fits = [clip(a, b, lo, hi) for a, b in fittings.get(pid, [])]
        first = min((a for a, b in fittings.get(pid, []) if a < hi and b > lo), default=None)
        start_dt = datetime.combine(o["start"], datetime.min.time(), LONDON)
        vs = [v for v in violations.get(pid, []) if v["start"] < hi and (v["end"] or now) > lo]
        no_data = sum(max(0.0, (min(v["end"] or now, hi) - max(v["start"], lo)).total_seconds()) / 3600
                      for v in vs if v["type"] in NO_DATA_TYPES)  # fmt: skip
        breach = sum(max(0.0, (min(v["end"] or now, hi) - max(v["start"], lo)).total_seconds()) / 3600
                     for v in vs if v["type"] == "curfew_absence")  # fmt: skip
        curfew = 0.0
        for c in conds.get(o["id"], []):
            if c["type"] == "curfew":
                a = max(c["start"] or o["start"], lo.date())
                b = min(c["end"] or o["end"], (hi - timedelta(seconds=1)).astimezone(LONDON).date())
                if b >= a:
                    curfew += _weekly_hours(c["spec"] or {}) / 7 * ((b - a).days + 1)
        mine = [i for i in incidents if i["person_id"] == pid and lo <= i["start"] < hi and i["kind"] == "behaviour"]
        outcome = Counter(decisions[i["id"]][0]["decision"] for i in mine if decisions.get(i["id"]))
        s = safe[pid]
        order_rows.append([
            pseudonym(key, project.pk, "person", pid), pseudonym(key, project.pk, "order", o["id"]), s["region"],
            o["type"], "+".join(sorted(kinds)), week(o["start"]), week(o["end"]),
            people_rows[pid]["rosh"], people_rows[pid]["mappa_level"] or "",
            s["ethnic_group"], s["religion"], s["disability"], s["sex"], s["gender_identity"], s["sexual_orientation"],
            s["age_band"], week(first), round((first - start_dt).total_seconds() / 3600) if first else "",
            round(_union_hours([f for f in fits if f[1] > f[0]])), round(no_data), round(curfew), round(breach, 1),
            sum(v["category"] == "behaviour" and lo <= v["start"] for v in vs),
            sum(v["category"] == "equipment" and lo <= v["start"] for v in vs),
            len(mine), outcome["warning"], outcome["breach"], outcome["recall"], outcome["no_action"],
        ])  # fmt: skip
    first_cat: dict[int, str] = {}
    types: dict[int, set[str]] = defaultdict(set)
    for vs in violations.values():
        for v in sorted(vs, key=lambda v: v["start"]):
            if v["incident_id"]:
                first_cat.setdefault(v["incident_id"], v["category"])
                types[v["incident_id"]].add(v["type"])
    incident_rows = []
    for i in incidents:
        ds = decisions.get(i["id"], [])
        first_decision: dict[str, Any] | None = ds[0] if ds else None
        incident_rows.append([
            pseudonym(key, project.pk, "incident", i["id"]), pseudonym(key, project.pk, "person", i["person_id"]),
            safe.get(i["person_id"], {}).get("region", NO_REGION), i["kind"], i["severity"], week(i["start"]),
            first_cat.get(i["id"], ""), "+".join(sorted(types.get(i["id"], ()))),
            round((i["acknowledged_at"] - i["start"]).total_seconds() / 60) if i["acknowledged_at"] else "",
            first_decision["decision"] if first_decision else "",
            (first_decision["decided_on"] - i["start"].astimezone(LONDON).date()).days if first_decision else "",
        ])  # fmt: skip
    made_at = timezone.now()
    readme = (
        f"OpenEM research extract\nProject: {project.title}\nOrganisation: {project.organisation}\n"
        f"Purpose: {project.purpose}\nApproved by: {project.approved_by.get_username() if project.approved_by else ''}"
        f" on {project.approved_at:%d %B %Y}\nApproval reference: {project.approval_reference}\n"
        f"Made by: {user.get_username()} at {made_at:%Y-%m-%d %H:%M} UTC\nCovering: {start} to {end}\n\n"
        "Identifiers are keyed hashes (HMAC-SHA256) under a key OpenEM holds; dates are ISO weeks; locations are "
        f"regions only; any combination of characteristics shared by fewer than {k} people is generalised or "
        "suppressed (see dictionary.csv).\n"
    ) if project.approved_at else ""  # fmt: skip
    order_header = ["person", "order", "region", "order_type", "technology", "order_start_week", "order_end_week",
                    "rosh", "mappa_level", "ethnic_group", "religion", "disability", "sex", "gender_identity",
                    "sexual_orientation", "age_band", "first_fitted_week", "hours_to_fit", "hours_monitored",
                    "hours_no_data", "curfew_hours", "curfew_breach_hours", "behaviour_violations",
                    "equipment_violations", "incidents", "warnings", "breaches", "recalls", "no_action"]  # fmt: skip
    incident_header = ["incident", "person", "region", "kind", "severity", "start_week", "first_violation",
                       "violation_types", "minutes_to_acknowledged", "decision", "days_to_decision"]  # fmt: skip
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("README.txt", readme)
        z.writestr("person_orders.csv", _csv(order_header, order_rows))
        z.writestr("incidents.csv", _csv(incident_header, incident_rows))
        z.writestr("dictionary.csv", _csv(["file", "field", "meaning"], [list(r) for r in DICTIONARY]))
    data = buf.getvalue()
    extract = ResearchExtract.objects.create(
        project=project, made_by=user, made_at=made_at, start=start, end=end, order_rows=len(order_rows),
        incident_rows=len(incident_rows), sha256=hashlib.sha256(data).hexdigest(),
    )  # fmt: skip
    AuditEvent.record(user, AuditAction.EXPORT, obj=extract,
                      summary=f"research extract for project {project.pk} ({project.title}): {len(order_rows)} "
                              f"person-orders, {len(incident_rows)} incidents, {start} to {end}")  # fmt: skip
    return data, extract
