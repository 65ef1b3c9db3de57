"""``{% live_region "id" %}`` makes an element refresh itself from the page's own URL (its query, so the user's
filters, included); ``{% live_note %}`` says so on the page. openem.portal.live."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from openem.portal.live import REFRESH_HEADER, live_seconds

register = template.Library()


@register.simple_tag(takes_context=True)
def live_region(context: Any, region_id: str, also: str = "") -> SafeString:
    """The attributes of a region that htmx replaces with the same region of the page fetched again, every
    OPENEM_LIVE_SECONDS. ``also``: ids of other regions of the page, comma-separated, replaced from the
    same response. Only the region is swapped, so scroll, the filter form and anything else stay as they
    are; openem/portal/static/portal/live.js keeps what the user typed inside it."""
    request = context["request"]
    also_attr = format_html(' hx-select-oob="{}"', ",".join(f"#{i.strip()}" for i in also.split(",") if i.strip()))
    return format_html(
        'id="{id}" data-live hx-get="{url}" hx-trigger="every {s}s" hx-select="#{id}" hx-target="this" '
        'hx-swap="outerHTML" hx-headers="{headers}"{also}',
        id=region_id,
        url=request.get_full_path(),
        s=live_seconds(),
        headers=json.dumps({REFRESH_HEADER: "1"}),
        also=also_attr if also else "",
    )


@register.inclusion_tag("portal/includes/live_note.html")
def live_note() -> dict[str, Any]:
    return {"seconds": live_seconds(), "at": timezone.now()}
