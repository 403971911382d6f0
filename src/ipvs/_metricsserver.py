# The /metrics HTTP server behind python -m ipvs.exporter (its promises are
# listed in exporter's docstring): a bounded threading server, a netlink
# client per scrape in flight (_Clients), bodies streamed as ipvs.metrics
# makes them.
#
# Rule: only this module touches HTTP; the numbers come from ipvs.metrics,
# the command line from ipvs.exporter.
from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations stay strings
    from typing import Callable, Optional, Sequence, Tuple

from ._errors import NotAvailableError
from .metrics import BACKEND_LABELS, CONTENT_TYPE, metrics_chunks

DEFAULT_TIMEOUT = 10.0  # seconds: a read from or write to a client, a netlink receive
DEFAULT_MAX_REQUESTS = 4  # scrapes at a time (each holds its table's records)
MAX_CONNECTIONS = 64  # open client connections (a thread each)


def _say(text: str) -> None:
    """One line on standard error (the only log this server writes)."""
    try:
        sys.stderr.write("ipvs.exporter: %s\n" % text)
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed stderr must not stop a scrape
        pass


def _why(e: BaseException) -> str:
    """An error as one short line: the kernel's or the system's text."""
    text = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return " ".join(str(text).split())


class _Clients:
    """The netlink clients of the scrapes in flight: each scrape takes one
    (an idle one, or a new one) and gives it back; at most `limit` are
    taken at a time. A client whose scrape failed is closed, not reused:
    the next scrape opens a new one (after IPVS was unloaded and loaded
    again, its family has a new id)."""

    def __init__(self, new: Callable, limit: int, own: bool):
        self._new, self.limit, self._own = new, limit, own
        self._idle: list = []
        self._taken = 0
        self._lock = threading.Lock()

    def take(self):
        """A client, None when `limit` are taken; what opening one raises
        (NotAvailableError without IPVS)."""
        with self._lock:
            if self._taken >= self.limit:
                return None
            self._taken += 1
            client = self._idle.pop() if self._idle else None
        if client is None:
            try:
                client = self._new()
            except BaseException:
                self._give_back(None)
                raise
        return client

    def give(self, client, ok: bool) -> None:
        self._give_back(client if ok else None)
        if not ok:
            self._close(client)

    def _give_back(self, client) -> None:
        with self._lock:
            self._taken -= 1
            if client is not None:
                self._idle.append(client)

    def _close(self, client) -> None:
        if self._own:
            try:
                client.close()
            except Exception:
                pass

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for c in idle:
            self._close(c)


class _Handler(BaseHTTPRequestHandler):
    server_version = "ipvs-exporter"
    protocol_version = "HTTP/1.1"  # keep-alive; bodies chunked

    def setup(self):
        self.timeout = self.server.io_timeout  # every read and write (StreamRequestHandler)
        BaseHTTPRequestHandler.setup(self)

    def handle(self):
        try:
            BaseHTTPRequestHandler.handle(self)
        except OSError as e:  # the client went away or stalled between requests
            self._gone(e)

    def version_string(self):
        return self.server_version  # no Python version in the Server header

    def do_GET(self):
        self._answer(body=True)

    def do_HEAD(self):
        self._answer(body=False)

    def _answer(self, body: bool):
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._metrics(body)
        elif path == "/":
            self._send(200, "text/html; charset=utf-8",
                       b"<html><body><a href=\"/metrics\">/metrics</a></body></html>\n", body)
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found\n", body)

    def _metrics(self, body: bool):
        server = self.server
        try:
            client = server.clients.take()
        except Exception as e:  # no IPVS (yet, or any more), or no socket
            self._fail("cannot open IPVS: %s" % (getattr(e, "hint", None) or _why(e)), body)
            return
        if client is None:
            self._send(503, "text/plain; charset=utf-8",
                       b"too many scrapes at a time (--max-requests)\n", body)
            return
        ok = False
        try:
            chunks = metrics_chunks(client, labels=server.labels)
            # One scrape reads the kernel at a time (no client is written to
            # meanwhile): a reading's passing peak (every service's record and
            # label texts, the real servers' records copied once) is then
            # paid once, not once per scraper; what a scrape keeps while its
            # text is sent is its real servers' records.
            # (the wait is bounded: at most max_requests - 1 readings, each
            # bounded by the netlink timeout on every receive)
            server.reading.acquire()
            try:
                first = next(chunks)  # the kernel is read here: a 500 is still possible
            except Exception as e:
                self._fail("scrape failed: %s" % _why(e), body)
                return
            finally:
                server.reading.release()
            ok = True
            self._stream(first, chunks, body)
        finally:
            server.clients.give(client, ok)

    def _stream(self, first, chunks, body: bool):
        chunked = self.request_version != "HTTP/1.0"
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.close_connection = True  # the end of the connection ends the body
            self.send_header("Connection", "close")
        try:
            self.end_headers()
            if not body:
                return
            w = self.wfile.write
            chunk, first = first, None
            while True:
                if len(chunk):  # (an empty chunk would end a chunked body)
                    if chunked:
                        w(b"%x\r\n" % len(chunk))
                        w(chunk)
                        w(b"\r\n")
                    else:
                        w(chunk)
                chunk = None  # (sent: not kept while the next one is made)
                try:
                    chunk = next(chunks)
                except StopIteration:
                    break
            if chunked:
                w(b"0\r\n\r\n")
        except OSError as e:
            self._gone(e)
            self.close_connection = True
        except Exception as e:  # (the text is made from records already read)
            _say("scrape failed after its first bytes: %s" % _why(e))
            self.close_connection = True  # a cut body: the client sees the scrape fail
        finally:
            chunks.close()

    def _fail(self, text: str, body: bool):
        _say(text)
        self._send(500, "text/plain; charset=utf-8", (text + "\n").encode(), body)

    def _send(self, code, ctype, data: bytes, body: bool = True):
        try:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)
        except OSError as e:
            self._gone(e)
            self.close_connection = True

    def _gone(self, e: OSError):
        """One short line for a client that went away or stopped reading."""
        try:
            who = "%s:%s" % self.client_address[:2]
        except Exception:
            who = "a client"
        if isinstance(e, TimeoutError):
            _say("%s: timed out after %g s" % (who, self.server.io_timeout))
        elif not isinstance(e, (BrokenPipeError, ConnectionResetError)):
            _say("%s: %s" % (who, _why(e)))
        # (a client that closed its end, as Prometheus does at scrape_timeout: no line)

    def log_request(self, code="-", size="-"):
        pass  # a scrape every few seconds would flood stderr

    def log_error(self, fmt, *args):
        pass  # bad requests get their 4xx; an idle connection's timeout is no news

    def log_message(self, fmt, *args):
        pass


