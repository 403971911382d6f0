"""Listing lines written from dump records (ipvs.lines programs, the CLI's
real-server formats): C from its raw records and the twin from its tuples
give the text the object renderer (cli._render.service_entry) gives for
the same replies, in every numeric per-service format, sorted or not, for
random real servers (IPv4 and IPv6, every forwarding method, counters
across all of ipvsadm's K/M/G/T cut-offs, the largest values)."""
import errno
import random
import socket

import pytest

from ipvs import Service, Stats, _decode_py, lines
from ipvs import _spec as spec
from ipvs._client import dest_from_record
from ipvs.cli import _options as O
from ipvs.cli import _programs as P, _render as R
from test_decoder_vectors import AF4, AF6, IMPLS, PID, SEQ, dest_msg, done
from test_decoder_vectors import SVC_TCP4_REC as SVC_REC
from test_dumps import run

FORMATS = [O.FMT_STATS, O.FMT_STATS | O.FMT_EXACT, O.FMT_RATE, O.FMT_RATE | O.FMT_EXACT,
           O.FMT_THRESHOLDS, O.FMT_PERSISTENTCONN, 0, O.FMT_RULE]
BIG = (0, 1, 99999999, 100000000, 999999999, 1000000000, 99999999999, 100000000000,
       99999999999999, 100000000000000, 2 ** 63, 2 ** 64 - 1)


def _value(rng, bits):
    return rng.choice(BIG) if bits == 64 and rng.random() < 0.5 else rng.randrange(1 << bits)


def random_dest(rng):
    af = rng.choice((AF4, AF4, AF6))
    if af == AF4:
        addr = bytes(rng.choice((10, 192, 1, 255)) if i == 0 else rng.randrange(256)
                     for i in range(4))
    else:
        addr = bytes([0x20, 0x01, 0x0d, 0xb8] + [rng.choice((0, rng.randrange(256)))
                                                 for _ in range(12)])
    stats = {f: _value(rng, 64) for f in spec.STATS_FIELDS}
    return {"addr": addr, "port": rng.choice((0, 80, 8080, 65535)), "fwd_method":
            rng.randrange(8), "weight": rng.choice((0, 1, 100, 0xFFFFFFFF, 0x7FFFFFFF)),
            "u_thresh": _value(rng, 32), "l_thresh": _value(rng, 32),
            "active_conns": _value(rng, 32), "inact_conns": _value(rng, 32),
            "persist_conns": _value(rng, 32), "addr_family": af,
            "tun_type": rng.choice((0, 1, 2, 3)), "tun_port": rng.choice((0, 6080, 65535)),
            "tun_flags": rng.choice((0, 1, 2, 3, 77)),
            "stats": {f: v & 0xFFFFFFFF for f, v in stats.items()}, "stats64": stats}


def random_case(seed):
    rng = random.Random(seed)
    services, script = [], []
    for i in range(rng.randint(1, 6)):
        svc = Service(protocol="tcp", address="10.0.0.%d" % (i + 1), port=80, scheduler="rr",
                      stats=Stats(*[_value(rng, 64) for _ in spec.STATS_FIELDS]))
        dests = [random_dest(rng) for _ in range(rng.choice((0, 1, 3, 12)))]
        # a few real servers that sort as equals (same address and port)
        if dests and rng.random() < 0.3:
            dests.append(dict(dests[0], weight=7))
        services.append(svc)
        script.append(lambda s, ds=dests: [b"".join(dest_msg(d, seq=s) for d in ds)] * bool(ds)
                      + [done(seq=s)])
    return services, script


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("seed", range(12))
def test_program_lines_are_the_object_renderers(impl, seed):
    services, script = random_case(seed)
    afs = [s.af for s in services]
    (records, _, _), _ = run(_decode_py, script, afs)
    names = R.NumericNames()
    for base in FORMATS:
        for nosort in (0, O.FMT_NOSORT):
            fmt = base | nosort | O.FMT_NUMERIC
            program = P.dest_program(fmt)
            texts = [R.service_line(s, fmt, names) for s in services]
            # a rule's real-server line names its service again (piece 0)
            pieces = [(R.service_name(s, fmt, names), "") for s in services]
            expected = "".join(R.service_entry(s, [dest_from_record(r) for r in recs], fmt, names)
                               for s, recs in zip(services, records))
            (got, statuses, errors), _ = run_lines(impl, script, afs, program, texts, not nosort,
                                                   pieces)
            assert got == expected, (fmt, seed)
            assert statuses == [1] * len(services) and errors == [0] * len(services)


