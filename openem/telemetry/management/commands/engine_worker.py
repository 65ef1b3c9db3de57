from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from openem.health.models import Component
from openem.health.running import Beat, StopFlag, keep_going
from openem.telemetry.worker import EngineWorker


class Command(BaseCommand):
    help = "Evaluate new stored readings and store violations; safe to run as several processes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one cycle, then exit")
        parser.add_argument(
            "--interval",
            type=float,
            default=0.2,
            help="seconds to wait when there is nothing new (a reading waits at most this long)",
        )
        parser.add_argument(
            "--partition", type=int, default=None, help="with OPENEM_BUS: consume this partition of the readings stream"
        )
        parser.add_argument(
            "--shard", type=int, default=0, help="without a bus: evaluate this share of the devices (0 to N-1)"
        )
        parser.add_argument("--shards", type=int, default=1, help="without a bus: how many workers share the devices")
        parser.add_argument(
            "--checks-only",
            action="store_true",
            help="only the deadline and not-fitted checks (beside partition workers)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        worker = EngineWorker(shard=options["shard"], shards=options["shards"])
        worker.settle_memory = True  # a process of its own, for hours: see EngineWorker._settle
        if options["partition"] is not None:
            from openem.health.running import Backoff
            from openem.telemetry.bus import BusUnavailable, PartitionConsumer

            k = options["partition"]
            worker.stop = StopFlag()  # SIGTERM: stop after the messages in hand are evaluated and acknowledged
            worker.beat = Beat(f"engine partition {k}", Component.ENGINE)
            consumer = PartitionConsumer(k)
            bus_backoff = Backoff(first=0.5, most=5.0)  # a bus back up is used within 5 s

            def partition_step() -> bool:
                try:
                    r = worker.bus_cycle(consumer)  # waits up to a second for messages
                except BusUnavailable as exc:
                    # Nothing is lost: what was not acknowledged is sent again once the bus is back.
                    wait = bus_backoff.next()
                    if bus_backoff.failures == 1:
                        self.stderr.write(f"engine partition {k}: {exc}; trying again until it is back")
                    worker.beat(detail=f"bus unreachable: {exc}", force=bus_backoff.failures == 1)
                    worker.stop.wait(wait)
                    return False
                back = bus_backoff.failures > 0
                bus_backoff.reset()
                worker.beat.count(devices=r.devices, violations_opened=r.opened, failed=r.failed)
                worker.beat(lag_s=consumer.lag_s, backlog=consumer.backlog, detail="connected", force=back)
                return r.devices > 0

            try:
                keep_going(partition_step, worker.stop, 0.0, worker.beat.name)
            finally:
                consumer.close()
                worker.beat.stopped()
            return
        if options["checks_only"]:
            worker.stop = StopFlag()
            worker.beat = Beat("engine deadline checks", Component.ENGINE, every_s=20.0)

            def checks() -> bool:
                worker.checks()
                worker.beat(force=True)
                return False

            keep_going(checks, worker.stop, max(options["interval"], 10.0), worker.beat.name)
            worker.beat.stopped()
            return
        if options["once"]:
            r = worker.cycle()
            worker.release()
            self.stdout.write(
                f"{r.readings} readings from {r.devices} devices: {r.opened} violations opened, "
                f"{r.changed} changed, {r.retracted} retracted"
            )
            return
        # SIGTERM or Ctrl-C: the cycle in hand is finished and stored, the cursor released.
        worker.stop = StopFlag()
        worker.run(options["interval"])
        self.stdout.write("engine worker stopped")
