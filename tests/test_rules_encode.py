"""The seam's encode_rules: plain `ipvsadm -R` lines straight to netlink
requests. C (csrc/ipvs_rules.c, through _rules_c) fills templates made
from the spec; the twin (_decode_py) runs FastRestore on each line, which
tests/test_cli_fastrestore.py proves equal to the full parser. Both must
stop at the same line, write the same bytes and say the same, for the
kernel's lines and any other; and RuleBatch, which sends what they write,
must leave the table ipvsadm's line-by-line reading leaves."""
import io
import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ipvs import _decode_py
from ipvs import _netlink as nl
from ipvs._fastrestore import FastRestore, RulePlan, rule_templates

from test_cli_fastrestore import line, plain

try:
    from ipvs import _rules_c
except ImportError:  # not built: only the twin is tested
    _rules_c = None

IMPLS = [pytest.param(_decode_py, id="python"),
         pytest.param(_rules_c, id="c", marks=pytest.mark.skipif(
             _rules_c is None, reason="C decoder not built"))]
need_c = pytest.mark.skipif(_rules_c is None, reason="C decoder not built")
FAMILY, VERSION = 0x25, 1

# lines either side of the grammar's edges (each against FastRestore's
# regular expressions: the twin's answer is the reference)
EDGES = [
    "-A -t 1.2.3.4:80 -s wlc", "-A -u 0.0.0.0:1 -s rr", "-A -t 255.255.255.255:65535 -s sh",
    "-A -t 1.2.3.4:80 -s " + "a" * 15, "-A -t 1.2.3.4:80 -s " + "a" * 16,
    "-A -t 1.2.3.4:80 -s ", "-A -t 1.2.3.4:80 -s Wlc", "-A -t 1.2.3.4:80 -s wlc ",
    "  \t-A -t 1.2.3.4:80 -s wlc\r\r", "-A -t 1.2.3.4:80 -s wlc -p", "-A -t 1.2.3.4:80  -s wlc",
    "-A\t-t 1.2.3.4:80 -s wlc", "-A -t 01.2.3.4:80 -s wlc", "-A -t 1.2.3.256:80 -s wlc",
    "-A -t 1.2.3:80 -s wlc", "-A -t 1.2.3.4.5:80 -s wlc", "-A -t 1.2.3.4:0 -s wlc",
    "-A -t 1.2.3.4:080 -s wlc", "-A -t 1.2.3.4:65536 -s wlc", "-A -t 1.2.3.4:100000 -s wlc",
    "-A -t 1.2.3.4 -s wlc", "-A -t 1.2.3.4: -s wlc", "-A -x 1.2.3.4:80 -s wlc",
    "-A --tcp-service 1.2.3.4:80 -s wlc", "-A -t 1.2.3.4:80 -s wl\0c", "-A -t 1.2.3.4:80",
    "-a -t 1.2.3.4:80 -r 5.6.7.8:8080 -m -w 1", "-a -u 1.2.3.4:80 -r 5.6.7.8:8080 -g -w 0",
    "-a -t 1.2.3.4:80 -r 5.6.7.8:8080 -i -w 2147483647",
    "-a -t 1.2.3.4:80 -r 5.6.7.8:8080 -i -w 2147483648",
    "-a -t 1.2.3.4:80 -r 5.6.7.8:8080 -m -w 9999999999",
    "-a -t 1.2.3.4:80 -r 5.6.7.8:8080 -m -w 10000000000",
    "-a -t 1.2.3.4:80 -r 5.6.7.8:8080 -m -w 01", "-a -t 1.2.3.4:80 -r 5.6.7.8:8080 -m -w -1",
    "-a -t 1.2.3.4:80 -r 5.6.7.8:8080 -m -w", "-a -t 1.2.3.4:80 -r 5.6.7.8:8080 -m",
    "-a -t 1.2.3.4:80 -r 5.6.7.8:8080 -x -w 1", "-a -t 1.2.3.4:80 -r 5.6.7.8 -m -w 1",
    "-a -t 1.2.3.4:80 -r 5.6.7.8:0 -g -w 1", "-a -t 1.2.3.4:80 -r 5.6.7.8:65536 -g -w 1",
    "-a -t 1.2.3.4:80 -r 5.6.7.8:8080 -m -w 1 -x 5", "-a -t 1.2.3.4:80 -r 5.6.7.8:8080 -m -w 1\v",
    "-a -t 1.2.3.4:80 -r 5.6.7.8:8080 -m -w 1\f", "-a -t 1.2.3.4:80 -r 5.6.7.8:8080 -m -w 1 ",
    "-a -t 1.2.3.4:80 -r 5.6.7.8:8080 -m -w 1\t", "-a -t 1.2.3.4:80 -r 5.6.7.8:8080 -m  -w 1",
    "-a -t 1.2.3.4:80 -r [::1]:8080 -m -w 1", "-a -t 1.2.3.4:80 -R 5.6.7.8:8080 -m -w 1",
    "-a -t 1.2.3.4:80 -r 5.6.7.8:8080 -m -w 1\u00e9", "\u00e9", "", " ", "\t\r", "\v",
    "-E -t 1.2.3.4:80 -s wlc", "-C", "-Ln", "# a comment", "ipvsadm -A -t 1.2.3.4:80 -s wlc",
]