def run_lines(impl, script, afs, program, texts, sort, pieces=None):
    (texts_out, statuses, errors), seqs = run_many(impl, script, afs,
                                                   [(program, texts, sort, pieces)])
    return (texts_out[0], statuses, errors), seqs


def run_many(impl, script, afs, lines_):
    import test_dumps
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    peer = test_dumps.Peer(theirs, script)
    peer.start()
    try:
        chunks, statuses, errors = impl.run_dumps(ours, test_dumps.requests(len(script)),
                                                  test_dumps.PID, afs, lines_)
    finally:
        ours.close()
        peer.stop()
        theirs.close()
    # each listing comes as chunks of latin-1 text, made after the dumps
    texts = [b"".join(c).decode("latin-1") for c in chunks]
    return (texts, statuses, errors), peer.seqs


def test_formats_without_a_program():
    # the tunnel listing is written from objects
    assert P.dest_program(O.FMT_TUN_INFO | O.FMT_NUMERIC) is None
    assert P.dest_program(O.FMT_STATS | O.FMT_TUN_INFO | O.FMT_NUMERIC) is not None


def test_a_program_names_fields_of_the_record():
    with pytest.raises(StopIteration):
        lines.Program([lines.number("no_such_field", 5)])
    p = lines.Program([lines.text("w="), lines.number("weight", 4, left=False),
                       lines.text(" %"), lines.endpoint(20)])
    rec = [0] * 23
    rec[0], rec[1], rec[3], rec[9] = socket.inet_pton(AF4, "10.1.2.3") + bytes(12), 81, -3, AF4
    assert p.line(tuple(rec)) == "w=  -3 %" + "10.1.2.3:81".ljust(20) + "\n"


@pytest.mark.skipif(IMPLS[1].values[0] is None, reason="C decoder not built")
@pytest.mark.parametrize("seed", range(30))
def test_random_record_bytes_give_the_same_lines(seed):
    """Records of random bytes (any family, port, weight, counter) through
    C's line writer and the twin's compiled line: the same text."""
    import struct
    from ipvs import _decode_c, _lines_c
    rng = random.Random(seed)
    layout = spec.LAYOUTS["dest"]
    rec = struct.Struct(layout.fmt)
    af_at = next(f.offset for f in layout.fields if f.name == "af")
    raw = bytearray(rng.randbytes(rec.size * rng.randint(0, 40)))
    for i in range(0, len(raw), rec.size):  # mostly real families, some not
        raw[i + af_at:i + af_at + 2] = struct.pack("=H", rng.choice((AF4, AF6, AF6, 0, 77)))
    tuples = list(rec.iter_unpack(bytes(raw)))
    n = len(tuples)
    cuts = sorted(rng.randint(0, n) for _ in range(rng.randint(0, 3)))
    bounds = [0] + cuts + [n]
    counts = [b - a for a, b in zip(bounds, bounds[1:])]
    groups = [tuples[a:b] for a, b in zip(bounds, bounds[1:])]
    texts = ["svc %d\n" % i for i in range(len(groups))]
    for base in FORMATS:
        for sort in (True, False):
            program = P.dest_program(base | O.FMT_NUMERIC)
            want = lines.render_groups(program, texts, groups, sort)
            buf = _decode_c.ffi.from_buffer("uint8_t[]", bytes(raw) or b"\0")
            got = b"".join(_lines_c.render_chunks((program, texts, sort, None), buf, n, counts,
                                                  len(counts))).decode("latin-1")
            assert got == want, (base, sort)


