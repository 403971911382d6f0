"""JSON of model objects: documented keys (docs/json.md), exact numbers,
ip -j / ip -j -p layout. The kernel's listings: tests/kernel/test_json.py."""
import json
import re

import pytest

from hypothesis import given, settings, strategies as st

import ipvs
from ipvs import (Connection, Destination, Service, Stats, SyncDaemon, Timeouts, dumps,
                  to_json)
from ipvs._plan import plan

from jsonkeys import DOC, KEYS, validate, validate_document
from tablegen import random_table

BIG = 2 ** 64 - 1


def test_the_documented_example_is_what_the_library_prints():
    text = open(DOC, encoding="utf-8").read()
    example = re.search(r"\$ ipvsadm -Ln --json --pretty\n(.*?)```", text, re.S).group(1)
    web = Service(protocol="tcp", address="192.0.2.80", port=80, scheduler="wrr",
                  flags=ipvs.SVC_F_PERSISTENT | ipvs.SVC_F_HASHED, timeout=300)
    d = Destination(address="198.51.100.11", port=8080, fwd_method="masq", weight=3)
    assert dumps([to_json((web, [d]))], pretty=True) == example


def test_every_object_kind_is_documented():
    assert set(KEYS) == {"service", "destination", "tunnel", "stats", "rate", "connection",
                         "timeouts", "daemon", "operation", "scoped_plan", "status"}


@settings(max_examples=150, deadline=None, database=None)
@given(st.randoms(use_true_random=False).map(random_table), st.booleans(), st.booleans())
def test_random_tables_follow_the_documented_keys(table, stats, rate):
    doc = to_json([(s.replace(stats=Stats(*range(10))), ds) for s, ds in table],
                  stats=stats, rate=rate)
    validate_document(doc, "service")
    compact, pretty = dumps(doc), dumps(doc, pretty=True)
    assert json.loads(compact) == json.loads(pretty) == doc
    assert compact.count("\n") == 1 and compact.endswith("\n")
    for svc in doc:
        assert ("stats" in svc) == stats and ("rate" in svc) == rate
        assert ("fwmark" in svc) != ("address" in svc)
    validate_document(to_json(plan([], table)), "operation")


def test_numbers_are_exact():
    s = Service(protocol="udp", address="2001:db8::1", port=53, netmask="64",
                stats=Stats(BIG, BIG - 1, 10 ** 15, 1, 2, 3, 4, 5, 6, BIG))
    o = to_json(s, stats=True, rate=True)
    assert o["stats"] == {"conns": BIG, "inpkts": BIG - 1, "outpkts": 10 ** 15,
                          "inbytes": 1, "outbytes": 2}
    assert o["rate"] == {"cps": 3, "inpps": 4, "outpps": 5, "inbps": 6, "outbps": BIG}
    assert o["prefixlen"] == 64 and "netmask" not in o
    assert json.loads(dumps([o]))[0]["stats"]["conns"] == BIG
    assert str(BIG) in dumps([o], pretty=True)


def test_services_destinations_and_tunnels():
    fw = Service(fwmark=7, scheduler="mh", flags=ipvs.SVC_F_SCHED1 | ipvs.SVC_F_ONEPACKET,
                 pe_name="sip")
    o = to_json(fw)
    assert o == {"family": "inet", "fwmark": 7, "scheduler": "mh",
                 "flags": ["one-packet", "mh-fallback"], "timeout": 0,
                 "netmask": "255.255.255.255", "pe": "sip"}
    gue = Destination(address="10.1.1.1", port=80, fwd_method="tunnel", tun_type="gue",
                      tun_port=6080, tun_flags=ipvs.TUN_F_REMCSUM, weight=4,
                      u_threshold=9, l_threshold=2, active_conns=1, inactive_conns=2,
                      persistent_conns=3)
    d = to_json(gue)
    validate(d, "destination")
    assert d["tunnel"] == {"type": "gue", "port": 6080, "flags": "remcsum"}
    assert (d["forward"], d["weight"], d["u_threshold"], d["l_threshold"]) == ("tunnel", 4, 9, 2)
    assert to_json(gue.replace(tun_type="ipip"))["tunnel"] == {"type": "ipip"}
    assert "tunnel" not in to_json(gue.replace(fwd_method="route"))


def test_connections_timeouts_daemons():
    c = Connection(protocol="TCP", af=10, caddr="2001:db8::5", cport=40000,
                   vaddr="2001:db8::1", vport=80, daddr="2001:db8::10", dport=8080,
                   state="ESTABLISHED", expires=899, pe_name="sip", pe_data="abc")
    validate(to_json(c), "connection")
    assert to_json(c)["protocol"] == "tcp" and to_json(c)["expires"] == 899
    assert "pe" not in to_json(c.__class__(**{**c.__dict__, "pe_name": "", "pe_data": ""}))
    validate_document(to_json([Timeouts(tcp=900, tcp_fin=120, udp=300)]), "timeouts")
    d = SyncDaemon(state="backup", mcast_ifn="eth0", syncid=3, sync_maxlen=1472,
                   mcast_group="224.0.0.81", mcast_port=8848, mcast_ttl=1)
    validate(to_json(d), "daemon")
    assert to_json(d)["state"] == "backup" and to_json(d)["mcast_group"] == "224.0.0.81"
    assert "mcast_group" not in to_json(SyncDaemon(mcast_ifn="lo"))


def test_pretty_layout_is_iproute2s():
    assert dumps([]) == "[]\n"
    assert dumps([], pretty=True) == "[ ]\n"
    assert dumps([{}], pretty=True) == "[ {} ]\n"
    assert dumps([{"a": 1, "b": [1, 2], "c": {"d": "x"}}, {"e": []}], pretty=True) == (
        '[ {\n'
        '        "a": 1,\n'
        '        "b": [ 1,2 ],\n'
        '        "c": {\n'
        '            "d": "x"\n'
        '        }\n'
        '    },{\n'
        '        "e": [ ]\n'
        '    } ]\n')
    assert dumps([{"a": 1, "b": [1, 2]}]) == '[{"a":1,"b":[1,2]}]\n'
    assert json.loads(dumps([{"q": 'a"\\\n\'b'}], pretty=True)) == [{"q": 'a"\\\n\'b'}]


@pytest.mark.parametrize("pretty", [False, True])
@pytest.mark.parametrize("n", [0, 1, 5, 7, 14, 2500])
def test_dump_array_writes_what_dumps_writes(pretty, n):
    """The streamed array (-Lnc --json) is the document dumps() makes of
    the whole list, whatever the batches."""
    from ipvs import dump_array, dumps
    items = [{"protocol": "tcp", "n": i, "nested": {"a": [i, "x\u00e9"]}, "e": []}
             for i in range(n)]
    pieces = []
    dump_array(iter(items), pieces.append, pretty=pretty, batch=7)
    assert "".join(pieces) == dumps(items, pretty=pretty)
    assert n < 8 or len(pieces) > 2  # written as it went
