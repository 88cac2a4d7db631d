"""Serving optuna-dashboard on a study's storage."""

from __future__ import annotations

import errno
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

from optsearch.errors import OptsearchError, UsageError

__all__ = ["DashboardServer", "is_loopback", "make_server"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback
                       for info in socket.getaddrinfo(host, None))
        except (socket.gaierror, ValueError):
            return False


@dataclass
class DashboardServer:
    """A bound server: ``url`` to print, ``run()`` to serve until Ctrl-C, ``close()``."""

    url: str
    kind: str
    _server: Any

    def run(self) -> None:
        if self.kind == "waitress":
            self._server.run()
        else:
            self._server.serve_forever()

    def close(self) -> None:
        if self.kind == "waitress":
            self._server.close()
        else:
            self._server.server_close()


def make_server(storage: Any, host: str, port: int, path: str = "/dashboard/") -> DashboardServer:
    """Bind optuna-dashboard to ``host:port`` with a production WSGI server if installed.

    Waitress (a dependency of optsearch) is used where it imports; otherwise the
    standard library's threaded server.

    Raises:
        UsageError: The port is in use, or the host cannot be bound.
    """
    import optuna_dashboard

    app = optuna_dashboard.wsgi(storage)
    shown_host = f"[{host}]" if ":" in host else host
    try:
        try:
            import waitress
        except ImportError:
            from socketserver import ThreadingMixIn
            from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server as wsgiref_server

            class _Threaded(ThreadingMixIn, WSGIServer):
                daemon_threads = True

            class _Quiet(WSGIRequestHandler):
                def log_message(self, *args: Any) -> None:  # one line per request is noise here
                    pass

            server = wsgiref_server(host, port, app, server_class=_Threaded, handler_class=_Quiet)
            actual = server.server_port
            kind = "wsgiref"
        else:
            server = waitress.create_server(app, host=host, port=port, threads=8, ident="optsearch")
            actual = server.effective_port
            kind = "waitress"
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"Port {port} on {host} is already in use (another dashboard?). "
                "Pick another with --port."
            ) from None
        raise OptsearchError(f"Cannot serve on {host}:{port}: {exc.strerror or exc}.") from None
    return DashboardServer(f"http://{shown_host}:{actual}{path}", kind, server)