@pytest.mark.skipif(IMPLS[1].values[0] is None, reason="C decoder not built")
@pytest.mark.parametrize("seed", range(6))
def test_metric_programs_with_pieces(seed):
    """The scrape's real-server families (address and piece columns): C's
    lines from raw records are the twin's (tests/test_metrics.py holds the
    twin's to metrics_exposition)."""
    from ipvs import metrics as M
    services, script = random_case(seed)
    afs = [s.af for s in services]
    pieces = [('10.0.0.%d",local_port="80' % i, '",proto="TCP",local_mark=""}')
              for i in range(len(services))]
    want_lines = [(p, ["# %d\n" % k] + [""] * (len(services) - 1), False, pieces)
                  for k, p in enumerate(M._backend_programs("node_ipvs_"))]
    a, b = (run_many(impl, script, afs, want_lines)[0][0]
            for impl in (IMPLS[0].values[0], IMPLS[1].values[0]))
    assert a == b and len(a) == 14
    assert all(t.startswith("# %d\n" % k) for k, t in enumerate(a))


def random_service(rng):
    """A GET_SERVICE reply's attributes: IPv4, IPv6 or a firewall mark,
    known and unknown protocols, counters across the K/M/G/T cut-offs."""
    af = rng.choice((AF4, AF4, AF6))
    stats = {f: _value(rng, 64) for f in spec.STATS_FIELDS}
    values = {"af": af, "sched_name": rng.choice(("wlc", "rr", "mh")), "flags": (0, 0),
              "timeout": 0, "netmask": b"\xff\xff\xff\xff", "stats64": stats,
              "stats": {f: v & 0xFFFFFFFF for f, v in stats.items()}}
    if rng.random() < 0.2:
        values["fwmark"] = rng.choice((1, 0xFFFFFFFF, rng.randrange(1, 1 << 32)))
        return values
    if af == AF4:
        addr = bytes(rng.choice((10, 192, 255)) if i == 0 else rng.randrange(256)
                     for i in range(4))
    else:
        addr = bytes([0x20, 0x01, 0x0d, 0xb8] + [rng.choice((0, rng.randrange(256)))
                                                 for _ in range(12)])
    values.update(protocol=rng.choice((6, 17, 132, 0, 200, 65535)), addr=addr,
                  port=rng.choice((0, 80, 65535)))
    return values


SERVICE_FORMATS = [O.FMT_STATS, O.FMT_STATS | O.FMT_EXACT, O.FMT_RATE, O.FMT_RATE | O.FMT_EXACT,
                   O.FMT_THRESHOLDS, O.FMT_PERSISTENTCONN, O.FMT_RULE]


@pytest.mark.parametrize("seed", range(12))
def test_service_programs_are_the_object_renderers(seed):
    """A service line written by a program over service records (the
    twin's compiled line; C's from the records' raw bytes, in a given
    order) is what service_line() writes of the Service object."""
    from test_decoder_vectors import service_msg
    from ipvs._client import service_from_record
    rng = random.Random(seed)
    buf = b"".join(service_msg(random_service(rng)) for _ in range(rng.randint(1, 30))) + done()
    names = R.NumericNames()
    assert P.service_program(O.FMT_NUMERIC) is None  # plain lines: from objects
    for impl in IMPLS:
        if impl.values[0] is None:
            continue
        recs, _, _ = impl.values[0].decode_services(buf, SEQ, PID)
        order = list(range(len(recs)))
        rng.shuffle(order)
        for fmt in SERVICE_FORMATS:
            head = P.service_program(fmt | O.FMT_NUMERIC)
            want = "".join(R.service_line(service_from_record(recs[i]), fmt | O.FMT_NUMERIC,
                                          names) for i in order)
            assert head.lines([recs[i] for i in order], sort=False) == want, fmt
            if impl.values[0] is not _decode_py:
                from ipvs import _lines_c
                assert _lines_c.record_lines(head, recs.raw, len(recs), order) == want, fmt


