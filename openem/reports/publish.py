"""Reading the stored cells for the pages, the command line and the downloads: one set of figures for all
of them, formatted once. Nothing here computes a measure."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from .measures import MEASURES, Kind, Measure, Period
from .refresh import BREAKDOWNS, group_label, threshold

NATIONAL = "England and Wales"


@dataclass
class Figure:
    """One published figure as every output shows it."""

    period: str
    measure: str
    measure_title: str
    breakdown: str
    breakdown_title: str
    group: str
    group_label: str
    region: str
    units: int | None
    value: float | None
    ci_low: float | None
    ci_high: float | None
    rri: float | None
    rri_low: float | None
    rri_high: float | None
    shown: str  # the figure as text: "12.3", "fewer than 10", "suppressed", "0", "not available"
    note: str = ""

    def as_row(self) -> dict[str, Any]:
        return dict(vars(self))  # flat: asdict's deep copy costs seconds on a national download


def fmt(value: float | None, kind: Kind) -> str:
    if value is None:
        return "-"
    if kind == Kind.COUNT:
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def suppressed_text(small: bool) -> str:
    return f"fewer than {threshold()}" if small else "suppressed"


def _figure(cell: Any, measure: Measure, breakdown: str) -> Figure:
    b = BREAKDOWNS.get(breakdown)
    region = cell.region or NATIONAL
    if cell.suppressed:
        return Figure(cell.period, measure.code, measure.title, breakdown, b.title if b else "All",
                      cell.group, group_label(breakdown, cell.group) if breakdown else "All", region,
                      None, None, None, None, None, None, None, suppressed_text(cell.small))  # fmt: skip
    return Figure(
        cell.period, measure.code, measure.title, breakdown, b.title if b else "All", cell.group,
        group_label(breakdown, cell.group) if breakdown else "All", region, cell.units, cell.value,
        cell.ci_low, cell.ci_high, cell.rri, cell.rri_low, cell.rri_high,
        fmt(cell.value, measure.kind) if cell.units else "0",
    )  # fmt: skip


def _cells(period: Period | str, **filters: Any) -> Any:
    from .models import MiCell

    return MiCell.objects.filter(period=str(period), **filters)


def headline(period: Period, region: str) -> list[tuple[Measure, Figure | None]]:
    """Each measure's figure for everyone in the scope (England and Wales, or the region)."""
    cells = {c.measure: c for c in _cells(period, breakdown="", region=region)}
    out: list[tuple[Measure, Figure | None]] = []
    for m in MEASURES.values():
        c = cells.get(m.code)
        out.append((m, _figure(c, m, "") if c else None))
    return out


def breakdown_table(period: Period, measure: Measure, breakdown: str, region: str) -> list[Figure]:
    """One row per group of the breakdown (a group with nothing in it shows 0), then the total."""
    b = BREAKDOWNS[breakdown]
    cells = {c.group: c for c in _cells(period, measure=measure.code, breakdown=breakdown, region=region)}
    groups = [v for v, _l in b.groups] if b.groups else sorted(cells)
    rows = []
    for g in groups:
        if g in cells:
            rows.append(_figure(cells[g], measure, breakdown))
        else:
            rows.append(Figure(str(period), measure.code, measure.title, breakdown, b.title, g,
                               group_label(breakdown, g), region or NATIONAL, 0, None, None, None, None, None, None,
                               "0"))  # fmt: skip
    total = _cells(period, measure=measure.code, breakdown="", region=region).first()
    if total is not None:
        t = _figure(total, measure, "")
        t.group_label = "All"
        rows.append(t)
    return rows


def region_table(period: Period, measure: Measure) -> list[Figure]:
    rows = [_figure(c, measure, "") for c in _cells(period, measure=measure.code, breakdown="").order_by("region")]
    regional = [r for r in rows if r.region != NATIONAL]
    return regional + [r for r in rows if r.region == NATIONAL]


