"""`ipvsadm -Lnc`: the library's numeric formatter (ipvs._conntext, which
the decoders' twin renders with) prints exactly what the CLI's per-record
renderer does, and the listing, which has the decoder write its lines as
bytes, prints the same text through main() to a text stream and to a
binary one, after its title, with the same errors."""
import io
import random

import pytest

import ipvs.cli as cli
from ipvs import _conns, _conntext
from ipvs._model import Info
from ipvs.cli import _render as R
from ipvs.cli._options import FMT_NUMERIC

from test_decoder_vectors import CONN_RECORDS, CONN_TEXT


def records(n, seed):
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        v6 = rnd.random() < 0.2
        mixed = rnd.random() < 0.1
        if v6:
            addr = lambda: "2001:db8::%x" % rnd.randrange(1, 1 << 16)  # noqa: E731
        else:
            addr = lambda: "10.%d.%d.%d" % (rnd.randrange(256), rnd.randrange(256),  # noqa: E731
                                             rnd.randrange(256))
        daddr = ("2001:db8::1" if not v6 else "10.0.0.1") if mixed else addr()
        out.append((rnd.choice(["TCP", "UDP", "SCTP"]), 10 if v6 else 2, addr(),
                    rnd.randrange(65536), addr(), rnd.randrange(65536), daddr,
                    rnd.randrange(65536), rnd.choice(["ESTABLISHED", "SYN_RECV", "NONE", "CLOSE"]),
                    rnd.choice([0, 5, 59, 60, 899, 5999, 6000, 86400, 4294967]),
                    rnd.choice(["", "sip"]), rnd.choice(["", "callid-1"])))
    return out


def record_renderer(recs):
    return "".join(R.connection_record(r, FMT_NUMERIC, R.NumericNames()) for r in recs)


def test_numeric_lines_equal_record_renderer():
    recs = records(3000, 1)
    assert _conntext.numeric_lines(recs) == record_renderer(recs)


def test_numeric_lines_empty():
    assert _conntext.numeric_lines([]) == ""


# ------------------------------------------------------ the -Lnc listing

TITLE = "IPVS connection entries\npro expire state       source             virtual            destination\n"


class ConnFileClient:
    """What the listing asks of the kernel connection: the version line's
    Info, and where /proc/net/ip_vs_conn is (here a snapshot file)."""

    def __init__(self, path):
        self.path = path

    def info(self):
        return Info(version=0x010201, conn_tab_size=4096)

    def proc_file(self, name):
        assert name == "ip_vs_conn"
        return self.path

    def close(self):
        pass


@pytest.fixture
def table(tmp_path, monkeypatch):
    """Write the snapshot the listing reads: table(bytes) -> its path."""
    path = tmp_path / "ip_vs_conn"
    monkeypatch.setattr("ipvs.Client", lambda **kw: ConnFileClient(str(path)))

    def write(text):
        path.write_bytes(text)
        return path
    return write


def run_text(args):
    out, err = io.StringIO(), io.StringIO()
    status = cli.main(["ipvsadm"] + args, out, err)
    return status, out.getvalue(), err.getvalue()


def run_binary(args):
    """main() with a stdout that has a binary buffer, as sys.stdout does:
    what reaches the bytes underneath, in order."""
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", write_through=False)
    err = io.StringIO()
    status = cli.main(["ipvsadm"] + args, out, err)
    out.flush()
    return status, raw.getvalue(), err.getvalue()


def big_table(n):
    """CONN_TEXT's lines over and over: several of _conns' batches."""
    head, *lines = CONN_TEXT.splitlines(True)
    return head + b"".join(lines[i % len(lines)] for i in range(n))


def test_lnc_prints_the_record_renderer_text(table):
    table(big_table(30000))
    assert len(big_table(30000)) > 3 * _conns.BATCH
    want = TITLE + record_renderer(CONN_RECORDS[i % len(CONN_RECORDS)] for i in range(30000))
    assert run_text(["-Lnc"]) == (0, want, "")
    assert run_text(["-L", "-c", "-n"]) == (0, want, "")
    assert run_binary(["-Lnc"]) == (0, want.encode(), "")