@pytest.mark.skipif(IMPLS[1].values[0] is None, reason="C decoder not built")
@pytest.mark.parametrize("seed", range(20))
def test_random_service_bytes_give_the_same_lines(seed):
    """Service records of random bytes (any family, mark, protocol, port,
    counter, scheduler name) through C's line writer and the twin's
    compiled line."""
    import struct
    from ipvs import _decode_c, _lines_c
    rng = random.Random(seed)
    layout = spec.LAYOUTS["service"]
    rec = struct.Struct(layout.fmt)
    at = {f.name: f.offset for f in layout.fields}
    raw = bytearray(rng.randbytes(rec.size * rng.randint(0, 40)))
    for i in range(0, len(raw), rec.size):
        raw[i + at["af"]:i + at["af"] + 2] = struct.pack("=H", rng.choice((AF4, AF6, 0, 77)))
        if rng.random() < 0.6:
            raw[i + at["fwmark"]:i + at["fwmark"] + 4] = bytes(4)
        for name in ("sched_name", "pe_name"):  # as the decoders keep a string: at
            field = raw[i + at[name]:i + at[name] + 15] + b"\0"  # most 15 bytes, zeros
            cut = field.find(0)  # from its first NUL on
            raw[i + at[name] + cut:i + at[name] + 16] = bytes(16 - cut)
    tuples = _decode_c._unpacker(layout)[1](rec.iter_unpack(bytes(raw)))
    order = list(range(len(tuples)))
    rng.shuffle(order)
    for fmt in SERVICE_FORMATS:
        head = P.service_program(fmt | O.FMT_NUMERIC)
        want = head.lines([tuples[i] for i in order], sort=False)
        assert _lines_c.record_lines(head, bytes(raw), len(tuples), order) == want, fmt


def test_table_lines_are_the_object_listing():
    """Client.table_lines (the listing -Ln --stats and --rate print) over
    a table of IPv4, IPv6 and firewall-mark services gives the text the
    object renderer gives, services in ipvsadm's order or the kernel's."""
    import ipvs
    from memkernel import MemKernel
    rng = random.Random(7)
    table = []
    for i in range(12):
        stats = Stats(*[_value(rng, 64) for _ in spec.STATS_FIELDS])
        if i % 4 == 0:
            svc = Service(fwmark=100 - i, af=rng.choice((AF4, AF6)), scheduler="rr",
                          stats=stats)
        elif i % 4 == 1:
            svc = Service(protocol="udp", address="2001:db8::%x" % (50 - i), port=53,
                          scheduler="wlc", stats=stats)
        else:
            svc = Service(protocol=rng.choice(("tcp", "sctp")), address="10.0.%d.1" % (30 - i),
                          port=80 + i % 3, scheduler="wlc", stats=stats)
        dests = [dest_from_record(tuple(dest_record_values(random_dest(rng))))
                 for _ in range(rng.randint(0, 3))]
        table.append((svc, [d for d in dests if (d.af == AF6) == (svc.af == AF6) or svc.fwmark]))
    k = MemKernel(table)
    info = ipvs.Info(version=0x010201, conn_tab_size=4096)
    names = R.NumericNames()
    for base in SERVICE_FORMATS:
        for nosort in (0, O.FMT_NOSORT):
            fmt = base | nosort | O.FMT_NUMERIC
            assert P.program_table(info, k, fmt, names) == R.table(info, k.entries(), fmt,
                                                                   names), fmt


def dest_record_values(d):
    """random_dest's attributes as a dest record (fields in ipvs._records'
    order), what the decoders would make of them."""
    layout = spec.LAYOUTS["dest"]
    by_name = {"af": d["addr_family"]}
    rec = []
    for f in sorted(layout.fields, key=lambda f: f.index):
        if f.name == "stats":
            rec += [d["stats64"][n] for n in spec.STATS_FIELDS]
        else:
            rec.append(by_name.get(f.name, d.get(f.name)))
    return rec


