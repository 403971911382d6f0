"""The twin's shape reader (_shapes.shaped): once a nest's shape is
learned, nests of that shape are read with one unpack; every other nest
goes to the generic reader. It must give the generic reader's record or
error for any sequence of nests, and must actually take its fast path
for a dump's real servers."""
import struct

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ipvs import _decode_py, _shapes, _spec
from ipvs._base import E_LONG_STRING, ERRORS, DecodeError

import test_decoder_vectors as V

DEST = _spec.LAYOUTS["dest"]


@pytest.fixture(scope="module")
def generic():
    """The generated generic reader of each layout ({name: reader})."""
    got = {}
    real = _shapes.shaped
    _shapes.shaped = lambda layout, g: got.setdefault(layout.name, g)
    try:
        _decode_py.make_decoders(_spec.LAYOUTS)
    finally:
        _shapes.shaped = real
    return got


def nest(values, kind="dest"):
    """The bytes of one reply message and its nest's span (its only
    attribute): (buf, s, e)."""
    m = V.dest_msg(values) if kind == "dest" else V.service_msg(values)
    return m, 24, struct.unpack_from("=H", m, 20)[0] + 20


def outcome(read, buf, s, e, arg):
    try:
        return read(memoryview(buf), s, e, arg)
    except DecodeError as err:
        return ("error", str(err))


class Counting:
    def __init__(self, read):
        self.read, self.calls = read, 0

    def __call__(self, *a):
        self.calls += 1
        return self.read(*a)


def dest(i, **kw):
    v = dict(V.DEST_MASQ4, port=i % 65536, weight=(i - 50) & 0xFFFFFFFF, active_conns=i * 7,
             addr=struct.pack("!I", 0x0A000000 + i))
    v.update(kw)
    return v


def test_a_dumps_real_servers_are_read_by_their_shape(generic):
    slow = Counting(generic["dest"])
    read = _shapes.shaped(DEST, slow)
    for i in range(200):
        buf, s, e = nest(dest(i))
        assert read(memoryview(buf), s, e, V.AF4) == generic["dest"](memoryview(buf), s, e, V.AF4)
    assert slow.calls == 1  # the first, which taught the shape
    assert read(memoryview(nest(dest(3))[0]), 24, nest(dest(3))[2], V.AF4)[:4] == (
        bytes([10, 0, 0, 3]) + bytes(12), 3, 0, -47)


SERVICE = _spec.LAYOUTS["service"]


@pytest.mark.parametrize("names", [
    ("wlc", "wlc", "rr\0x", "lc\0", "abcdefghijklmnopq", "wrr", "sed"),  # a NUL, too long
    ("", "abcdefghijklmno", "abcdefghijklmnop", "a" * 15, "\xe9t\xe9"),
])
def test_services_names_are_cut_and_checked_as_the_generic_reader_does(generic, names):
    slow = Counting(generic["service"])
    read = _shapes.shaped(SERVICE, slow)
    for k in range(3):
        for i, name in enumerate(names):
            v = dict(V.SVC_TCP4, sched_name=name, port=i + k)
            if k == 1:
                v["pe_name"] = name[::-1]
            buf, s, e = nest(v, "service")
            assert outcome(read, buf, s, e, None) == outcome(generic["service"], buf, s, e, None)
    # (names of one padded size share a shape: fewer generic reads than nests)
    assert slow.calls < 3 * len(names)


# one of each kind of difference a nest of the learned length can have
def _variants():
    base = nest(dest(1))[0]
    out = []
    b = bytearray(base)
    struct.pack_into("=H", b, 26, 12)  # the addr attribute's type becomes port's
    out.append(bytes(b))
    b = bytearray(base)
    struct.pack_into("=H", b, 24, 2)  # the first attribute's length: too short
    out.append(bytes(b))
    b = bytearray(base)
    struct.pack_into("=H", b, 24, 8)  # a shorter addr (4 bytes), the rest unread
    out.append(bytes(b))
    b = bytearray(base)
    b[27] |= 0x80  # NLA_F_NESTED on a plain attribute: the type is the same
    out.append(bytes(b))
    # 64-bit stats missing, their place taken by an unknown attribute
    v = dest(1)
    del v["stats64"]
    out.append(nest(v)[0])
    v = dest(1, addr_family=V.AF6, tun_type=1, tun_port=6080, tun_flags=2)
    out.append(nest(v)[0])
    return out


@pytest.mark.parametrize("k", range(6))
def test_another_shape_or_bad_bytes_go_to_the_generic_reader(generic, k):
    read = _shapes.shaped(DEST, generic["dest"])
    buf, s, e = nest(dest(1))
    outcome(read, buf, s, e, V.AF4)  # learn the shape
    other = _variants()[k]
    e2 = struct.unpack_from("=H", other, 20)[0] + 20
    assert outcome(read, other, 24, e2, V.AF6) == outcome(generic["dest"], other, 24, e2, V.AF6)


