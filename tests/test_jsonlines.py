"""The compact JSON of the whole table written by line programs
(ipvs.json_table, what `ipvsadm -Ln --json` prints): the document
dumps(to_json(...)) makes of the same table's objects, byte for byte, in
every combination of --stats, --rate (estimating or not) and --nosort; C's
objects from raw records are the twin's for any record bytes."""
import json
import random
import struct

import pytest

import ipvs
from ipvs import Service, Stats, _jsonlines as J, _spec as spec, dumps, to_json
from ipvs._client import dest_from_record
from ipvs.rules import dest_sort_key, sorted_table
from memkernel import MemKernel
from tablegen import random_table
from test_decoder_vectors import AF4, AF6, IMPLS, PID, SEQ, done, service_msg
from test_lines import _value, dest_record_values, random_dest, random_case, random_service, \
    run_many

OPTIONS = [dict(stats=s, rate=r, estimating=e) for s in (False, True) for r in (False, True)
           for e in ((True, False) if r else (True,))]


def document(client, sort=True, **opts):
    return b"".join(ipvs.json_table(client, sort=sort, **opts)).decode("ascii")


def expected(entries, sort=True, **opts):
    if sort:
        entries = sorted_table(entries)
    return dumps(to_json(entries, **opts))


def odd_table(rng):
    """IPv4, IPv6 and firewall-mark services with and without flags, a
    persistence engine, netmasks, unknown protocols, scheduler names JSON
    escapes; real servers with random counters, methods and tunnels."""
    table = []
    for i in range(rng.randint(0, 14)):
        stats = Stats(*[_value(rng, 64) for _ in spec.STATS_FIELDS])
        kind = i % 4
        if kind == 0:
            svc = Service(fwmark=rng.choice((1, 77, 0xFFFFFFFF)) - i % 2, af=rng.choice((AF4, AF6)),
                          scheduler="rr", stats=stats)
        elif kind == 1:
            svc = Service(protocol="udp", address="2001:db8::%x" % (50 - i), port=53,
                          scheduler="wlc", stats=stats, netmask=rng.choice(("128", "64")))
        else:
            svc = Service(protocol=rng.choice(("tcp", "sctp", 200)), address="10.0.%d.1" % i,
                          port=rng.choice((0, 80, 65535)), scheduler=rng.choice(
                              ("wlc", "mh", 'q"x', "b\\s", "é")), stats=stats,
                          netmask=rng.choice((None, "255.255.255.0")),
                          pe_name=rng.choice(("", "", "sip")))
        svc = svc.replace(flags=rng.choice((0, 0, ipvs.SVC_F_HASHED, ipvs.SVC_F_PERSISTENT,
                                            ipvs.SVC_F_ONEPACKET, 0x18)),
                          timeout=rng.choice((0, 300)))
        dests = [dest_from_record(tuple(dest_record_values(random_dest(rng))))
                 for _ in range(rng.choice((0, 1, 4)))]
        table.append((svc, dests))
    return table


@pytest.mark.parametrize("seed", range(16))
def test_the_document_is_dumps_of_the_objects(seed):
    rng = random.Random(seed)
    table = odd_table(rng) if seed % 2 else random_table(rng)
    k = MemKernel(table)
    for opts in OPTIONS:
        for sort in (True, False):
            want = expected(k.entries(), sort, **opts)
            got = document(k, sort, **opts)
            # a name beyond ASCII is escaped here, not by dumps
            assert json.loads(got) == json.loads(want), (opts, sort)
            if want.isascii():
                assert got == want, (opts, sort)


def test_an_empty_table():
    assert document(MemKernel([])) == dumps([]) == "[]\n"


def test_which_services_the_columns_write():
    plain = Service(protocol="tcp", address="10.0.0.1", port=80, flags=ipvs.SVC_F_HASHED)
    for svc, want in ((plain, True), (plain.replace(flags=ipvs.SVC_F_PERSISTENT), False),
                      (plain.replace(pe_name="sip"), False),
                      (plain.replace(netmask="255.255.255.0"), False),
                      (plain.replace(scheduler='a"b'), False),
                      (Service(protocol="tcp", address="::1", port=1, netmask="64"), True)):
        assert J.plain_service(MemKernel([(svc, [])]).service_records()[0]) == want, svc


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("seed", range(8))
def test_the_dumps_write_the_destinations(impl, seed):
    """Through either decoder's dump loop (C writes from its raw records):
    each service's text, then its real servers' objects with commas
    between them, as dest_json and json.dumps write them."""
    services, script = random_case(seed)
    afs = [s.af for s in services]
    for opts in OPTIONS:
        head, dest = J.programs(**opts)
        texts = ["<%d>" % i for i in range(len(services))]
        for sort in (True, False):
            (got,), _, _ = run_many(impl, script, afs, [(dest, texts, sort, None)])[0]
            objs = _objects(script, services)
            want = "".join(
                t + ",".join(json.dumps(ipvs.to_json(d, **opts), separators=(",", ":"))
                             for d in (sorted(ds, key=dest_sort_key) if sort else ds))
                for t, ds in zip(texts, objs))
            assert got == want, (opts, sort)