@pytest.mark.parametrize("v6", (False, True))
def test_column_keys_are_the_per_record_keys(v6):
    """The whole-table listing's sort keys and request keys made over the
    records' columns (an IPv4 table) order and encode as the per-record
    functions do; a table with IPv6 or marks takes those functions."""
    from ipvs._keys import record_sort_key, record_sort_keys
    from ipvs._keys import record_key_payload, record_key_payloads
    rng = random.Random(3)
    recs = []
    for _ in range(200):
        r = list(SVC_REC)
        r[1], r[3] = rng.choice((6, 17, 132)), rng.choice((80, 443, 8080, 0))
        r[2] = bytes([10, rng.randrange(3), rng.randrange(3), rng.randrange(256)]) + bytes(12)
        if v6 and rng.random() < 0.1:
            r[0], r[2] = AF6, bytes(rng.randrange(2) for _ in range(16))
        recs.append(tuple(r))
    want = sorted(range(len(recs)), key=lambda i: record_sort_key(recs[i]))
    keys = record_sort_keys(recs)
    assert sorted(range(len(recs)), key=keys.__getitem__) == want
    assert record_key_payloads(recs) == [record_key_payload(r) for r in recs]
    assert record_sort_keys([]) == [] and record_key_payloads([]) == []


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("seed", range(4))
def test_lines_of_dumps_split_over_two_sockets(impl, seed):
    """A listing whose dumps ran on two sockets (C: the records of both
    joined into one block) is the one-socket listing."""
    import test_dumps
    services, script = random_case(seed)
    if len(services) < 2:
        services, script = services * 2, script * 2
    afs = [s.af for s in services]
    names = R.NumericNames()
    fmt = O.FMT_STATS | O.FMT_NUMERIC
    program = P.dest_program(fmt)
    texts = [R.service_line(s, fmt, names) for s in services]
    (want, _, _), _ = run_lines(impl, script, afs, program, texts, True)
    for at in range(1, len(services)):
        (chunks, statuses, _), _ = test_dumps.run_split(impl, script, afs, at,
                                                        [(program, texts, True, None)])
        assert b"".join(chunks[0]).decode("latin-1") == want, at
        assert statuses == [1] * len(services)


def test_plain_service_lines_of_a_table():
    """-Ln --thresholds and --persistent-conn: the plain service line, by
    the program for a service without flags and from the object for one
    with (persistence, mask, pe, one-packet, scheduler flags), is the
    object listing's, sorted and not; so is -Sn's (the rules, tunnels and
    thresholds of the real servers included)."""
    import ipvs
    from memkernel import MemKernel
    rng = random.Random(11)
    table = []
    for i in range(16):
        kw = {}
        if i % 3 == 1:
            kw = dict(flags=ipvs.SVC_F_PERSISTENT, timeout=300 + i, netmask="255.255.0.0")
        elif i == 5:
            kw = dict(pe_name="sip")
        elif i % 3 == 2 and i % 2:
            kw = dict(flags=ipvs.SVC_F_ONEPACKET | ipvs.SVC_F_SCHED1)
        if i % 4 == 0:
            svc = Service(fwmark=200 - i, scheduler="wrr", **kw)
        else:
            svc = Service(protocol="udp" if i % 2 else "tcp", address="10.1.%d.1" % (40 - i),
                          port=53, scheduler=rng.choice(("sh", "rr", "wlc")), **kw)
        dests = [dest_from_record(tuple(dest_record_values(random_dest(rng))))
                 for _ in range(rng.randint(0, 2))]
        table.append((svc, [d for d in dests if d.af == AF4]))
    k = MemKernel(table)
    info = ipvs.Info(version=0x010201, conn_tab_size=4096)
    names = R.NumericNames()
    for base in (O.FMT_THRESHOLDS, O.FMT_PERSISTENTCONN, O.FMT_RULE):
        for nosort in (0, O.FMT_NOSORT):
            fmt = base | nosort | O.FMT_NUMERIC
            assert P.program_table(info, k, fmt, names) == R.table(info, k.entries(), fmt,
                                                                   names), fmt