def encode_all(impl, data, cap, seq=1, start=0):
    """Every call until the end: [(full, pos, count, used, last, bytes)],
    the buffer sent (emptied) when full and the line that is not plain
    stepped over, as RuleBatch and the CLI do."""
    plan = RulePlan(FAMILY, VERSION)
    out, used, pos, calls = bytearray(cap + 256), start, 0, []
    while True:
        full, pos, n, used, last = impl.encode_rules(data, pos, plan, seq, out, used, cap)
        calls.append((full, pos, n, used, last, bytes(out[:used])))
        for _ in range(n):
            seq = (seq + 1) & 0xFFFFFFFF or 1
        if full:
            assert n or used > start, "full with nothing written"
            used = start
        elif pos < len(data):
            pos = data.find(b"\n", pos) + 1 or len(data)
        else:
            return calls


def text(lines):
    return "".join(s + "\n" for s in lines).encode("utf-8", "surrogateescape")


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("edge", EDGES)
def test_each_edge_is_taken_exactly_when_fastrestore_takes_it(impl, edge):
    op = FastRestore().operation(edge)
    data = edge.encode("utf-8", "surrogateescape")
    full, pos, n, used, last = impl.encode_rules(data, 0, RulePlan(FAMILY, VERSION), 7,
                                                 bytearray(4096), 0, 4096)
    assert not full
    if not edge.strip(" \t\n\r"):
        assert (pos, n, used) == (len(data), 0, 0)  # a line of no words is skipped
    elif op is None:
        assert (pos, n, used, last) == (0, 0, 0, None)
    else:
        assert (pos, n, last) == (len(data), 1, 0)
        assert used == len(nl.encode_genl(FAMILY, op.cmd, VERSION, op.attrs, seq=7))


@need_c
@pytest.mark.parametrize("cap", [32768, 1000, 200, 164])
@pytest.mark.parametrize("seed", range(4))
def test_c_writes_what_the_twin_writes(seed, cap):
    rnd = random.Random(seed)
    lines = [line(rnd) if rnd.random() < 0.5 else plain(rnd) for _ in range(3000)]
    lines += EDGES + ["-A -t 1.2.3.4:80 -s " + "a" * n for n in range(1, 17)]
    rnd.shuffle(lines)
    data = "".join(s if s.endswith("\n") else s + "\n" for s in lines).encode(
        "utf-8", "surrogateescape")
    seq = rnd.choice([1, 0xFFFFFF00, 0xFFFFFFFF])  # across the wrap (0 is skipped)
    c = encode_all(_rules_c, data, cap, seq)
    assert c == encode_all(_decode_py, data, cap, seq)
    assert sum(k[2] for k in c) > 1000


@pytest.mark.parametrize("impl", IMPLS)
def test_requests_are_fastrestores_numbered_in_order(impl):
    lines = ["-A -t 10.0.0.1:80 -s wlc", "", "-a -t 10.0.0.1:80 -r 192.168.0.1:8080 -g -w 3",
             "-A -u 10.0.0.2:53 -s lblcr", "-a -u 10.0.0.2:53 -r 192.168.0.2:53 -i -w 0"]
    (full, pos, n, used, last, out), = encode_all(impl, text(lines), 4096, seq=0xFFFFFFFE,
                                                  start=8)
    assert (full, pos, n) == (False, len(text(lines)), 4)
    fast = FastRestore().operation
    want, at = b"", 8
    for s, seq in zip([x for x in lines if x], [0xFFFFFFFE, 0xFFFFFFFF, 1, 2]):
        op = fast(s)
        msg = nl.encode_genl(FAMILY, op.cmd, VERSION, op.attrs, flags=nl.NLM_F_REQUEST, seq=seq)
        want, last_at, at = want + msg, at, at + len(msg)
    assert out[8:] == want and used == at and last == last_at