def trend(period: Period, measure: Measure, region: str, quarters: int = 8) -> list[tuple[Period, Figure | None]]:
    from .models import MiCell

    periods = period.last(quarters)
    cells = {
        c.period: c
        for c in MiCell.objects.filter(
            period__in=[str(p) for p in periods], measure=measure.code, breakdown="", region=region
        )
    }
    from .models import MiRun, RefreshStatus

    done = set(
        MiRun.objects.filter(period__in=[str(p) for p in periods], status=RefreshStatus.DONE).values_list(
            "period", flat=True
        )
    )
    out: list[tuple[Period, Figure | None]] = []
    for p in periods:
        if str(p) in cells:
            out.append((p, _figure(cells[str(p)], measure, "")))
        elif str(p) in done:  # refreshed, and nothing to count in it
            out.append((p, Figure(str(p), measure.code, measure.title, "", "All", "", "All", region or NATIONAL, 0,
                                  None, None, None, None, None, None,
                                  "0" if measure.kind == Kind.COUNT else "-")))  # fmt: skip
        else:
            out.append((p, None))
    return out


def all_figures(period: Period, region: str | None) -> list[Figure]:
    """Every figure of the quarter in the scope (``region`` None: every region and England and Wales)."""
    qs = _cells(period)
    if region is not None:
        qs = qs.filter(region=region)
    out = []
    for c in qs.order_by("measure", "breakdown", "region", "group"):
        m = MEASURES.get(c.measure)
        if m is not None:
            out.append(_figure(c, m, c.breakdown))
    for m in MEASURES.values():
        if not m.available:
            out.append(Figure(str(period), m.code, m.title, "", "All", "", "All", region or NATIONAL, None, None,
                              None, None, None, None, None, "not available", m.not_available))  # fmt: skip
    return out


COLUMNS = ["period", "measure", "measure_title", "breakdown_title", "group_label", "region", "units", "value",
           "ci_low", "ci_high", "rri", "rri_low", "rri_high", "shown", "note"]  # fmt: skip
HEADINGS = ["Quarter", "Measure code", "Measure", "Breakdown", "Group", "Region", "Count (units)", "Value",
            "95% CI lower", "95% CI upper", "Relative rate index", "RRI 95% CI lower", "RRI 95% CI upper",
            "Figure as published", "Notes"]  # fmt: skip


