"""The twin's lines by columns (ipvs._columns): a program's lines for many
records at once must be, byte for byte, what Program.line writes record
by record (the reference: tests/test_lines.py holds it to the object
renderers and to C), for every program the CLI, the JSON listing and the
scrape run, over random records; and where it cannot (a `when` column
true on some lines only) it must say so, not guess."""
import random
import socket
import struct

import pytest

from ipvs import _columns, _jsonlines, lines, metrics
from ipvs import _spec as spec
from ipvs.cli import _options as O
from ipvs.cli import _programs as P

AF4, AF6 = socket.AF_INET, socket.AF_INET6
DEST = spec.LAYOUTS["dest"]
SERVICE = spec.LAYOUTS["service"]
FORMATS = [O.FMT_STATS, O.FMT_STATS | O.FMT_EXACT, O.FMT_RATE, O.FMT_RATE | O.FMT_EXACT,
           O.FMT_THRESHOLDS, O.FMT_PERSISTENTCONN, 0, O.FMT_RULE]
EDGES = (0, 1, -1, 99999999, 100000000, -9999999, -10000000, -10000001, 999999999,
         1000000000, 2 ** 63 - 1, -2 ** 63)


by_record = lines.render_by_record  # (Program.lines on each group: the reference)


def records(rng, layout, n, families=(AF4, AF6, 0, 77), plain=False):
    """n records of random bytes in the C layout (strings cut as the
    decoders cut them), unpacked as the decoders' tuples; plain: every
    real server masqueraded, untunnelled, no option field set."""
    from ipvs._decode_c import _unpacker
    at = {f.name: f for f in layout.fields}
    rec = struct.Struct(layout.fmt)
    raw = bytearray(rng.randbytes(rec.size * n))
    for i in range(0, len(raw), rec.size):
        off = at["af"].offset
        raw[i + off:i + off + 2] = struct.pack("=H", rng.choice(families))
        for name in ("sched_name", "pe_name"):
            if name in at:
                o = at[name].offset
                cut = (raw[i + o:i + o + 15] + b"\0").find(0)
                raw[i + o + cut:i + o + 16] = bytes(16 - cut)
        if "fwmark" in at and rng.random() < 0.7:
            raw[i + at["fwmark"].offset:i + at["fwmark"].offset + 4] = bytes(4)
    out = list(_unpacker(layout)[1](rec.iter_unpack(bytes(raw))))
    if plain:
        idx = {f.name: f.index for f in layout.fields}
        for k, r in enumerate(out):
            r = list(r)
            r[idx["fwd_method"]] = 0
            for name in ("tun_type", "tun_port", "tun_flags"):
                r[idx[name]] = 0
            out[k] = tuple(r)
    for k in rng.sample(range(len(out)), min(len(out), 3)):  # counters at the cut-offs
        r = list(out[k])
        for f in layout.fields:
            if f.read == "nest":
                base = f.index
                for j in range(layout.subs[f.record].index._width):
                    r[base + j] = rng.choice(EDGES)
        out[k] = tuple(r)
    return out


def grouped(rng, recs):
    cuts = sorted(rng.randint(0, len(recs)) for _ in range(rng.randint(0, 6)))
    bounds = [0] + cuts + [len(recs)]
    return [recs[a:b] for a, b in zip(bounds, bounds[1:])]


def dest_programs():
    progs = [P.dest_program(f | O.FMT_NUMERIC) for f in FORMATS]
    for stats, rate in ((False, False), (True, False), (True, True)):
        progs.append(_jsonlines.programs(stats, rate)[1])
    progs += metrics._backend_programs("node_ipvs_")
    progs.append(lines.Program([lines.text("%% "), lines.endpoint(0, cut=9, cut4=7),
                                lines.text("|"), lines.address(), lines.text("|"),
                                lines.endpoint(30, cut=40)]))
    return progs


@pytest.mark.parametrize("seed", range(40))
def test_columns_are_the_per_record_lines(seed):
    rng = random.Random(seed)
    fams = rng.choice(((AF4,), (AF4, AF6), (AF4, AF6, 0, 77), (AF6,)))
    recs = records(rng, DEST, rng.choice((0, 1, 5, 40)), fams, plain=rng.random() < 0.5)
    groups = grouped(rng, recs)
    texts = ["svc %d\n" % i for i in range(len(groups))] if rng.random() < 0.8 else None
    pieces = [("a%d%%" % i, "b%d" % i) for i in range(len(groups))] \
        if rng.random() < 0.5 else None
    taken = 0
    for program in dest_programs():
        for sort in (True, False):
            got = _columns.render_groups(program, texts, groups, sort, pieces)
            want = by_record(program, texts, groups, sort, pieces)
            assert got is None or got == want, (program.cols, sort)
            assert lines.render_groups(program, texts, groups, sort, pieces) == want
            taken += got is not None
    assert taken >= 2 * (len(dest_programs()) - 4)  # only those with `when` columns may say no


