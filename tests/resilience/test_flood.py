"""No client can starve the others: rate limits (429 with Retry-After), lines per request (413), bounded
transactions taken in fair turns, and one answer for one request whichever door it came in by."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.utils import OperationalError
from django.test import Client

from openem.devices.models import Device
from openem.telemetry.models import Reading, RejectedReading

from .test_poison import fix, gateway_with, jl, run_asgi
from .test_poison import post as post_batch


@pytest.fixture
def receiver(db):
    from openem.telemetry.receiver import Receiver, Writer

    writer = Writer(start=False)
    return Receiver(writer), writer


def two_gateways(settings: Any, lines_per_s: int, burst: int) -> tuple[str, str]:
    """Gateways for GPS-0001 and GPS-0002, each allowed ``lines_per_s`` with bursts of ``burst``."""
    settings.OPENEM_INGEST_GATEWAY_LINES_PER_S = lines_per_s
    settings.OPENEM_INGEST_GATEWAY_BURST_LINES = burst
    return gateway_with("GPS-0001", name="First"), gateway_with("GPS-0002", name="Second")


def send(app: Any, writer: Any, token: str, body: bytes) -> tuple[int, dict[str, str], Any]:
    return run_asgi(app, writer, "POST", "/ingest/v1/telemetry", body, {"Authorization": f"Bearer {token}"})


@pytest.mark.django_db
def test_a_flooding_gateway_gets_429_with_retry_after_while_another_gateways_batches_are_stored(receiver, settings):
    app, writer = receiver
    flood, honest = two_gateways(settings, 100, 300)
    statuses = []
    for k in range(6):
        status, headers, body = send(app, writer, flood, jl(*(fix("GPS-0001", n, seq=k * 100 + n) for n in range(100))))
        statuses.append(status)
        if status == 429:
            assert int(headers["retry-after"]) >= 1 and "send again in" in body["error"]
        good, _, answer = send(app, writer, honest, jl(fix("GPS-0002", k, seq=k)))
        assert good == 200 and answer["accepted"] == 1
    assert statuses[:3] == [200, 200, 200] and set(statuses[3:]) == {429}
    assert Reading.objects.filter(device="GPS-0002").count() == 6
    assert Reading.objects.filter(device="GPS-0001").count() == 300
    assert writer.beat.counters["refused_rate_limited"] == 3


@pytest.mark.django_db
def test_a_request_over_the_line_limit_is_refused_whole_with_the_limit(receiver, settings):
    settings.OPENEM_INGEST_MAX_LINES = 50
    app, writer = receiver
    token = gateway_with("GPS-0001")
    status, _, body = send(app, writer, token, jl(*(fix(n=n) for n in range(51))))
    assert status == 413 and "at most 50 lines" in body["error"] and "51" in body["error"]
    assert send(app, writer, token, jl(*(fix(n=n) for n in range(50))))[0] == 200
    assert writer.beat.counters["refused_too_large"] == 1


@pytest.mark.django_db
def test_an_unauthenticated_flood_is_capped_per_request_and_rate_limited_per_address(settings):
    settings.OPENEM_INGEST_UNAUTHENTICATED_LINES_PER_S = 1
    settings.OPENEM_INGEST_UNAUTHENTICATED_BURST_LINES = 1_500
    junk = b"\n".join(b"junk" for _ in range(5_000))
    first = Client().post("/ingest/v1/telemetry", data=junk, content_type="application/x-ndjson",
                          REMOTE_ADDR="198.51.100.7")  # fmt: skip
    assert first.status_code == 401
    assert RejectedReading.objects.count() == 1_001  # 1,000 lines and a note that the rest were not kept
    assert "later lines of this request not kept" in RejectedReading.objects.get(field="(request)").reason
    again = Client().post("/ingest/v1/telemetry", data=junk, content_type="application/x-ndjson",
                          REMOTE_ADDR="198.51.100.7")  # fmt: skip
    assert again.status_code == 429 and int(again["Retry-After"]) >= 1
    assert RejectedReading.objects.count() == 1_001
    other = Client().post("/ingest/v1/telemetry", data=b"junk", content_type="application/x-ndjson",
                          REMOTE_ADDR="198.51.100.8")  # fmt: skip
    assert other.status_code == 401  # another address has its own bucket


@pytest.mark.django_db
def test_the_writer_commits_in_bounded_chunks_and_serves_senders_in_turn(receiver, settings, monkeypatch):
    """A sender with many large requests waiting does not go before one that sent one small one later."""
    from openem.telemetry import receiver as module
    from openem.telemetry.frontdoor import telemetry_batch

    settings.OPENEM_INGEST_ROWS_PER_COMMIT = 250
    _app, writer = receiver
    flood, honest = gateway_with("GPS-0001", name="Flood"), gateway_with("GPS-0002", name="Honest")
    groups: list[list[int]] = []
    real = module.store_isolated

    def recording(batches: list[Any], directory: Any) -> None:
        groups.append([p.gateway_id for p in batches])
        real(batches, directory)

    monkeypatch.setattr(module, "store_isolated", recording)

    def work(token: str, body: bytes) -> Any:
        return lambda: telemetry_batch(body, writer.gateway_id(token), "127.0.0.1", writer.limits)

    big = [jl(*(fix("GPS-0001", n, seq=k * 1000 + n) for n in range(200))) for k in range(6)]
    futures = [writer.submit(work(flood, b), f"token:{flood}", len(b)) for b in big]
    small = jl(fix("GPS-0002", 1))
    mine = writer.submit(work(honest, small), f"token:{honest}", len(small))
    writer.drain()
    honest_id = mine.result(timeout=1).gateway_id
    assert all(f.result(timeout=1).result.accepted == 200 for f in futures)
    assert len(groups) >= 3 and all(len(g) <= 2 for g in groups)  # 250 rows a commit: at most two requests
    turn = next(k for k, g in enumerate(groups) if honest_id in g)
    assert turn <= 1, groups  # served with or right after the flood's first request, not after all six


@pytest.mark.django_db
def test_a_locked_database_is_answered_503_with_retry_after_and_the_writer_goes_on(receiver, monkeypatch):
    from openem.telemetry import receiver as module

    app, writer = receiver
    token = gateway_with("GPS-0001")
    real, failures = module.store_isolated, [OperationalError("database is locked")]

    def flaky(batches: list[Any], directory: Any) -> None:
        if failures:
            raise failures.pop()
        real(batches, directory)

    monkeypatch.setattr(module, "store_isolated", flaky)
    status, headers, body = send(app, writer, token, jl(fix(n=1)))
    assert status == 503 and headers["retry-after"] == "1" and "send them again" in body["error"]
    status, _, body = send(app, writer, token, jl(fix(n=1)))
    assert status == 200 and body["accepted"] == 1


def both(app: Any, writer: Any, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
         query: str = "", portal_path: str | None = None) -> tuple[tuple[int, Any], tuple[int, Any]]:  # fmt: skip
    """The same request to the receiver and to the portal, each in a transaction rolled back after it
    (so the second is not told the first one's readings are duplicates)."""
    from django.db import transaction

    class Undo(Exception):
        pass

    answers: list[tuple[int, Any]] = []
    for door in ("receiver", "portal"):
        try:
            with transaction.atomic():
                if door == "receiver":
                    status, _h, content = run_asgi(app, writer, method, path, body, headers, query)
                    answers.append((status, content))
                else:
                    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
                    url = (portal_path or path) + (f"?{query}" if query else "")
                    response = Client().generic(method, url, data=body, content_type="application/x-ndjson", **extra)
                    answers.append((response.status_code, response.json()))
                raise Undo
        except Undo:
            pass
    return answers[0], answers[1]


@pytest.mark.django_db
def test_the_receiver_and_the_portal_answer_the_same_request_the_same_way(receiver, settings):
    from openem.devices.credentials import issue_key

    settings.OPENEM_INGEST_MAX_LINES = 3
    app, writer = receiver
    token = gateway_with("GPS-0001")
    key = issue_key(Device.objects.create(ref="PHONE-1", kind="gps"))
    bearer = {"Authorization": f"Bearer {token}"}
    osmand = "id=PHONE-1&lat=52.67&lon=-0.73&timestamp=1794830400&accuracy=9&batt=80"
    cases = [
        ("POST", "/ingest/v1/telemetry", jl(fix(n=1), b"{oops", fix(n=2, lat=91)), bearer, "", None),
        ("POST", "/ingest/v1/telemetry", jl(fix(n=1)), {"Authorization": "bearer " + token}, "", None),
        ("POST", "/ingest/v1/telemetry", jl(fix(n=1)), {"Authorization": "Bearer nope"}, "", None),
        ("POST", "/ingest/v1/telemetry", jl(fix(n=1)), None, "", None),
        ("POST", "/ingest/v1/telemetry", b"", None, "", None),
        ("POST", "/ingest/v1/telemetry", b"", bearer, "", None),
        ("POST", "/ingest/v1/telemetry", b"\n\n", bearer, "", None),
        ("POST", "/ingest/v1/telemetry", jl(*(fix(n=n) for n in range(4))), bearer, "", None),
        ("GET", "/ingest/v1/telemetry", b"", bearer, "", None),
        ("GET", f"/{key}", b"", None, osmand, f"/osmand/{key}"),
        ("GET", "/not-the-key", b"", None, osmand, "/osmand/not-the-key"),
        ("GET", f"/{key}", b"", None, osmand.replace("lat=52.67", "lat=95"), f"/osmand/{key}"),
        ("POST", "/", osmand.encode() + f"&key={key}".encode(), None, "", "/osmand/"),
        ("GET", "/", b"", None, "", "/osmand/"),
        ("GET", "/", b"", None, "&".join(f"p{k}=1" for k in range(60)), "/osmand/"),
        ("PUT", "/", b"", None, osmand, "/osmand/"),
    ]
    for method, path, body, headers, query, portal_path in cases:
        receiver_answer, portal_answer = both(app, writer, method, path, body, headers, query, portal_path)
        assert receiver_answer == portal_answer, (method, path, query, receiver_answer, portal_answer)
    assert not Reading.objects.exists()  # every request was rolled back


@pytest.mark.django_db
def test_a_request_of_junk_is_all_reported_but_only_a_thousand_lines_are_kept():
    token = gateway_with("GPS-0001")
    junk = b"\n".join(b"junk %d" % n for n in range(1_500))
    response = Client().post("/ingest/v1/telemetry", data=jl(fix(n=1)) + b"\n" + junk,
                             content_type="application/x-ndjson", HTTP_AUTHORIZATION=f"Bearer {token}")  # fmt: skip
    body = response.json()
    assert response.status_code == 200 and body["accepted"] == 1 and len(body["rejected"]) == 1_500
    assert RejectedReading.objects.count() == 1_001
    note = RejectedReading.objects.get(field="(request)")
    assert note.reason.startswith("500 more rejected lines of this request were reported to its sender")


@pytest.mark.django_db
def test_a_gateway_sending_junk_is_slowed_sooner_than_one_sending_readings(receiver, settings):
    app, writer = receiver
    junk_sender, honest = two_gateways(settings, 1, 2_000)
    junk = b"\n".join(b"junk %d" % n for n in range(300))
    readings = [jl(*(fix("GPS-0002", n % 60, seq=k * 300 + n) for n in range(300))) for k in range(6)]
    # Each costs 300 lines, and 1,200 more once they are found rejected: the second puts it into debt.
    answers = [send(app, writer, junk_sender, junk)[0] for _ in range(3)]
    assert answers == [200, 200, 429]
    assert [send(app, writer, honest, body)[0] for body in readings] == [200] * 6  # 1,800 of its 2,000
    status, headers, _ = send(app, writer, junk_sender, junk)
    assert status == 429 and int(headers["retry-after"]) > 100  # in debt: refused before it is read


@pytest.mark.django_db
def test_the_portal_answers_a_locked_database_as_the_receiver_does(monkeypatch):
    from openem.telemetry import views

    def locked(batches: list[Any]) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(views, "store_isolated", locked)
    response = post_batch(gateway_with("GPS-0001"), jl(fix(n=1)))
    assert response.status_code == 503 and response["Retry-After"] == "1"
    assert response.json() == {"error": "could not store the readings now; send them again"}