def to_csv(figures: list[Figure]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(HEADINGS)
    for f in figures:
        row = f.as_row()
        w.writerow(["" if row[c] is None else (round(row[c], 4) if isinstance(row[c], float) else row[c])
                    for c in COLUMNS])  # fmt: skip
    return out.getvalue()


def to_json(figures: list[Figure], period: Period, region: str | None) -> str:
    return json.dumps(
        {
            "period": str(period), "label": period.label, "scope": region or NATIONAL,
            "suppressed_below": threshold(),
            "measures": {m.code: {"title": m.title, "kind": m.kind.value, "unit": m.unit, "version": m.version,
                                  "value_label": m.value_label, "available": m.available,
                                  "not_available": m.not_available} for m in MEASURES.values()},
            "figures": [f.as_row() for f in figures],
        },
        indent=1,
    )  # fmt: skip


def notes() -> list[tuple[str, str]]:
    k = threshold()
    return [
        (
            "Source",
            "OpenEM's own records: orders and their conditions, device fittings, violations, incidents, "
            "enforcement decisions, supervision reviews, assessments and the audit log.",
        ),
        (
            "Quarters",
            "Calendar quarters in UK local time (Europe/London), from 00:00 on the first day to 00:00 on "
            "the first day of the next quarter.",
        ),
        (
            "Suppression",
            f"A figure counting between 1 and {k - 1} people, orders or events (or, for a percentage, "
            f"whose numerator is between 1 and {k - 1}) is shown as 'fewer than {k}'. Other figures "
            "are suppressed too where a small one could otherwise be worked out by subtraction from "
            "totals; they show as 'suppressed'.",
        ),
        (
            "Confidence intervals",
            "95%: Wilson score interval for percentages; for rates and means, a normal "
            "interval on the log scale with the linearised (Taylor series) variance of a ratio, "
            "each person a cluster.",
        ),
        (
            "Relative rate index",
            "The group's rate divided by the reference group's in the same region (ethnic "
            "group: White British, or White for the five groups; religion: Christian; "
            "disability: not disabled; sex: male; gender identity: same as sex registered at "
            "birth; sexual orientation: straight or heterosexual; age: 30 to 39). Its 95% "
            "interval is on the log scale. An index whose interval excludes 1 is a difference "
            "unlikely to be chance; it is not by itself evidence of unfair treatment.",
        ),
        (
            "Not recorded / prefer not to say",
            "Kept apart: 'not recorded' means nobody recorded an answer; 'prefer not to say' is the person's answer.",
        ),
    ]


def definitions() -> list[tuple[str, str, str, str, int]]:
    from .docs import DEFINITIONS

    return [(m.code, m.title, m.value_label or m.unit, DEFINITIONS.get(m.code, m.not_available), m.version)
            for m in MEASURES.values()]  # fmt: skip


ODS_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>"""
ODS_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
    "<office:body><office:spreadsheet>"
)


def to_ods(figures: list[Figure], period: Period, region: str | None) -> bytes:
    """An OpenDocument spreadsheet as the official statistics publish them: a cover, notes, definitions,
    then the figures (numbers as numbers; suppressed cells as their words). Written directly as XML: a
    national quarter has tens of thousands of rows, which a document object model builds too slowly."""
    import zipfile
    from xml.sax.saxutils import escape, quoteattr

    parts = [ODS_HEAD]

    def sheet(name: str, rows: list[list[Any]]) -> None:
        parts.append(f"<table:table table:name={quoteattr(name)}>")
        for r in rows:
            parts.append("<table:table-row>")
            for v in r:
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    parts.append(f'<table:table-cell office:value-type="float" office:value="{v!r}">'
                                 f"<text:p>{v!r}</text:p></table:table-cell>")  # fmt: skip
                elif v is None or v == "":
                    parts.append("<table:table-cell/>")
                else:
                    parts.append(f'<table:table-cell office:value-type="string"><text:p>{escape(str(v))}</text:p>'
                                 "</table:table-cell>")  # fmt: skip
            parts.append("</table:table-row>")
        parts.append("</table:table>")

    sheet("Cover", [[f"Electronic monitoring statistics: {period.label}"], [f"Scope: {region or NATIONAL}"],
                    ["Produced by OpenEM from its own records; definitions on the Definitions sheet."]])  # fmt: skip
    sheet("Notes", [["Note", "Text"], *[[a, b] for a, b in notes()]])
    heads = ["Measure code", "Measure", "Unit", "Definition", "Version"]
    sheet("Definitions", [heads, *[list(d) for d in definitions()]])
    sheet("Figures", [HEADINGS, *[[row[c] for c in COLUMNS] for row in (vars(f) for f in figures)]])
    parts.append("</office:spreadsheet></office:body></office:document-content>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        # The mimetype first and stored uncompressed, as the standard requires.
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml", ODS_MANIFEST, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", "".join(parts), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def read_ods_figures(data: bytes) -> list[dict[str, str]]:
    """The Figures sheet read back (for tests and for anyone checking a download), as text by heading."""
    from odf.opendocument import load
    from odf.table import Table, TableCell, TableRow

    doc = load(io.BytesIO(data))
    for t in doc.spreadsheet.getElementsByType(Table):
        if t.getAttribute("name") != "Figures":
            continue
        rows = []
        for tr in t.getElementsByType(TableRow):
            rows.append([str(c) for c in tr.getElementsByType(TableCell)])
        head, *body = rows
        return [dict(zip(head, r, strict=False)) for r in body]
    return []
