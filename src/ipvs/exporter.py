"""A Prometheus endpoint for IPVS: `python -m ipvs.exporter --listen ADDR:PORT`.

Serves on /metrics what `ipvsadm -L --prometheus` prints (ipvs.metrics),
read from the kernel afresh at every scrape; standard library only
(http.server with a thread per connection).

    python -m ipvs.exporter --listen 127.0.0.1:9532 [--labels LIST] [--netns NAME|PATH]
        [--max-requests N] [--timeout SECONDS]

What it promises a load balancer's operator:
- Scrapes run side by side, each on a netlink socket of its own, at most
  --max-requests at a time (503 beyond, as node_exporter's
  --web.max-requests); connections beyond MAX_CONNECTIONS are answered 503
  and closed. No lock is held while a client is written to, so a client
  that never reads delays no other.
- Every read from and write to a client has a timeout (--timeout, 10 s),
  an idle keep-alive connection's wait for its next request included; the
  netlink sockets too (a dump the kernel never ends fails the scrape).
- The body goes out as it is made (chunked over HTTP/1.1; over HTTP/1.0
  the connection's end ends it), never held whole.
- A scrape that fails answers 500 with one line on standard error; without
  IPVS (not loaded yet, or gone) every scrape is such a 500 until the
  kernel answers again. A client that goes away costs one short line; no
  path prints a traceback.

The library side: make_server(address, labels=..., ...) returns the server
to run with serve_forever() (the server itself: ipvs._metricsserver).
"""
from __future__ import annotations

import sys
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations stay strings
    from typing import Tuple

from ._metricsserver import DEFAULT_MAX_REQUESTS, DEFAULT_TIMEOUT, _say, _why, make_server
from .metrics import BACKEND_LABELS, parse_labels

__all__ = ["make_server", "parse_listen", "main"]

DEFAULT_LISTEN = "127.0.0.1:9532"
MAX_TIMEOUT = 3600.0


def parse_listen(text: str) -> Tuple[str, int]:
    """ADDR:PORT, [IPv6]:PORT or :PORT (every address) -> (host, port);
    ValueError with a message."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("--listen takes ADDR:PORT (e.g. 127.0.0.1:9532): %s" % text)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def _usage() -> str:
    return ("usage: python -m ipvs.exporter [--listen ADDR:PORT] [--labels LIST] "
            "[--netns NAME|PATH] [--max-requests N] [--timeout SECONDS]\n"
            "  --listen        where to serve /metrics (default %s)\n"
            "  --labels        the labels of real-server series, comma-separated, from %s "
            "(default: all)\n"
            "  --netns         the network namespace whose table to serve: a name in\n"
            "                  /run/netns, or a path to a namespace file\n"
            "  --max-requests  scrapes served at a time, 503 beyond (default %d)\n"
            "  --timeout       seconds a read from or write to a client, or the kernel's "
            "answer, may take (default %g, at most %g)\n"
            % (DEFAULT_LISTEN, ",".join(BACKEND_LABELS), DEFAULT_MAX_REQUESTS,
               DEFAULT_TIMEOUT, MAX_TIMEOUT))


def _options(args):
    opts = {"--listen": DEFAULT_LISTEN, "--labels": None, "--netns": None,
            "--max-requests": str(DEFAULT_MAX_REQUESTS), "--timeout": str(DEFAULT_TIMEOUT)}
    while args:
        a = args.pop(0)
        if a in ("-h", "--help"):
            return None
        name, eq, value = a.partition("=")
        if name not in opts:
            raise ValueError("unknown option: %s" % a)
        if not eq:
            if not args:
                raise ValueError("%s needs a value" % name)
            value = args.pop(0)
        opts[name] = value
    n = opts["--max-requests"]
    if not n.isdigit() or not 1 <= int(n) <= 1000:
        raise ValueError("--max-requests takes a number from 1 to 1000: %s" % n)
    try:
        t = float(opts["--timeout"])
    except ValueError:
        t = -1.0
    if not 0.1 <= t <= MAX_TIMEOUT:  # (NaN fails too)
        raise ValueError("--timeout takes seconds from 0.1 to %g: %s"
                         % (MAX_TIMEOUT, opts["--timeout"]))
    return dict(address=parse_listen(opts["--listen"]), netns=opts["--netns"],
                labels=BACKEND_LABELS if opts["--labels"] is None
                else parse_labels(opts["--labels"]),
                max_requests=int(n), timeout=t)


def _return_freed_memory() -> None:
    """glibc's malloc: large blocks (C's 1 MiB text buffers, a reading's
    records) from mmap and back to the system when freed. By default the
    threshold follows the largest block freed, and blocks under it come
    from each thread's own heap, which keeps its peak: a server that
    serves scrapes from many threads would grow with every thread."""
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        libc.mallopt(-3, 256 << 10)  # M_MMAP_THRESHOLD (fixed: no more following)
        libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError, ImportError):  # not glibc: its own ways
        pass


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        opts = _options(args)
    except ValueError as e:
        sys.stderr.write("ipvs.exporter: %s\n%s" % (e, _usage()))
        return 2
    if opts is None:
        sys.stdout.write(_usage())
        return 0
    listen = "%s:%d" % opts["address"]
    from ._base import IPVSError
    try:
        server = make_server(**opts)
    except IPVSError as e:  # (a namespace that cannot be entered)
        _say("cannot open IPVS: %s" % " ".join(str(e).split()))
        return 1
    except OSError as e:
        _say("cannot listen on %s: %s" % (listen, _why(e)))
        return 1
    except Exception as e:
        _say("cannot start: %s" % _why(e))
        return 1
    _return_freed_memory()
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
