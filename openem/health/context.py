"""The service's state on every page of a signed-in user who works with cases: a short notice when
evaluation is late or a worker is down, so that nobody takes a status shown for a current one."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest

from .status import current_status

log = logging.getLogger(__name__)


def service_status(request: HttpRequest) -> dict[str, Any]:
    user: Any = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.sees_case_records:
        return {}
    try:
        status = current_status()
    except Exception:  # a page is still worth showing when its notice cannot be worked out
        log.exception("service status not assessed")
        return {}
    return {"service_status": status, "service_notices": status.notices}