_VALUES = st.fixed_dictionaries({
    "port": st.integers(0, 65535), "weight": st.integers(0, 2 ** 32 - 1),
    "active_conns": st.integers(0, 2 ** 32 - 1), "fwd_method": st.integers(0, 4),
    "addr": st.binary(min_size=4, max_size=16),
}, optional={"addr_family": st.sampled_from([V.AF4, V.AF6]),
             "tun_type": st.integers(0, 255), "tun_port": st.integers(0, 65535),
             "tun_flags": st.integers(0, 65535)})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(st.tuples(_VALUES, st.booleans(), st.booleans(),
                                  st.lists(st.tuples(st.integers(0, 10 ** 6),
                                                     st.integers(0, 255)), max_size=3)),
                        min_size=1, max_size=12))
def test_any_sequence_of_nests_reads_as_the_generic_reader_reads_it(generic, records):
    read = _shapes.shaped(DEST, generic["dest"])
    for values, with32, with64, edits in records:
        v = dict(V.DEST_MASQ4, **values)
        if not with32:
            del v["stats"]
        if not with64:
            del v["stats64"]
        buf, s, e = nest(v)
        buf = bytearray(buf)
        for at, byte in edits:  # damage inside the nest
            buf[s + at % (e - s)] = byte
        buf = bytes(buf)
        assert outcome(read, buf, s, e, V.AF4) == outcome(generic["dest"], buf, s, e, V.AF4)


def test_a_name_without_its_nul_in_a_learned_shape_is_refused(generic):
    read = _shapes.shaped(SERVICE, generic["service"])
    buf, s, e = nest(dict(V.SVC_TCP4, sched_name="abcdefghijklmno"), "service")
    assert read(memoryview(buf), s, e, None)[5] == "abcdefghijklmno"
    assert read.shapes[e - s] is not None
    at = buf.index(b"abcdefghijklmno\0") + 15
    bad = buf[:at] + b"p" + buf[at + 1:]  # 16 bytes, no NUL: the same shape
    got = outcome(read, bad, s, e, None)
    assert got == outcome(generic["service"], bad, s, e, None)
    assert got[0] == "error" and ERRORS[E_LONG_STRING] in got[1]


def _done_variants():
    d = V.done()
    out = [d, V.done(95), V.done(flags=V.nl.NLM_F_MULTI | V.nl.NLM_F_DUMP_INTR), V.done(seq=V.SEQ + 1),
           V.done(pid=V.PID + 1), V.done(pid=0), V.error(3)[:20], d[:16] + b"\xff\xff\xff\xff"]
    b = bytearray(d)
    struct.pack_into("=I", b, 0, 16)  # a DONE without its errno, then 4 bytes
    out.append(bytes(b))
    b = bytearray(d)
    struct.pack_into("=H", b, 4, V.nl.NLMSG_NOOP)
    out.append(bytes(b))
    return out


@pytest.mark.parametrize("impl", V.IMPLS)
@pytest.mark.parametrize("k", range(10))
@pytest.mark.parametrize("pid", [V.PID, 0])
def test_a_buffer_of_its_done_alone_reads_as_c_reads_it(impl, k, pid):
    """The twin's shortcut for a dump's last buffer (its NLMSG_DONE alone)
    gives C's status, errno or error for every such buffer."""
    buf = _done_variants()[k]

    def run(i):
        try:
            return i.decode_dests(memoryview(buf), V.SEQ, pid, V.AF4)
        except DecodeError as err:
            return ("error", str(err))
    want = run(V._decode_c) if V._decode_c is not None else None
    got = run(impl)
    if want is not None:
        assert got == want
    if k == 0:
        assert got == ([], 1, 0)


# ------------------------------------------------------------ whole buffers

def fresh_dests():
    """A new twin decode_dests (nothing learned yet) and its buffer cache."""
    dec = _decode_py.make_decoders(_spec.LAYOUTS)[1]
    cells = dict(zip(dec.__code__.co_freevars, (c.cell_contents for c in dec.__closure__)))
    return dec, cells["fast"].buffers


def reference(generic, buf, seq, pid, arg):
    """The message walk with the generic reader alone, and C's when built."""
    def run(f):
        try:
            return f()
        except DecodeError as err:
            return ("error", str(err))
    want = run(lambda: _decode_py._walk(memoryview(buf), seq, pid, DEST.nest_id,
                                        generic["dest"], arg))
    if V._decode_c is not None:
        assert run(lambda: V._decode_c.decode_dests(buf, seq, pid, arg)) == want
    return want


def four(i, seq=V.SEQ, **kw):
    return b"".join(V.dest_msg(dest(4 * i + k), seq=seq, **kw) for k in range(4))


