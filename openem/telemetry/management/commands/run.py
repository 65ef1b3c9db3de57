from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Run OpenEM: the web server, the engine worker and the alerts worker together (and, with --demo-live, "
        "the simulator feeding the demo caseload). Each also runs alone: runserver, engine-worker, "
        "alerts-worker, simulate --live."
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
        exe = [sys.executable, "-m", "openem.cli"]
        procs = [subprocess.Popen([*exe, "runserver", options["addrport"], "--noreload"])]
        # With the bus, partition workers evaluate new readings and the plain worker keeps the deadline
        # checks; without it, the workers split the devices between them (one per core, by default).
        n = options["workers"]
        if settings.OPENEM_BUS:
            procs += [subprocess.Popen([*exe, "engine-worker", "--checks-only"]) for _ in range(n)]
        else:
            shards = [["--shard", str(k), "--shards", str(n)] for k in range(n)]
            procs += [subprocess.Popen([*exe, "engine-worker", *shard]) for shard in shards]
        procs.append(subprocess.Popen([*exe, "alerts-worker"]))  # triage, escalation, digests, sending
        if settings.OPENEM_BUS:
            # Scale-out: one worker per partition of the readings stream.
            procs += [
                subprocess.Popen([*exe, "engine-worker", "--partition", str(k)])
                for k in range(settings.OPENEM_BUS_PARTITIONS)
            ]
        ingest_url = f"http://{options['addrport']}/ingest/v1/telemetry"
        osmand_url = f"http://{options['addrport']}/osmand"
        if options["ingest_port"]:
            # Device data has its own receiver (group commit, uvicorn); the portal keeps the same endpoint.
            host, port = options["addrport"].rsplit(":", 1)[0], str(options["ingest_port"])
            procs.append(subprocess.Popen([*exe, "ingest-server", "--host", host, "--port", port]))
            ingest_url = f"http://{host}:{port}/ingest/v1/telemetry"
            osmand_url = f"http://{host}:{port}"
        if options["demo_live"]:
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
            sim = [
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
            procs.append(subprocess.Popen(sim))

        def stop(*_: Any) -> None:
            for p in procs:
                if p.poll() is None:
                    p.terminate()

        signal.signal(signal.SIGTERM, stop)
        try:
            while all(p.poll() is None for p in procs[:2]):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop()
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