@pytest.mark.parametrize("exact", [True, False])
def test_a_programs_inline_largenum_is_largenum_text(exact):
    """A program writes the common width of a counter inline: every cut-off
    (and negative values, which largenum_text also takes) as the function."""
    program = lines.Program([lines.largenum("stats.conns")], exact=exact)
    at = lines.Field(spec.LAYOUTS["dest"], "stats.conns").index
    for v in BIG + (-1, -9999999, -10000000, -10000001, -2 ** 63, 12345678, 123456789):
        r = [0] * 40
        r[at] = v
        assert program.line(tuple(r)) == lines.largenum_text(v, exact) + "\n", v


def test_an_endpoint_function_is_asked_for_every_family():
    """A program writes numeric IPv4 endpoints inline, but only for the
    default ep: a caller's (names) is asked for IPv4 too."""
    from ipvs import Destination
    program = lines.Program([lines.endpoint(28)])
    rec = lines.dest_record(Destination(address="10.0.0.1", port=80, stats=Stats()))
    assert program.line(rec) == "%-28s\n" % "10.0.0.1:80"
    assert program.line(rec, lambda af, addr, port: "name:%d" % port) == "%-28s\n" % "name:80"


def run_split_forked(script, afs, at, lines_, wait=10, children=None):
    """test_dumps.run_split with the kernel's ends played by processes (so
    this process has no thread: the twin then runs the second channel's
    dumps in a child process of its own) -> (run_dumps' result, whether
    the twin took that path); children: a list the twin's child processes'
    ids are added to."""
    import os
    import struct
    import test_dumps
    from ipvs import _dumps_py
    pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM) for _ in range(2)]
    peers = []
    for (ours, theirs), part in zip(pairs, (script[:at], script[at:])):
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("=qq", wait, 0))
        pid = os.fork()
        if pid == 0:
            try:
                test_dumps.Peer(theirs, part).run()  # (here, not in a thread)
            finally:
                os._exit(0)
        peers.append(pid)
    forked, real, fork = [], _dumps_py._beside, os.fork
    children = [] if children is None else children

    def recording():
        child = fork()
        if child:
            children.append(child)
        return child
    _dumps_py._beside = lambda *a: forked.append(1) or real(*a)
    os.fork = recording
    try:
        more = [(pairs[1][0], test_dumps.requests(len(script) - at, 9000), PID, at)]
        return _decode_py.run_dumps(pairs[0][0], test_dumps.requests(at), PID, afs, lines_,
                                    more=more), bool(forked)
    finally:
        os.fork = fork
        _dumps_py._beside = real
        for (ours, theirs), pid in zip(pairs, peers):
            ours.close()
            theirs.shutdown(socket.SHUT_RDWR)  # (the child's wait for a request ends)
            theirs.close()
            os.waitpid(pid, 0)


def _reaped(children):
    """Whether every one of these child processes is gone and reaped."""
    import os
    for child in children:
        try:
            os.waitpid(child, os.WNOHANG)
        except ChildProcessError:
            continue
        return False
    return bool(children)


@pytest.mark.parametrize("seed", range(4))
def test_a_listing_split_with_a_child_process_is_the_one_socket_listing(seed):
    """The twin runs a listing's second channel in a child process (its
    dumps, decoding and lines) when this process has no other thread: the
    text, statuses and errnos are the one-socket run's, for every split,
    with the pieces a rule's lines take and more than one listing."""
    import threading
    if threading.active_count() > 1:
        pytest.skip("a thread is running: the twin would not fork")
    services, script = random_case(seed)
    services, script = services * 2, script * 2
    afs = [s.af for s in services]
    names = R.NumericNames()
    listings = []
    for fmt in (O.FMT_STATS | O.FMT_NUMERIC, O.FMT_RULE | O.FMT_NUMERIC):
        listings.append((P.dest_program(fmt), [R.service_line(s, fmt, names) for s in services],
                         True, [(R.service_name(s, fmt, names), "") for s in services]))
    (want, want_st, want_err), _ = run_many(_decode_py, script, afs, listings)
    children: list = []
    for at in range(1, len(services)):
        (chunks, statuses, errors), forked = run_split_forked(script, afs, at, listings,
                                                              children=children)
        assert forked
        assert [b"".join(c).decode("latin-1") for c in chunks] == want, at
        assert (statuses, errors) == (want_st, want_err)
    assert len(children) == len(services) - 1 and _reaped(children)