def test_a_dumps_buffers_are_read_whole_by_their_shape(generic):
    dec, buffers = fresh_dests()
    for i in range(60):
        buf = four(i, seq=V.SEQ + i)
        got = dec(memoryview(buf), V.SEQ + i, V.PID, V.AF4)
        assert got == reference(generic, buf, V.SEQ + i, V.PID, V.AF4)
        assert len(got[0]) == 4 and got[1:] == (0, 0)
    assert list(buffers) == [len(four(0))] and buffers[len(four(0))] is not None
    # taken: with the message walk gone, a learned buffer still reads
    want = reference(generic, four(99), V.SEQ, V.PID, V.AF6)
    real = _decode_py._walk
    _decode_py._walk = None
    try:
        assert dec(four(99), V.SEQ, V.PID, V.AF6) == want
    finally:
        _decode_py._walk = real


def _buffer_variants():
    base = four(1)
    n = len(base) // 4
    out = [four(1, seq=V.SEQ + 1), four(1, pid=V.PID + 1),
           four(1, flags=V.nl.NLM_F_MULTI | V.nl.NLM_F_DUMP_INTR)]
    b = bytearray(base)
    struct.pack_into("=H", b, n + 4, V.nl.NLMSG_DONE)  # the 2nd message a DONE of that length
    out.append(bytes(b))
    b = bytearray(base)
    struct.pack_into("=H", b, 2 * n + 4, V.nl.NLMSG_NOOP)
    out.append(bytes(b))
    b = bytearray(base)
    b[3 * n + 16] = 99  # another genl command
    out.append(bytes(b))
    b = bytearray(base)
    b[n + 27] |= 0x80  # NLA_F_NESTED on the 2nd message's first attribute
    out.append(bytes(b))
    b = bytearray(base)
    struct.pack_into("=H", b, 3 * n + 26, 12)  # the last one's address attribute: port's type
    out.append(bytes(b))
    b = bytearray(base)
    struct.pack_into("=H", b, n + 20, 8)  # the 2nd one's nest shorter than its message
    out.append(bytes(b))
    b = bytearray(base)
    struct.pack_into("=I", b, 2 * n, n - 4)  # a message length that cuts the buffer
    out.append(bytes(b))
    return out


@pytest.mark.parametrize("k", range(10))
@pytest.mark.parametrize("pid", [V.PID, 0])
def test_a_buffer_not_of_the_learned_shape_reads_as_the_walk_reads_it(generic, k, pid):
    dec, buffers = fresh_dests()
    dec(four(0), V.SEQ, V.PID, V.AF4)  # learn
    assert buffers[len(four(0))] is not None
    buf = _buffer_variants()[k]
    assert len(buf) == len(four(0))

    def run():
        try:
            return dec(memoryview(buf), V.SEQ, pid, V.AF4)
        except DecodeError as err:
            return ("error", str(err))
    assert run() == reference(generic, buf, V.SEQ, pid, V.AF4)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(st.integers(0, 9), st.lists(st.tuples(
    st.integers(0, 10 ** 6), st.integers(0, 255)), max_size=3)), min_size=1, max_size=8))
def test_any_sequence_of_buffers_reads_as_the_walk_reads_it(generic, steps):
    dec, _ = fresh_dests()
    for i, edits in steps:
        buf = bytearray(four(i))
        for at, byte in edits:
            buf[at % len(buf)] = byte
        buf = bytes(buf)
        try:
            got = dec(memoryview(buf), V.SEQ, V.PID, V.AF4)
        except DecodeError as err:
            got = ("error", str(err))
        assert got == reference(generic, buf, V.SEQ, V.PID, V.AF4)


def _swapped(i, weight, u_thresh):
    """four(i) with the 2nd message's weight and u_thresh attributes' types
    swapped (the same length: another layout of one shape of words)."""
    b = bytearray(four(i))
    n = len(b) // 4
    t = _spec.TABLES["dest"]
    at, end = n + 24, n + struct.unpack_from("=H", b, n + 20)[0] + 20
    while at < end:
        alen, atype = struct.unpack_from("=HH", b, at)
        if atype == t["weight"].id:
            struct.pack_into("=HHI", b, at, alen, t["u_thresh"].id, u_thresh)
        elif atype == t["u_thresh"].id:
            struct.pack_into("=HHI", b, at, alen, t["weight"].id, weight)
        at += (alen + 3) & ~3
    return bytes(b)


def test_a_buffer_is_learned_only_if_each_nest_is_of_the_learned_shape(generic):
    """A first buffer whose 2nd nest has two attributes in each other's
    place (equal values: the same record either way) must not teach where
    that nest's fields are: a later buffer of the same words reads right."""
    dec, buffers = fresh_dests()
    dec(V.dest_msg(dest(0)), V.SEQ, V.PID, V.AF4)  # the nest's shape, a buffer of one message
    first = _swapped(1, 5, 5)
    assert len(first) not in buffers
    assert dec(first, V.SEQ, V.PID, V.AF4) == reference(generic, first, V.SEQ, V.PID, V.AF4)
    later = _swapped(2, 5, 6)
    got = dec(later, V.SEQ, V.PID, V.AF4)
    assert got == reference(generic, later, V.SEQ, V.PID, V.AF4)
    assert got[0][1][3] == 5  # (weight)
