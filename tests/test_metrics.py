"""The Prometheus exposition (ipvs.metrics), the exporter's HTTP side and
-L --prometheus, on the host against the in-memory kernel."""
import threading
import urllib.error
import urllib.request

import pytest

from ipvs import Destination, Service, Stats
from ipvs import metrics as M
from ipvs import exporter

from test_cli_beyond import FakeClient, run

WEB = Service(protocol="tcp", address="10.0.0.1", port=80,
              stats=Stats(3, 10, 9, 1000, 2 ** 40, 1, 2, 3, 4, 5))
MARK = Service(fwmark=5, stats=Stats())
D1 = Destination(address="192.168.0.1", port=8080, weight=3, active_conns=2, inactive_conns=1,
                 persistent_conns=4, stats=Stats(2 ** 63 + 1, 7, 6, 500, 600))
D2 = Destination(address="192.168.0.2", port=8080, weight=1, stats=Stats(1, 1, 1, 1, 1))
D6 = Destination(address="2001:db8::1", port=80, weight=2, stats=Stats())


def samples(text, name):
    return {l.split(" ")[0][len(name):]: l.split(" ")[1] for l in text.splitlines()
            if l.startswith(name + "{") or l.startswith(name + " ")}


def test_node_exporter_names_labels_and_exact_counters():
    t = M.metrics_exposition([(WEB, [D1, D2]), (MARK, [D6])], totals=Stats(9, 8, 7, 6, 5, 4, 3, 2, 1, 0))
    assert samples(t, "node_ipvs_connections_total") == {"": "9"}
    assert samples(t, "node_ipvs_outgoing_bytes_total") == {"": "5"}
    lab1 = ('{local_address="10.0.0.1",local_port="80",remote_address="192.168.0.1",'
            'remote_port="8080",proto="TCP",local_mark=""}')
    lab6 = ('{local_address="",local_port="0",remote_address="2001:db8::1",remote_port="80",'
            'proto="FWM",local_mark="00000005"}')
    assert samples(t, "node_ipvs_backend_connections_active")[lab1] == "2"
    assert samples(t, "node_ipvs_backend_connections_inactive")[lab1] == "1"
    assert samples(t, "node_ipvs_backend_connections_persistent")[lab1] == "4"
    assert samples(t, "node_ipvs_backend_weight")[lab6] == "2"
    assert samples(t, "node_ipvs_backend_connections_total")[lab1] == str(2 ** 63 + 1)
    svc = '{local_address="10.0.0.1",local_port="80",proto="TCP",local_mark=""}'
    assert samples(t, "node_ipvs_service_outgoing_bytes_total")[svc] == str(2 ** 40)
    assert samples(t, "node_ipvs_service_outgoing_bytes_per_second")[svc] == "5"
    assert "# TYPE node_ipvs_backend_connections_total counter\n" in t
    assert "# TYPE node_ipvs_backend_weight gauge\n" in t
    assert samples(t, "node_ipvs_services") == {"": "2"}


def test_labels_cut_and_sum_as_node_exporter():
    assert M.parse_labels("proto, local_port") == ("local_port", "proto")
    assert M.parse_labels("") == ()
    with pytest.raises(ValueError, match="unknown IPVS backend labels: bad, worse"):
        M.parse_labels("worse,proto,bad")
    t = M.metrics_exposition([(WEB, [D1, D2]), (MARK, [D6])], labels=("proto",))
    assert samples(t, "node_ipvs_backend_weight") == {'{proto="TCP"}': "4",
                                                      '{proto="FWM"}': "2"}
    assert samples(t, "node_ipvs_backend_connections_total")['{proto="TCP"}'] == \
        str(2 ** 63 + 2)
    t = M.metrics_exposition([(WEB, [D1, D2])], labels=())
    assert samples(t, "node_ipvs_backend_weight") == {"": "4"}


def test_label_values_are_escaped():
    assert M._labels(("a",), {"a": 'x"y\\z\n'}) == '{a="x\\"y\\\\z\\n"}'


def test_the_scrapes_label_texts_are_the_exposition_s():
    """_label_texts (the fast scrape's, one format per piece) writes what
    _labels writes, escaping included (a stand-in service: a real one's
    values never need it), and the real servers' two pieces around
    their own labels make their label text."""
    from types import SimpleNamespace
    odd = SimpleNamespace(fwmark=0, address='a"b\\c\nd', port=80, protocol=6)
    for s in (WEB, MARK, odd):
        texts, pieces = M._label_texts([M._service_values(s)])
        values = M.service_label_values(s)
        assert texts == [M._labels(M.SERVICE_LABELS, values)]
        backend = dict(values, remote_address="10.1.1.1", remote_port="8080")
        assert "{" + pieces[0][0] + 'remote_address="10.1.1.1",remote_port="8080"' + \
            pieces[0][1] + "}" == M._labels(M.BACKEND_LABELS, backend)


class Kernel(FakeClient):
    def proc_file(self, name):
        return "/nonexistent/" + name


@pytest.fixture
def kernel(monkeypatch):
    k = Kernel([(WEB, [D1, D2])])
    monkeypatch.setattr("ipvs.Client", lambda **kw: k)
    return k