@need_c
def test_a_template_too_small_for_its_scheduler_is_refused_not_overrun():
    from ipvs._base import DecodeError
    plan = RulePlan(FAMILY, VERSION)
    tmpl = plan.templates()
    plan._templates = tmpl[:4] + [tmpl[1]]  # 12-15 letters into a 4-byte slot
    out = bytearray(4096)
    with pytest.raises(DecodeError):
        _rules_c.encode_rules(b"-A -t 1.2.3.4:80 -s " + b"a" * 13 + b"\n", 0, plan, 1, out, 0,
                              4096)
    assert _rules_c.encode_rules(b"-A -t 1.2.3.4:80 -s abc\n", 0, plan, 1, out, 0,
                                 4096)[2] == 1


def test_templates_come_from_the_spec_with_a_slot_for_every_value():
    tmpl = rule_templates(FAMILY, VERSION)
    assert len(tmpl) == 5
    assert [op for op, _, _ in tmpl] == ["add_destination"] + ["add_service"] * 4
    tmpl = [t[1:] for t in tmpl]
    dest, services = tmpl[0], tmpl[1:]
    assert sorted(v for _, _, _, v in dest[1]) == sorted(
        ["proto", "vaddr", "vport", "raddr", "rport", "fwd", "weight"])
    for k, (msg, slots) in enumerate(services):
        assert sorted(v for _, _, _, v in slots) == ["proto", "sched", "vaddr", "vport"]
        sched = [(off, size) for off, size, kind, v in slots if v == "sched"]
        assert sched == [(sched[0][0], 4 * (k + 1))]
        assert msg[sched[0][0]:sched[0][0] + 4 * (k + 1)] == b"x" * (4 * k + 3) + b"\0"


@need_c
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(EDGES + ["-a -t 1.2.3.4:80 -r 5.6.7.8:80 -m -w 1"]),
                max_size=20),
       st.lists(st.tuples(st.integers(0, 2000), st.binary(max_size=3)), max_size=6),
       st.integers(60, 600))
def test_damaged_input_gets_the_same_answer_from_both(lines, damage, cap):
    data = bytearray(text(lines))
    for at, junk in damage:
        at = min(at, len(data))
        data[at:at + len(junk)] = junk
    data = bytes(data)
    try:
        twin = encode_all(_decode_py, data, cap)
    except AssertionError:  # a cap smaller than one request: both must say full at once
        twin = "stuck"
    try:
        c = encode_all(_rules_c, data, cap)
    except AssertionError:
        c = "stuck"
    assert c == twin


# ---------------------------------------------------------------- RuleBatch

def test_a_restore_of_mixed_lines_leaves_the_table_line_by_line_reading_leaves():
    """The CLI's -R over the in-memory kernel: plain lines in bulk, the
    others one by one, in the order of the lines; the failures reported as
    ipvsadm reports them, the status the last line's."""
    from memkernel import MemKernel
    from ipvs.cli import _run

    class Runner(_run.Runner):
        client = None

    rnd = random.Random(5)
    lines = []
    for i in range(400):
        vip = "10.0.%d.%d" % (i // 200, i % 200 + 1)
        lines.append("-A -t %s:80 -s wlc%s" % (vip, rnd.choice(["", "", " -p 60"])))
        for j in range(3):
            lines.append("-a -t %s:80 -r 192.168.%d.1:80 -m -w %d%s" % (
                vip, j, j, rnd.choice(["", "", " -x 10 -y 5"])))
    lines[7:7] = ["-A -t 10.0.0.1:80 -s wlc", "", "-a -t 10.9.9.9:80 -r 1.1.1.1:80 -m -w 1"]
    results = {}
    for bulk in (True, False):
        k = MemKernel()
        err = io.StringIO()
        r = Runner("ipvsadm", io.StringIO(), err, io.StringIO("\n".join(lines) + "\n"))
        r.client = k
        if bulk:
            status = r.restore()
        else:  # each line on its own, as ipvsadm runs them
            status = 0
            for s in lines:
                r.stdin = io.StringIO(s + "\n")
                status = r.restore() if s.strip() else status
        results[bulk] = (status, err.getvalue(), k.log, k.sends)
    assert results[True][:3] == results[False][:3]
    status, err, log, sends = results[True]
    assert status == 0 and err == "Service already exists\nService not defined\n"
    assert len(log) == 400 * 4 + 2 and sends < 20