@pytest.mark.parametrize("seed", range(20))
def test_service_columns_are_the_per_record_lines(seed):
    rng = random.Random(seed)
    recs = records(rng, SERVICE, rng.choice((1, 7, 60)))
    for f in FORMATS[:-2] + FORMATS[-1:]:  # (the plain line has no program)
        program = P.service_program(f | O.FMT_NUMERIC)
        assert _columns.texts(program, recs) == [program.line(r) for r in recs], f
    for stats, rate in ((False, False), (True, True)):  # marks and addresses: `when`s
        program = _jsonlines.programs(stats, rate)[0]
        got = _columns.texts(program, recs)
        assert got is None or got == [program.line(r) for r in recs]


def test_a_when_column_true_on_some_lines_only_is_left_to_the_lines():
    """-Sn's tunnel words: none tunnelled, all tunnelled (GUE), or some:
    the columns write the first two, and give up on the third."""
    rng = random.Random(5)
    recs = records(rng, DEST, 30, (AF4,), plain=True)
    at = {f.name: f.index for f in DEST.fields}
    program = P.dest_program(O.FMT_RULE | O.FMT_NUMERIC)
    zero = [tuple(0 if i in (at["u_thresh"], at["l_thresh"]) else v for i, v in enumerate(r))
            for r in recs]

    def tunnelled(r):
        r = list(r)
        r[at["fwd_method"]], r[at["tun_type"]], r[at["tun_port"]] = 2, 1, 6080
        return tuple(r)
    some = zero[:10] + [tunnelled(r) for r in zero[10:]]
    for case, expect in ((zero, True), ([tunnelled(r) for r in zero], True), (some, False)):
        got = _columns.texts(program, case, [("-t x", "")], [len(case)])
        assert (got is not None) == expect
        if got is not None:
            assert got == [program.line(r, g=("-t x", "")) for r in case]
        assert lines.render_groups(program, None, [case], True, [("-t x", "")]) == \
            by_record(program, None, [case], True, [("-t x", "")])


def test_ipv4_sort_keys_are_the_first_four_bytes():
    """The columns sort IPv4 real servers by their four address bytes (and
    port), as Program.sort_key does: the 12 bytes after them do not count
    even when they are not zero."""
    program = P.dest_program(O.FMT_STATS | O.FMT_NUMERIC)
    at = {f.name: f.index for f in DEST.fields}
    base = records(random.Random(1), DEST, 4, (AF4,))
    group = []
    for k, (four, tail) in enumerate(((b"\x0a\0\0\x02", b"\x00"), (b"\x0a\0\0\x01", b"\xff"),
                                      (b"\x0a\0\0\x03", b"\x01"), (b"\x0a\0\0\x01", b"\x00"))):
        r = list(base[k])
        r[at["addr"]], r[at["port"]] = four + tail * 12, 80
        group.append(tuple(r))
    want = by_record(program, None, [group])
    assert _columns.render_groups(program, None, [group]) == want
    assert want.index("10.0.0.1") < want.index("10.0.0.2") < want.index("10.0.0.3")


@pytest.mark.parametrize("exact", [True, False])
def test_a_column_of_counters_at_every_cut_off(exact):
    """One counter past the common width turns its whole column to
    largenum_text; each value still gets its own text."""
    program = lines.Program([lines.largenum("stats.conns"), lines.text("|")], exact=exact)
    at = lines.Field(DEST, "stats.conns").index
    for v in EDGES:
        recs = []
        for w in (5, v, 7):
            r = [0] * 40
            r[at] = w
            recs.append(tuple(r))
        assert _columns.texts(program, recs) == [program.line(r) for r in recs], v


def test_listings_of_the_same_records_share_their_columns():
    """The scrape's 14 programs over the same groups and pieces, with one
    cache: each listing is what it is alone; the address and piece
    columns are made once; a cache handed other groups starts again."""
    rng = random.Random(9)
    groups = grouped(rng, records(rng, DEST, 40, (AF4,)))
    pieces = [("p%d" % i, "q%d" % i) for i in range(len(groups))]
    progs = metrics._backend_programs("node_ipvs_")
    cache = {}
    for program in progs:
        got = _columns.render_groups(program, None, groups, False, pieces, cache)
        assert got == by_record(program, None, groups, False, pieces)
    assert sum(1 for k in cache if type(k) is tuple and k[0] == "group") == 2
    v4 = [k for k in cache if type(k) is tuple and k[0] == "v4"]
    assert len(v4) == 1  # one address column's bytes, for every program
    made = cache[v4[0]]
    _columns.render_groups(progs[0], None, groups, False, pieces, cache)
    assert cache[v4[0]] is made
    others = grouped(rng, records(rng, DEST, 30, (AF4, AF6)))
    more = [("x", "y")] * len(others)
    for program in progs[:3] + [P.dest_program(O.FMT_STATS | O.FMT_NUMERIC)]:
        assert _columns.render_groups(program, None, others, True, more, cache) == \
            by_record(program, None, others, True, more)
