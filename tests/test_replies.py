"""Decoding real replies captured from the VM kernel (tests/data/replies).

The files come from tests/tools/capture_replies.py: raw receive buffers plus
the configuration that was applied, so the expectations are independent of
the decoders. Each reply is decoded as received, re-split one message per
buffer, and with trailing bytes (which must raise DecodeError), through the
generic codec and through every available implementation of the dump
decoder seam.
"""
import importlib
import json
import os
import struct

import pytest

from ipvs import _netlink as nl
from ipvs import _spec as spec
from ipvs._client import daemon_from_attrs, dest_from_record, service_from_record

DATA = os.path.join(os.path.dirname(__file__), "data", "replies")


def load(name):
    with open(os.path.join(DATA, name + ".json")) as f:
        d = json.load(f)
    d["raw"] = [bytes.fromhex(b) for b in d["buffers"]]
    return d


def resplit(buffers):
    """The same messages, one per receive buffer."""
    out = []
    for b in buffers:
        for m in nl.iter_messages(b):
            out.append(bytes(b[m.start - 16:(m.end + 3) & ~3]))
    return out


def _impls():
    impls = [pytest.param(importlib.import_module("ipvs._decode_py"), id="python")]
    try:
        impls.append(pytest.param(importlib.import_module("ipvs._decode_c"), id="c"))
    except ImportError:
        impls.append(pytest.param(None, id="c", marks=pytest.mark.skip("C decoder not built")))
    return impls


IMPLS = _impls()
SPLITS = [pytest.param(lambda b: b, id="as-received"), pytest.param(resplit, id="per-message")]


def validated(obj):
    """The same object built through the validating constructor."""
    return type(obj)(**{name: getattr(obj, name) for name in type(obj)._FIELDS})


def run_dump(decode, buffers, d, *extra):
    records, status, err = [], 0, 0
    for b in buffers:
        recs, st, e = decode(b, d["seq"], d["pid"], *extra)
        records.extend(recs)
        status |= st
        err = err or e
    return records, status, err


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("split", SPLITS)
def test_service_dump(impl, split):
    d = load("services")
    records, status, err = run_dump(impl.decode_services, split(d["raw"]), d)
    assert err == 0 and status & 1 and not status & 2
    assert len(d["raw"]) > 2  # the capture really is multi-part
    got = [service_from_record(r) for r in records]
    assert got == [validated(s) for s in got]  # the fast construction is canonical
    want = d["expect"]
    assert len(got) == len(want)
    by_key = {(s.af, s.protocol, s.address, s.port, s.fwmark): s for s in got}
    for w in want:
        s = by_key[(w["af"], w["protocol"], w["address"], w["port"], w["fwmark"])]
        assert (s.scheduler, s.flags, s.timeout, s.netmask, s.pe_name) == \
            (w["scheduler"], w["flags"], w["timeout"], w["netmask"], w["pe_name"])
        assert s.stats is not None and s.stats.conns == 0


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", ["dests", "dests6"])
def test_dest_dump(impl, split, name):
    d = load(name)
    records, status, err = run_dump(impl.decode_dests, split(d["raw"]), d, d["svc_af"])
    assert err == 0 and status & 1
    objs = [dest_from_record(r) for r in records]
    assert objs == [validated(x) for x in objs]  # the fast construction is canonical
    got = {(x.address, x.port): x for x in objs}
    assert len(got) == len(d["expect"])
    for w in d["expect"]:
        x = got[(w["address"], w["port"])]
        for field in ("af", "fwd_method", "weight", "u_threshold", "l_threshold",
                      "tun_type", "tun_port", "tun_flags"):
            assert getattr(x, field) == w[field], field
        assert (x.active_conns, x.inactive_conns, x.persistent_conns) == (0, 0, 0)


@pytest.mark.parametrize("impl", IMPLS)
def test_dump_with_trailing_bytes_is_rejected(impl):
    d = load("services")
    for junk in (b"\0", b"\0" * 8, d["raw"][0][:24]):
        with pytest.raises(nl.DecodeError):
            impl.decode_services(d["raw"][0] + junk, d["seq"], d["pid"])


@pytest.mark.parametrize("impl", IMPLS)
def test_dump_from_another_request_is_rejected(impl):
    d = load("dests")
    with pytest.raises(nl.DecodeError):
        impl.decode_dests(d["raw"][0], d["seq"] + 1, d["pid"], d["svc_af"])


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name,errno", [("err_exists", 17), ("err_nosvc", 3),
                                        ("err_policy", 22), ("set_info", 95)])
def test_error_replies_through_the_seam(impl, name, errno):
    d = load(name)
    _, status, err = impl.decode_services(d["raw"][0], d["seq"], d["pid"])
    assert status & 1 and err == errno


def exchange(d, dump):
    ex = nl.Exchange(d["seq"], d["pid"], dump)
    msgs = []
    for b in d["raw"]:
        msgs.extend(ex.feed(b))
    assert ex.done
    return msgs


def cmd_attrs(m, table="cmd"):
    _, pos = nl.genl_payload(m)
    return spec.decode_attrs(table, m.buf, pos, m.end)


def test_info_reply():
    d = load("info")
    (m,) = exchange(d, False)
    assert nl.genl_payload(m)[0] == spec.CMD_SET_INFO  # the kernel answers with SET_INFO
    assert cmd_attrs(m, "info") == d["expect"]


def test_config_reply():
    d = load("config")
    (m,) = exchange(d, False)
    assert cmd_attrs(m) == d["expect"]


def test_daemon_dump():
    d = load("daemons")
    got = [daemon_from_attrs(cmd_attrs(m)["daemon"]) for m in exchange(d, True)]
    want = sorted(d["expect"], key=lambda w: w["state"])
    got.sort(key=lambda x: x.state)
    assert [(g.state, g.mcast_ifn, g.syncid, g.mcast_port, g.mcast_ttl, g.mcast_group,
             g.sync_maxlen) for g in got] == \
        [(w["state"], w["mcast_ifn"], w["sync_id"], w["mcast_port"], w["mcast_ttl"],
          w["mcast_group"], w["sync_maxlen"]) for w in want]


def test_get_service_reply_matches_dump_entry():
    d = load("get_service")
    (m,) = exchange(d, False)
    a = cmd_attrs(m)["service"]
    assert a["sched_name"] == "rr" and a["timeout"] == 300
    assert a["netmask"] == bytes([255, 255, 255, 0])
    assert a["flags"][0] & a["flags"][1] & 1  # persistent
    assert set(a["stats"]) >= set(spec.STATS_FIELDS)
    assert set(a["stats64"]) >= set(spec.STATS_FIELDS)


@pytest.mark.parametrize("name,errno", [("err_exists", 17), ("err_nosvc", 3),
                                        ("err_policy", 22), ("set_info", 95)])
def test_error_replies(name, errno):
    d = load(name)
    with pytest.raises(nl.NetlinkError) as ei:
        exchange(d, False)
    assert ei.value.errno == errno


def test_ack_reply():
    d = load("ack")
    assert exchange(d, False) == []


def test_ack_with_trailing_bytes_is_rejected():
    d = load("ack")
    with pytest.raises(nl.DecodeError):
        nl.Exchange(d["seq"], d["pid"]).feed(d["raw"][0] + struct.pack("<I", 0))