def _objects(script, services):
    """The real servers each service's dump holds, as objects."""
    from test_dumps import run
    from ipvs import _decode_py
    (records, _, _), _ = run(_decode_py, script, [s.af for s in services])
    return [[dest_from_record(r) for r in recs] for recs in records]


@pytest.mark.skipif(IMPLS[1].values[0] is None, reason="C decoder not built")
@pytest.mark.parametrize("seed", range(20))
def test_random_record_bytes_give_the_same_objects(seed):
    """Dest and service records of random bytes (any family, method,
    tunnel, counter, mark, protocol, scheduler name) through C's writer and
    the twin's compiled lines: the same text."""
    from ipvs import _decode_c, _lines_c
    from ipvs.lines import render_groups
    rng = random.Random(seed)
    for name in ("dest", "service"):
        layout = spec.LAYOUTS[name]
        rec = struct.Struct(layout.fmt)
        at = {f.name: f.offset for f in layout.fields}
        raw = bytearray(rng.randbytes(rec.size * rng.randint(0, 30)))
        for i in range(0, len(raw), rec.size):
            raw[i + at["af"]:i + at["af"] + 2] = struct.pack("=H", rng.choice((AF4, AF6, 0, 77)))
            if name == "service":
                if rng.random() < 0.6:
                    raw[i + at["fwmark"]:i + at["fwmark"] + 4] = bytes(4)
                field = raw[i + at["sched_name"]:i + at["sched_name"] + 15] + b"\0"
                cut = field.find(0)
                raw[i + at["sched_name"] + cut:i + at["sched_name"] + 16] = bytes(16 - cut)
        tuples = _decode_c._unpacker(layout)[1](rec.iter_unpack(bytes(raw)))
        for opts in OPTIONS:
            head, dest = J.programs(**opts)
            if name == "service":
                order = list(range(len(tuples)))
                rng.shuffle(order)
                want = head.lines([tuples[i] for i in order], sort=False)
                assert _lines_c.record_lines(head, bytes(raw), len(tuples), order) == want
                continue
            n = len(tuples)
            cut = rng.randint(0, n)
            groups, counts = [tuples[:cut], tuples[cut:]], [cut, n - cut]
            for sort in (True, False):
                want = render_groups(dest, ["[", "]["], groups, sort)
                buf = _decode_c.ffi.from_buffer("uint8_t[]", bytes(raw) or b"\0")
                got = b"".join(_lines_c.render_chunks((dest, ["[", "]["], sort, None), buf, n,
                                                      counts, 2)).decode("latin-1")
                assert got == want, (opts, sort)


def test_service_records_from_replies_give_the_objects_json():
    """Service records as the decoders make them of GET_SERVICE replies:
    the service program's text is service_json's, up to the destinations."""
    from ipvs._client import service_from_record
    rng = random.Random(5)
    buf = b"".join(service_msg(random_service(rng)) for _ in range(40)) + done()
    for impl in IMPLS:
        if impl.values[0] is None:
            continue
        recs, _, _ = impl.values[0].decode_services(buf, SEQ, PID)
        for opts in OPTIONS:
            head, _ = J.programs(**opts)
            want = "".join(dumps(dict(to_json(service_from_record(r), **opts),
                                      destinations=[]))[:-3] + "\n"  # without "]}"
                           for r in recs)
            assert head.lines(recs, sort=False) == want
            if getattr(recs, "raw", None) is not None:  # C's, from its raw records
                from ipvs import _lines_c
                assert _lines_c.record_lines(head, recs.raw, len(recs),
                                             range(len(recs))) == want


@pytest.mark.skipif(IMPLS[1].values[0] is None, reason="C decoder not built")
def test_a_name_with_a_newline_keeps_each_service_its_line():
    """C writes the service lines of the raw records as one text, split at
    its newlines: a scheduler name holding one (which no kernel reports)
    must not shift the other services' lines (the twin's lines then)."""
    from ipvs import _decode_c
    from ipvs._client import service_from_record
    from ipvs.cli import _options as O, _programs as P
    from ipvs.lines import render_groups
    rng = random.Random(2)
    values = [random_service(rng) for _ in range(6)]
    values[2] = dict(values[2], sched_name="r\nr")
    recs, _, _ = _decode_c.decode_services(b"".join(map(service_msg, values)) + done(), SEQ, PID)

    class Kernel(MemKernel):
        def service_table(self):
            return recs, recs.raw

        def destination_chunks(self, services, lines):
            return [iter([render_groups(p, t, [[]] * len(services), s, g).encode("latin-1")])
                    for p, t, s, g in lines]
    k = Kernel([])
    ordered = sorted(recs, key=lambda r: ipvs.rules.service_sort_key(service_from_record(r)))
    assert document(k) == dumps(to_json([(service_from_record(r), []) for r in ordered]))
    fmt = O.FMT_STATS | O.FMT_NUMERIC
    head = P.service_program(fmt)
    got = b"".join(k.table_lines(head, P.dest_program(fmt))).decode("latin-1")
    assert got == "".join(map(head.line, ordered))
