from __future__ import annotations

import logging
import os
import socket
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from openem.health.models import Component, Heartbeat
from openem.health.running import Beat, StopFlag
from openem.health.status import check_health
from openem.health.supervisor import ChildSpec, Supervisor

log = logging.getLogger("openem.health.supervisor")


class Command(BaseCommand):
    help = (
        "Run OpenEM: the portal (gunicorn), the engine workers, the alerts worker, the ingest receiver, the "
        "management information refresh, and when configured the MQTT subscriber and the bus announcer (and, with "
        "--demo-live, the simulator feeding the demo caseload). Any that stops is restarted. Each also runs alone: "
        "engine-worker, alerts-worker, ingest-server, mqtt-subscriber, bus-announcer, mi-refresh, simulate --live."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument(
            "--workers", type=int, default=min(os.cpu_count() or 1, 4), help="engine worker processes (one per core)"
        )
        parser.add_argument("--demo-live", action="store_true", help="feed the demo caseload live")
        parser.add_argument(
            "--ingest-port", type=int, default=5055, help="ingest receiver port: batches and OsmAnd (0: none)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = StopFlag()
        specs = children(options)
        forget_this_hosts_heartbeats()
        # One per host: several hosts may each run their own.
        beat = Beat(f"supervisor {socket.gethostname()}", Component.SUPERVISOR, every_s=15.0)
        supervisor: Supervisor

        def health() -> None:
            beat.counters = supervisor.counters()
            beat()
            check_health()

        supervisor = Supervisor(specs, health_check=health)
        try:
            supervisor.run(stop)
        finally:
            beat.stopped()


def children(options: dict[str, Any]) -> list[ChildSpec]:
    exe = [sys.executable, "-m", "openem.cli"]
    addrport = options["addrport"]
    if addrport.isdigit():  # a port alone, as runserver took it
        addrport = f"127.0.0.1:{addrport}"
    specs = [ChildSpec("portal", web_server(addrport), Component.PORTAL)]
    # With the bus, partition workers evaluate new readings and the plain worker keeps the deadline
    # checks; without it, the workers split the devices between them (one per core, by default).
    n = options["workers"]
    if settings.OPENEM_BUS:
        specs += [
            ChildSpec(f"engine checks {k + 1} of {n}", [*exe, "engine-worker", "--checks-only"], Component.ENGINE)
            for k in range(n)
        ]
    else:
        specs += [
            ChildSpec(
                f"engine shard {k + 1} of {n}",
                [*exe, "engine-worker", "--shard", str(k), "--shards", str(n)],
                Component.ENGINE,
            )
            for k in range(n)
        ]
    # Triage, escalation, digests, sending.
    specs.append(ChildSpec("alerts worker", [*exe, "alerts-worker"], Component.ALERTS))
    # Police crime batches and ad-hoc searches, matched against the trails (openem/crime/worker.py).
    specs.append(ChildSpec("crime worker", [*exe, "crime-worker"], Component.CRIME))
    # Management information: the Statistics pages read tables this refreshes on a schedule (docs/mi.md).
    every = str(settings.OPENEM_MI_REFRESH_MINUTES)
    specs.append(ChildSpec("MI refresh", [*exe, "mi-refresh", "--every", every], Component.PORTAL))
    if settings.OPENEM_BUS:
        # Scale-out: one worker per partition of the readings stream, and the announcer that feeds it.
        specs += [
            ChildSpec(f"engine partition {k}", [*exe, "engine-worker", "--partition", str(k)], Component.ENGINE)
            for k in range(settings.OPENEM_BUS_PARTITIONS)
        ]
        specs.append(ChildSpec("bus announcer", [*exe, "bus-announcer"], Component.BUS))
    if settings.OPENEM_MQTT:
        broker, broker_port = mqtt_address(settings.OPENEM_MQTT)
        subscriber = [*exe, "mqtt-subscriber", "--host", broker, "--port", str(broker_port)]
        specs.append(ChildSpec("MQTT subscriber", subscriber, Component.MQTT))
    ingest_url = f"http://{addrport}/ingest/v1/telemetry"
    osmand_url = f"http://{addrport}/osmand"
    if options["ingest_port"]:
        # Device data has its own receiver (group commit, uvicorn); the portal keeps the same endpoint.
        host, port = addrport.rsplit(":", 1)[0], str(options["ingest_port"])
        specs.append(
            ChildSpec("ingest receiver", [*exe, "ingest-server", "--host", host, "--port", port], Component.INGEST)
        )
        ingest_url = f"http://{host}:{port}/ingest/v1/telemetry"
        osmand_url = f"http://{host}:{port}"
    if options["demo_live"]:
        specs.append(ChildSpec("demo simulator", simulator(exe, ingest_url, osmand_url), Component.INGEST))
    return specs


def web_server(addrport: str) -> list[str]:
    """gunicorn serving the portal: OPENEM_WEB_WORKERS processes of OPENEM_WEB_THREADS threads; a request
    longer than OPENEM_WEB_TIMEOUT seconds has its worker replaced. No access log: URLs can hold device
    keys (OsmAnd), and Django's own log filter does not see gunicorn's."""
    return [
        sys.executable, "-m", "gunicorn", "openem.wsgi:application",
        "--bind", addrport,
        "--workers", str(settings.OPENEM_WEB_WORKERS),
        "--threads", str(settings.OPENEM_WEB_THREADS),
        "--worker-class", "gthread",
        "--timeout", str(settings.OPENEM_WEB_TIMEOUT),
        "--graceful-timeout", "8",  # inside the supervisor's 10 s before SIGKILL
        "--keep-alive", "5",
        "--no-control-socket",  # one per user's home, shared by every gunicorn on the host; not used here
        "--max-requests", "5000", "--max-requests-jitter", "500",  # a slow leak never grows for ever
    ]  # fmt: skip


def simulator(exe: list[str], ingest_url: str, osmand_url: str) -> list[str]:
    from openem.simulate.management.commands.demo_setup import (
        DEMO_GATEWAY_TOKEN,
        demo_config,
        device_keys_file,
        history_marker,
    )

    config = demo_config()
    marker = history_marker()
    # demo-setup loaded the week up to an hour ago; the simulator feeds the rest, live.
    skip = ["--skip-before", marker.read_text().strip()] if marker.exists() else []
    # A share of the GPS tags send their fixes themselves with their keys (see demo-setup).
    keys = ["--device-keys", str(device_keys_file()), "--osmand-url", osmand_url]
    skip += keys if device_keys_file().exists() else []
    return [
        *exe,
        "simulate",
        "--live",
        "--people",
        str(config.people),
        "--days",
        str(config.days),
        "--seed",
        str(config.seed),
        "--start",
        config.start,
        "--token",
        DEMO_GATEWAY_TOKEN,
        "--live-from",
        "1",
        *skip,
        "--url",
        ingest_url,
    ]


def mqtt_address(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 1883


def forget_this_hosts_heartbeats() -> None:
    """Everything on this host starts afresh: a process of an earlier run that is not started again (fewer
    workers this time) is not reported down for ever. Those started beat again within seconds."""
    try:
        Heartbeat.objects.filter(host=socket.gethostname()[:120], stopped=False).update(
            stopped=True, detail=f"not running since openem run started at {timezone.now():%Y-%m-%d %H:%M}"
        )
    except Exception as exc:  # a busy database must not stop monitoring from starting
        log.warning("earlier heartbeats not cleared: %s", exc)
