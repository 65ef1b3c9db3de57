"""Lists that grow with the caseload come a page at a time (GOV.UK pagination), keeping the user's search,
filters and sort in every page's link (``portal/includes/pagination.html``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

PER_PAGE = 50


def paginate(
    request: HttpRequest, items: Sequence[Any] | Any, param: str = "page", anchor: str = "", count: int | None = None
) -> dict[str, Any]:
    """The page of ``items`` (a queryset is counted and sliced in SQL) the request asks for in ``param``;
    a page number out of range or not a number gives the nearest page, never an error. ``count``: how many
    there are, when the caller knows already (the query is not run twice)."""
    paginator = Paginator(items, PER_PAGE)
    if count is not None:
        paginator.count = count  # a cached property: set, it is not worked out
    page = paginator.get_page(request.GET.get(param))
    return {"page": page, "links": links(request, page, param, anchor)}


def links(request: HttpRequest, page: Page, param: str, anchor: str = "") -> dict[str, Any]:
    """What the pagination component shows: previous and next, the first and last page, the current one and
    its neighbours, and an ellipsis for each gap."""
    last = page.paginator.num_pages

    def url(n: int) -> str:
        query = request.GET.copy()
        query[param] = str(n)
        return f"?{query.urlencode()}{'#' + anchor if anchor else ''}"

    shown = sorted({1, last, *range(max(1, page.number - 1), min(last, page.number + 1) + 1)})
    items: list[dict[str, Any]] = []
    for n in shown:
        if items and n - items[-1]["number"] > 1:
            items.append({"ellipsis": True, "number": n - 1})
        items.append({"number": n, "url": url(n), "current": n == page.number})
    return {
        "items": items if last > 1 else [],
        "previous": url(page.number - 1) if page.has_previous() else "",
        "next": url(page.number + 1) if page.has_next() else "",
        "first_index": page.start_index(),
        "last_index": page.end_index(),
        "count": page.paginator.count,
    }
