"""Access decisions for portal views: sign-in, role, and object-level visibility."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from openem.accounts.models import User
from openem.cases.models import Order, Person


class AuthedRequest(HttpRequest):
    """A request behind ``case_records_required``: the user is signed in."""

    user: User


def case_records_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in, and a role that may see case records (police analysts may not)."""

    @login_required
    @wraps(view)
    def wrapper(request: AuthedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.sees_case_records:
            return forbidden(request, "Your role does not give access to case records.")
        return view(request, *args, **kwargs)

    return wrapper


def order_setup_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Only practitioners and managers make and vary orders."""

    @case_records_required
    @wraps(view)
    def wrapper(request: AuthedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.can_set_up_orders:
            return forbidden(request, "Only probation practitioners and their managers set up and vary orders.")
        return view(request, *args, **kwargs)

    return wrapper


def forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "portal/forbidden.html", {"message": message}, status=403)


def visible_person(request: AuthedRequest, pk: int) -> Person:
    """Someone else's case answers 404, so that its existence is not disclosed."""
    return get_object_or_404(Person.objects.visible_to(request.user), pk=pk)


def visible_order(request: AuthedRequest, pk: int) -> Order:
    return get_object_or_404(
        Order.objects.select_related("person").filter(person__in=Person.objects.visible_to(request.user)), pk=pk
    )
