from __future__ import annotations

import contextlib
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import BaseCommand, CommandParser


class _Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


def osmand_app() -> Any:
    """Traccar Client apps post to the server root: route every path to the OsmAnd receiver."""
    django_app = WSGIHandler()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        environ["PATH_INFO"] = "/osmand/"
        return django_app(environ, start_response)

    return app


class Command(BaseCommand):
    help = "Receive the OsmAnd protocol (Traccar Client) on its own port, 5055 by default."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=5055)

    def handle(self, *args: Any, **options: Any) -> None:
        server = make_server(
            options["host"], options["port"], osmand_app(), server_class=_Threading, handler_class=_Quiet
        )
        self.stdout.write(f"OsmAnd receiver on http://{options['host']}:{options['port']}/")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