def test_cli_prometheus(kernel):
    status, out, err = run(["-L", "--prometheus", "--labels", "remote_address"])
    assert status == 0 and err == ""
    assert samples(out, "node_ipvs_backend_weight") == {'{remote_address="192.168.0.1"}': "3",
                                                        '{remote_address="192.168.0.2"}': "1"}
    assert "node_ipvs_scrape_duration_seconds " in out
    assert "node_ipvs_connections_total" not in out  # no /proc/net/ip_vs_stats here
    status, out, err = run(["-L", "--prometheus", "-t", "10.0.0.1:80"])
    assert status == 0 and samples(out, "node_ipvs_services") == {"": "1"}
    assert run(["-L", "--prometheus", "-t", "10.0.0.9:80"])[::2] == (1, "No such service\n")
    for args, msg in [(["-L", "--prometheus", "--labels", "x"], "--labels: unknown"),
                      (["-L", "--labels", "proto"], "--labels goes with --prometheus"),
                      (["-A", "-t", "1.2.3.4:80", "--prometheus"], "--prometheus goes with -L"),
                      (["-L", "-c", "--prometheus"], "--prometheus goes with -L"),
                      (["-L", "--prometheus", "--json"], "--json does not go")]:
        status, out, err = run(args)
        assert status == 2 and err.startswith(msg) and "Traceback" not in err, (args, err)


def test_cli_prometheus_writes_the_chunks_as_the_text(kernel):
    """The whole table with every label goes out chunk by chunk (the
    in-memory kernel cuts its listings into 100-byte chunks): to a binary
    buffer when the output has one, as text otherwise; the same text."""
    import io
    import ipvs.cli as cli
    want = M.metrics_exposition(kernel.entries())
    status, out, err = run(["-L", "--prometheus"])
    assert (status, err) == (0, "") and out.rsplit("# HELP node_ipvs_scrape", 1)[0] == want
    raw = io.BytesIO()
    text = io.TextIOWrapper(raw, encoding="utf-8")
    assert cli.main(["ipvsadm", "-L", "--prometheus"], text, io.StringIO(), io.StringIO()) == 0
    text.flush()
    assert raw.getvalue().decode().rsplit("# HELP node_ipvs_scrape", 1)[0] == want


def test_exporter_serves_metrics(kernel):
    server = exporter.make_server(("127.0.0.1", 0), client=kernel, labels=("proto",))
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        base = "http://127.0.0.1:%d" % server.server_address[1]
        r = urllib.request.urlopen(base + "/metrics", timeout=10)
        assert r.headers["Content-Type"] == M.CONTENT_TYPE
        body = r.read().decode()
        assert samples(body, "node_ipvs_backend_weight") == {'{proto="TCP"}': "4"}
        # every label: the fast path's chunks sent one after another
        server.labels = M.BACKEND_LABELS
        r = urllib.request.urlopen(base + "/metrics", timeout=10)
        body = r.read()
        assert r.headers["Transfer-Encoding"] == "chunked"
        assert body.decode().rsplit("# HELP node_ipvs_scrape", 1)[0] == \
            M.metrics_exposition(kernel.entries())
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(base + "/nope", timeout=10)
        assert e.value.code == 404
    finally:
        server.shutdown()
        server.server_close()


def test_exporter_bad_options(capsys):
    assert exporter.main(["--listen", "nowhere"]) == 2
    assert "--listen takes ADDR:PORT" in capsys.readouterr().err
    assert exporter.main(["--labels", "bad"]) == 2
    assert "unknown IPVS backend labels" in capsys.readouterr().err
    assert exporter.main(["--frob"]) == 2
    assert exporter.parse_listen("[::1]:9100") == ("::1", 9100)
    assert exporter.parse_listen(":9100") == ("", 9100)


V6 = Service(protocol="udp", address="2001:db8::80", port=53, stats=Stats(1, 2, 3, 4, 5))
MARK6 = Service(fwmark=5, af=10, stats=Stats(7))  # the same labels as MARK


def test_fast_exposition_is_the_exposition():
    """The scrape written from the dump records (every label) is the text
    metrics_exposition() makes of the objects; None when two services share
    their labels (their series are summed: only the objects' path sums)."""
    table = [(WEB, [D1, D2]), (MARK, [D6]), (V6, [D1, D6]), (Service(protocol="sctp",
             address="10.0.0.2", port=3868), [])]
    k = Kernel(table)
    totals = Stats(9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
    want = M.metrics_exposition(k.entries(), totals=totals)
    assert M.fast_exposition(k, totals) == want  # from the services' records
    assert M.fast_exposition(k, totals, services=k.services()) == want  # from objects
    assert M.fast_exposition(k) == M.metrics_exposition(k.entries())
    assert M.fast_exposition(Kernel(table + [(MARK6, [D2])])) is None
    assert M.fast_exposition(Kernel([])) is None
    # and the scrape takes it: the same text but for the duration gauge
    assert M.collect_metrics(k).rsplit("# HELP node_ipvs_scrape", 1)[0] == \
        M.metrics_exposition(k.entries())