class _Server(ThreadingMixIn, HTTPServer):
    daemon_threads = True  # a stalled connection never holds up the exit
    block_on_close = False

    def __init__(self, address, clients, labels, io_timeout, max_connections):
        import socket
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        HTTPServer.__init__(self, address, _Handler)
        self.clients = clients
        self.reading = threading.Lock()  # held while a scrape reads the kernel
        self.labels = labels
        self.io_timeout = io_timeout
        self._connections = threading.BoundedSemaphore(max_connections)

    def process_request(self, request, client_address):
        if not self._connections.acquire(blocking=False):
            self._refuse(request)
            return
        try:
            ThreadingMixIn.process_request(self, request, client_address)
        except BaseException:  # no thread: the slot is free again
            self._connections.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            ThreadingMixIn.process_request_thread(self, request, client_address)
        finally:
            self._connections.release()

    def _refuse(self, request):
        try:
            request.settimeout(1.0)
            request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                            b"Connection: close\r\n\r\n")
        except OSError:
            pass
        self.shutdown_request(request)

    def handle_error(self, request, client_address):
        e = sys.exc_info()[1]
        _say("%s:%s: %s: %s" % (client_address[0], client_address[1], type(e).__name__,
                                _why(e)))  # one line, never a traceback

    def server_close(self):
        HTTPServer.server_close(self)
        self.clients.close()


def make_server(address: Tuple[str, int], *, labels: Sequence[str] = BACKEND_LABELS,
                client=None, netns: Optional[str] = None,
                max_requests: int = DEFAULT_MAX_REQUESTS,
                timeout: float = DEFAULT_TIMEOUT, new_client: Optional[Callable] = None,
                max_connections: int = MAX_CONNECTIONS) -> HTTPServer:
    """An HTTP server answering /metrics; serve_forever() runs it.

    Each scrape reads the kernel through a client of its own: a new
    ipvs.Client (in `netns` when given, `timeout` on its receives) opened
    when no idle one is left, at most `max_requests` at a time; the first
    is opened here (IPVSError: a namespace that cannot be entered; without
    IPVS the server starts all the same).
    new_client: what opens one instead (tests: a fake kernel); client: the
    one client every scrape uses (never closed here). `timeout`: seconds
    each read from or write to a client may take."""
    own = client is None and new_client is None
    if client is not None:
        def new_client():
            return client
    elif new_client is None:
        from ._client import Client

        def new_client():
            return Client(netns=netns, timeout=timeout)
    clients = _Clients(new_client, max_requests, own)
    if own:  # the first client before the port: a namespace that cannot be
        try:  # entered is said at start, not at every scrape
            clients.give(clients.take(), True)
        except NotAvailableError:
            pass  # IPVS not loaded yet (boot order): 500 at each scrape until it is
    try:
        return _Server(address, clients, tuple(labels), float(timeout), max_connections)
    except BaseException:
        clients.close()
        raise
