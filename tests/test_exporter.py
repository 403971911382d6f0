"""The exporter's HTTP side against clients that misbehave: a real server
on 127.0.0.1 over the in-memory kernel (tests/memkernel.py), each wait
bounded. The same behaviour against the real kernel and Prometheus is in
tests/kernel/test_exporter_live.py."""
import errno
import http.client
import socket
import threading
import time

import pytest

from ipvs import Destination, NotAvailableError, ProtocolError, Service, Stats
from ipvs import exporter

from test_cli_beyond import FakeClient

WEB = Service(protocol="tcp", address="10.0.0.1", port=80, stats=Stats(3, 10, 9))
D1 = Destination(address="192.168.0.1", port=8080, weight=3, stats=Stats(2, 7, 6))
BIG = b"#" * (1 << 20)  # a stand-in for C's 1 MiB chunks of series


class Kernel(FakeClient):
    def proc_file(self, name):
        return "/nonexistent/" + name


class BigKernel(Kernel):
    """Every real-server family's text is 8 MiB (the HTTP side does not
    read it): a body no socket buffer holds."""

    def live_listing(self, lines=None):
        records, texts = Kernel.live_listing(self, lines)
        return records, [iter([BIG] * 8) for _ in texts]


class Server:
    def __init__(self, **kw):
        if "new_client" not in kw:
            kw.setdefault("client", Kernel([(WEB, [D1])]))
        kw.setdefault("timeout", 1.0)
        self.server = exporter.make_server(("127.0.0.1", 0), **kw)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def get(self, path="/metrics", method="GET", timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path)
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def raw(self, rcvbuf=None):
        s = socket.socket()
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(10)
        s.connect(("127.0.0.1", self.port))
        return s

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def serve():
    made = []

    def make(**kw):
        made.append(Server(**kw))
        return made[-1]
    yield make
    for s in made:
        s.close()


