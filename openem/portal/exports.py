"""Rules every file OpenEM exports follows: a spreadsheet never runs a cell as a formula, and a PDF
never fetches anything.

A CSV opened in Excel or LibreOffice treats a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in
some versions, a tab or carriage return) as a formula: a zone name typed as ``=HYPERLINK(...)`` would
become a live link or worse on the analyst's machine. Text cells that start so get a leading single quote,
which the spreadsheet shows as text. Numbers stay numbers: a longitude of -0.73 is written as a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """The cell as a spreadsheet may safely read it: text that could start a formula is quoted."""
    if isinstance(value, bool | int | float | Decimal) or value is None:
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """A CSV file with every text cell neutralised; use it for every CSV OpenEM writes."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([neutralise(h) for h in header])
    w.writerows([neutralise(c) for c in row] for row in rows)
    return buf.getvalue()


def refuse_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """WeasyPrint's URL fetcher for OpenEM's PDFs: they are made from our templates and inline SVG and
    load nothing, so a label that slipped through as markup can never read a file or call a server."""
    raise ValueError(f"OpenEM's PDFs load no external resources (asked for {url[:80]})")