@pytest.mark.parametrize("bad_at", [0, 2])
def test_an_error_on_either_side_of_the_child_process_is_raised(bad_at):
    """A damaged reply in this process's share or in the child's: the
    DecodeError of the one-socket run; a peer gone: OSError; no child
    process is left behind."""
    import threading
    from ipvs._base import DecodeError
    from test_decoder_vectors import DEST_OLD
    if threading.active_count() > 1:
        pytest.skip("a thread is running: the twin would not fork")
    program = P.dest_program(O.FMT_STATS | O.FMT_NUMERIC)
    ok = lambda s: [dest_msg(DEST_OLD, seq=s), done(seq=s)]  # noqa: E731
    bad = lambda s: [dest_msg(DEST_OLD, seq=s)[:-4]]  # noqa: E731
    script = [ok] * 4
    script[bad_at] = bad
    children: list = []
    with pytest.raises(DecodeError, match="bad message length"):
        run_split_forked(script, [AF4] * 4, 2, [(program, None, True, None)],
                         children=children)
    silent = lambda s: []  # noqa: E731  (no answer: the child's receive times out)
    script = [ok, ok, ok, silent]
    with pytest.raises(OSError) as e:
        run_split_forked(script, [AF4] * 4, 2, [(program, None, True, None)], wait=1,
                         children=children)
    assert e.value.errno == errno.EAGAIN
    assert len(children) == 2 and _reaped(children)


def test_without_a_child_process_the_listing_runs_here(monkeypatch):
    """fork failing (no process to be had): the second channel runs after
    the first in this process, the same listing."""
    import os
    import threading
    if threading.active_count() > 1:
        pytest.skip("a thread is running: the twin would not fork")
    services, script = random_case(2)
    services, script = services * 2, script * 2
    afs = [s.af for s in services]
    fmt = O.FMT_STATS | O.FMT_NUMERIC
    listing = [(P.dest_program(fmt), [R.service_line(s, fmt, R.NumericNames())
                                      for s in services], True, None)]
    (want, _, _), _ = run_many(_decode_py, script, afs, listing)
    real, calls = os.fork, []

    def fork():
        calls.append(1)
        if len(calls) > 2:  # (the test's two peers are forked first)
            raise BlockingIOError(errno.EAGAIN, "no process to be had")
        return real()
    monkeypatch.setattr(os, "fork", fork)
    (chunks, statuses, _), forked = run_split_forked(script, afs, 1, listing)
    assert forked and len(calls) == 3
    assert [b"".join(c).decode("latin-1") for c in chunks] == want
    assert statuses == [1] * len(services)


def test_ipv4_real_servers_sort_by_their_four_address_bytes():
    """The twin sorts IPv4 real servers by their four address bytes (then
    port), as ipvsadm does: the 12 bytes after them in the record do not
    count even when they are not zero."""
    import struct
    layout = spec.LAYOUTS["dest"]
    rec = struct.Struct(layout.fmt)
    at = {f.name: f.index for f in layout.fields}
    base = list(rec.iter_unpack(random.Random(1).randbytes(rec.size * 4)))
    group = []
    for k, (four, tail) in enumerate(((b"\x0a\0\0\x02", b"\x00"), (b"\x0a\0\0\x01", b"\xff"),
                                      (b"\x0a\0\0\x03", b"\x01"), (b"\x0a\0\0\x01", b"\x00"))):
        r = list(base[k])
        r[at["af"]], r[at["addr"]], r[at["port"]] = AF4, four + tail * 12, 80
        group.append(tuple(r))
    program = P.dest_program(O.FMT_STATS | O.FMT_NUMERIC)
    got = lines.render_groups(program, None, [group])
    # the two 10.0.0.1 (tails ff, then 00) are equals: they keep their order
    assert got == program.lines([group[i] for i in (1, 3, 0, 2)], sort=False)
    assert got.index("10.0.0.1:80") < got.index("10.0.0.2:80") < got.index("10.0.0.3:80")