def test_lnc_bytes_as_they_are(table):
    """Tokens that are not ASCII: a binary stdout gets the file's own
    bytes (as ipvsadm's printf writes them); a text stream the same bytes
    as latin-1 characters."""
    line = b"T\xe9P 0A000001 0001 0A000002 0002 0A000003 0003 \xffSTATE 61\n"
    table(CONN_TEXT.splitlines(True)[0] + line)
    rendered = b"T\xe9P 01:01  \xffSTATE      10.0.0.1:1         10.0.0.2:2         10.0.0.3:3\n"
    assert run_binary(["-Lnc"]) == (0, TITLE.encode() + rendered, "")
    assert run_text(["-Lnc"]) == (0, TITLE + rendered.decode("latin-1"), "")


def test_lnc_title_first_when_the_stream_holds_text(table):
    """Text already in the stream's text layer comes out before the title
    and the lines written underneath it."""
    table(CONN_TEXT)
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", write_through=False)
    out.write("before\n")
    assert cli.main(["ipvsadm", "-Lnc"], out, io.StringIO()) == 0
    out.flush()
    assert raw.getvalue() == b"before\n" + TITLE.encode() + record_renderer(CONN_RECORDS).encode()


def test_lnc_empty_table(table):
    table(CONN_TEXT.splitlines(True)[0])
    assert run_text(["-Lnc"]) == (0, TITLE, "")
    assert run_binary(["-Lnc"]) == (0, TITLE.encode(), "")


def test_lnc_bad_line(table):
    """A line not in the kernel's format: the decoders' message and exit
    status 1, after the title, in both kinds of stream."""
    table(CONN_TEXT + b"TCP 0A000001 0001 0A000002 0002 0A000003 0003 NONE\n")
    assert run_text(["-Lnc"]) == (1, TITLE, "short connection line\n")
    assert run_binary(["-Lnc"]) == (1, TITLE.encode(), "short connection line\n")


def test_persistent_conn_keeps_the_record_renderer(table):
    """-Lnc --persistent-conn is not the decoder's text: its own layout
    with the persistence-engine columns."""
    table(CONN_TEXT)
    status, out, err = run_text(["-Lnc", "--persistent-conn"])
    assert (status, err) == (0, "")
    assert out == R.connections_title(FMT_NUMERIC | R.FMT_PERSISTENTCONN) + "".join(
        R.connection_record(r, FMT_NUMERIC | R.FMT_PERSISTENTCONN, R.NumericNames())
        for r in CONN_RECORDS)
    assert "sip" in out and "a84b4c76e66710" in out


def test_lnc_json_writes_each_record(table):
    """-Lnc --json writes each decoder record's object straight from the
    record (no Connection made): the documented keys, each field where
    the keys say, the engine's two keys only on a connection that has
    one; compact and --pretty are the same document."""
    import json

    from jsonkeys import validate
    table(CONN_TEXT)
    status, out, err = run_text(["-Lnc", "--json"])
    assert (status, err) == (0, "")
    objs = json.loads(out)
    assert len(objs) == len(CONN_RECORDS) and out.endswith("}]\n")
    for o, r in zip(objs, CONN_RECORDS):
        validate(o, "connection")
        assert (o["protocol"], o["source"], o["source_port"], o["virtual"], o["virtual_port"],
                o["destination"], o["destination_port"], o["state"], o["expires"]) == \
            (r[0].lower(), r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9])
        assert o["family"] == {2: "inet", 10: "inet6"}[r[1]]
        assert (o.get("pe"), o.get("pe_data")) == ((r[10], r[11]) if r[10] else (None, None))
    assert json.loads(run_text(["-Lnc", "--json", "--pretty"])[1]) == objs