def no_traceback(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return err


def test_get_and_head_stream_the_body_with_our_own_server_name(serve, capsys):
    s = serve()
    status, headers, body = s.get()
    assert status == 200 and headers["Transfer-Encoding"] == "chunked"
    assert b'node_ipvs_backend_weight{local_address="10.0.0.1"' in body
    assert headers["Server"] == "ipvs-exporter" and "Python" not in str(headers)
    status, headers, body = s.get(method="HEAD")
    assert (status, body) == (200, b"") and headers["Content-Type"].startswith("text/plain")
    assert s.get("/nope")[0] == 404 and s.get("/nope", method="HEAD")[0] == 404
    assert no_traceback(capsys) == ""


def test_http_1_0_gets_the_body_to_the_connection_s_end(serve):
    s = serve()
    c = s.raw()
    c.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    got = b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        part = c.recv(1 << 16)
        if not part:
            break
        got += part
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"chunked" not in head
    assert body.endswith(b"\n") and b"node_ipvs_services 1\n" in body


def test_an_idle_connection_stops_no_scrape_and_is_closed_at_the_timeout(serve, capsys):
    s = serve(timeout=1.0)
    idle = s.raw()  # says nothing
    t0 = time.monotonic()
    assert s.get()[0] == 200
    assert time.monotonic() - t0 < 5
    # and an idle keep-alive connection after a request
    keep = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    keep.request("GET", "/metrics")
    assert keep.getresponse().read()
    for sock in (idle, keep.sock):
        t0 = time.monotonic()
        assert sock.recv(1) == b""  # closed by the server
        assert time.monotonic() - t0 < 5
    assert no_traceback(capsys) == ""


def test_a_client_that_never_reads_delays_no_other(serve, capsys):
    s = serve(client=BigKernel([(WEB, [D1])]), timeout=1.0)
    stuck = s.raw(rcvbuf=4096)
    stuck.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")  # and never reads
    time.sleep(0.3)
    t0 = time.monotonic()
    status, _, body = s.get()
    assert status == 200 and len(body) > 100 << 20
    assert time.monotonic() - t0 < 8
    deadline = time.monotonic() + 10  # the stuck one is let go at the write timeout
    while "timed out" not in capsys.readouterr().err and time.monotonic() < deadline:
        time.sleep(0.2)
    assert time.monotonic() < deadline
    stuck.close()
    assert s.get()[0] == 200
    no_traceback(capsys)


def test_a_client_gone_mid_body_costs_at_most_a_line(serve, capsys):
    s = serve(client=BigKernel([(WEB, [D1])]))
    for _ in range(3):
        c = s.raw()
        c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.recv(1 << 16).startswith(b"HTTP/1.1 200")
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # a reset
        c.close()
    assert s.get()[0] == 200
    err = no_traceback(capsys)
    assert len(err.splitlines()) <= 3


class Failing(Kernel):
    def __init__(self, error, *a, **kw):
        Kernel.__init__(self, *a, **kw)
        self.error = error

    def service_records(self):
        if self.error is not None:
            raise self.error
        return Kernel.service_records(self)


@pytest.mark.parametrize("error", [ProtocolError("dump interrupted 5 times in a row"),
                                   OSError(errno.EIO, "Input/output error"),
                                   RuntimeError("a bug")])
def test_every_failure_answers_500_with_one_line(serve, capsys, error):
    k = Failing(error, [(WEB, [D1])])
    s = serve(client=k)
    for _ in range(2):
        status, _, body = s.get()
        assert status == 500 and body.startswith(b"scrape failed: ")
    err = no_traceback(capsys)
    assert err.count("\n") == 2 and err.startswith("ipvs.exporter: scrape failed: ")
    k.error = None
    assert s.get()[0] == 200


def test_without_ipvs_it_answers_500_until_the_kernel_answers(serve, capsys):
    state = {"loaded": False, "opened": 0}

    def new_client():
        if not state["loaded"]:
            raise NotAvailableError()
        state["opened"] += 1
        return Kernel([(WEB, [D1])])
    s = serve(new_client=new_client)
    for _ in range(3):
        status, _, body = s.get()
        assert status == 500 and b"load ip_vs" in body
    assert s.get(method="HEAD")[0] == 500
    err = no_traceback(capsys)
    assert err.count("cannot open IPVS") == 4 and err.count("\n") == 4
    state["loaded"] = True
    assert s.get()[0] == 200 and s.get()[0] == 200
    assert state["opened"] == 1  # an idle client is used again


class Slow(Kernel):
    """A scrape that waits (in the kernel's read) until released."""

    def __init__(self, *a, **kw):
        Kernel.__init__(self, *a, **kw)
        self.entered, self.release = threading.Semaphore(0), threading.Event()

    def service_records(self):
        self.entered.release()
        self.release.wait(10)
        return Kernel.service_records(self)


def test_scrapes_beyond_the_limit_get_503(serve):
    k = Slow([(WEB, [D1])])
    s = serve(new_client=lambda: k, max_requests=2, timeout=5)
    results = []
    threads = [threading.Thread(target=lambda: results.append(s.get()[0])) for _ in range(2)]
    for t in threads:
        t.start()
    assert k.entered.acquire(timeout=5)  # one reads, the other waits for its turn
    deadline = time.monotonic() + 5
    while s.server.clients._taken < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status, _, body = s.get()
    assert status == 503 and b"--max-requests" in body
    k.release.set()
    for t in threads:
        t.join(10)
    assert results == [200, 200] and k.entered.acquire(timeout=1)
    assert s.get()[0] == 200


def test_connections_beyond_the_limit_get_503(serve):
    s = serve(max_connections=2, timeout=5)
    held = [s.raw(), s.raw()]
    time.sleep(0.3)
    c = s.raw()
    c.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
    assert c.recv(100).startswith(b"HTTP/1.1 503")
    for h in held:
        h.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the slots come back as their threads end
        try:
            if s.get(timeout=5)[0] == 200:
                break
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    assert time.monotonic() < deadline


def test_options():
    assert exporter._options(["--max-requests", "2", "--timeout", "3"])["max_requests"] == 2
    for bad in (["--max-requests", "0"], ["--timeout", "1e10"], ["--timeout", "nan"],
                ["--timeout", "0"]):
        with pytest.raises(ValueError):
            exporter._options(bad)
    assert exporter.main(["--timeout", "1e10"]) == 2
