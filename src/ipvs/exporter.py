"""A Prometheus endpoint for IPVS: `python -m ipvs.exporter --listen ADDR:PORT`.

Serves on /metrics what `ipvsadm -L --prometheus` prints (ipvs.metrics),
read from the kernel afresh at every scrape; standard library only
(http.server), one scrape at a time over one netlink socket.

    python -m ipvs.exporter --listen 127.0.0.1:9532 [--labels LIST] [--netns NAME]

The library side: make_server(address, labels=..., client=...) returns an
http.server.HTTPServer to run with serve_forever().
"""
from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations stay strings
    from typing import Optional, Sequence, Tuple

from .metrics import BACKEND_LABELS, CONTENT_TYPE, metrics_chunks, parse_labels

__all__ = ["make_server", "parse_listen", "main"]

DEFAULT_LISTEN = "127.0.0.1:9532"


def parse_listen(text: str) -> Tuple[str, int]:
    """ADDR:PORT, [IPv6]:PORT or :PORT (every address) -> (host, port);
    ValueError with a message."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("--listen takes ADDR:PORT (e.g. 127.0.0.1:9532): %s" % text)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


class _Handler(BaseHTTPRequestHandler):
    server_version = "ipvs-exporter"

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            try:
                # the chunks as made (C's own buffers), not joined: Content-Length
                # is their sum
                body = list(metrics_chunks(self.server.client, labels=self.server.labels))
            except OSError as e:  # a KernelError too: the scrape fails, the server stays
                self._send(500, "text/plain; charset=utf-8",
                           ("scrape failed: %s\n" % (e.strerror or e)).encode())
                return
            self._send(200, CONTENT_TYPE, *body)
        elif path == "/":
            self._send(200, "text/html; charset=utf-8",
                       b"<html><body><a href=\"/metrics\">/metrics</a></body></html>\n")
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found\n")

    def _send(self, code, ctype, *body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(sum(len(b) for b in body)))
        self.end_headers()
        for b in body:
            self.wfile.write(b)

    def log_message(self, fmt, *args):  # quiet: a scrape a second would flood stderr
        pass


class _Server(HTTPServer):
    def __init__(self, address, client, labels):
        import socket
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        HTTPServer.__init__(self, address, _Handler)
        self.client = client
        self.labels = labels


def make_server(address: Tuple[str, int], *, labels: Sequence[str] = BACKEND_LABELS,
                client=None, netns: Optional[str] = None) -> HTTPServer:
    """An HTTP server answering /metrics from `client` (a new ipvs.Client,
    in `netns` when given, if None)."""
    if client is None:
        from ._client import Client
        client = Client(netns=netns)
    return _Server(address, client, tuple(labels))


def _usage() -> str:
    return ("usage: python -m ipvs.exporter [--listen ADDR:PORT] [--labels LIST] "
            "[--netns NAME]\n  --listen  where to serve /metrics (default %s)\n"
            "  --labels  the labels of real-server series, comma-separated, from %s "
            "(default: all)\n  --netns   the network namespace whose table to serve\n"
            % (DEFAULT_LISTEN, ",".join(BACKEND_LABELS)))


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    opts = {"--listen": DEFAULT_LISTEN, "--labels": None, "--netns": None}
    try:
        while args:
            a = args.pop(0)
            if a in ("-h", "--help"):
                sys.stdout.write(_usage())
                return 0
            name, eq, value = a.partition("=")
            if name not in opts:
                raise ValueError("unknown option: %s" % a)
            if not eq:
                if not args:
                    raise ValueError("%s needs a value" % name)
                value = args.pop(0)
            opts[name] = value
        address = parse_listen(opts["--listen"])
        labels = BACKEND_LABELS if opts["--labels"] is None else parse_labels(opts["--labels"])
    except ValueError as e:
        sys.stderr.write("ipvs.exporter: %s\n%s" % (e, _usage()))
        return 2
    from ._base import IPVSError
    try:
        server = make_server(address, labels=labels, netns=opts["--netns"])
    except IPVSError as e:
        sys.stderr.write("ipvs.exporter: cannot open IPVS: %s\n" % (e,))
        return 1
    except OSError as e:
        sys.stderr.write("ipvs.exporter: cannot listen on %s: %s\n"
                         % (opts["--listen"], e.strerror or e))
        return 1
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
