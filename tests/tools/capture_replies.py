"""Capture real IPVS netlink replies from the VM kernel as test data.

Run inside the VM (scripts/vm): it builds a known table, sends requests with
the project's transport, and saves every receive buffer as hex next to a
description of what was configured. The expected values in the JSON come
from the configuration applied here, never from decoding the replies, so the
unit tests that read these files check the decoders against the kernel.

    scripts/vm '.venv/bin/python tests/tools/capture_replies.py tests/data/replies'
"""
import json
import os
import socket
import struct
import sys

import ipvs
from ipvs import _netlink as nl
from ipvs import _spec as spec
from ipvs._keys import service_key_attrs
from ipvs._requests import service_attrs
from ipvs._transport import Conn


def capture(conn, request_for, dump):
    """Send one request; return (seq, pid, [hex buffers]) of its whole reply."""
    seq = conn.next_seq()
    conn.send(request_for(seq))
    ex = nl.Exchange(seq, conn.pid, dump)
    bufs = []
    while not ex.done:
        b = conn.recv()
        bufs.append(b.hex())
        try:
            ex.feed(b)
        except nl.NetlinkError:
            break
    return {"seq": seq, "pid": conn.pid, "buffers": bufs}


def main(outdir):
    os.makedirs(outdir, exist_ok=True)
    c = ipvs.Client()
    c.flush()
    conn = c._conn
    fam = c.family
    out = {}

    def req(cmd, values=None, dump=False):
        return lambda seq: spec.encode_request(fam, cmd, values, dump=dump, seq=seq)

    # -- info and config
    out["info"] = capture(conn, req(spec.CMD_GET_INFO), False)
    out["info"]["expect"] = {"version": 0x010201, "conn_tab_size": c.info().conn_tab_size}
    c.set_timeouts(ipvs.Timeouts(tcp=901, tcp_fin=121, udp=301))
    out["config"] = capture(conn, req(spec.CMD_GET_CONFIG), False)
    out["config"]["expect"] = {"timeout_tcp": 901, "timeout_tcp_fin": 121, "timeout_udp": 301}

    # -- a varied service table, big enough that the dump spans several buffers
    services = [
        ipvs.Service(protocol="tcp", address="10.1.0.1", port=80, scheduler="rr",
                     flags=ipvs.SVC_F_PERSISTENT, timeout=300, netmask="255.255.255.0"),
        ipvs.Service(protocol="udp", address="2001:db8::53", port=53, scheduler="sh",
                     flags=ipvs.SVC_F_PERSISTENT | ipvs.SVC_F_SCHED1 | ipvs.SVC_F_SCHED2,
                     timeout=60, netmask="64"),
        ipvs.Service(fwmark=0x80000001, scheduler="wlc", pe_name="sip",
                     flags=ipvs.SVC_F_PERSISTENT, timeout=10),
        ipvs.Service(fwmark=7, af=socket.AF_INET6, scheduler="mh", flags=ipvs.SVC_F_SCHED1),
        ipvs.Service(protocol="sctp", address="10.1.0.2", port=3868, scheduler="lc",
                     flags=ipvs.SVC_F_ONEPACKET),
    ]
    for i in range(300):
        services.append(ipvs.Service(protocol="tcp", address="10.2.%d.%d" % (i // 250, i % 250 + 1),
                                     port=1000 + i, scheduler="wrr"))
    for s in services:
        c.add_service(s)
    out["services"] = capture(conn, req(spec.CMD_GET_SERVICE, dump=True), True)
    out["services"]["expect"] = [
        {"af": s.af, "protocol": s.protocol, "address": s.address, "port": s.port,
         "fwmark": s.fwmark, "scheduler": s.scheduler, "flags": s.flags | ipvs.SVC_F_HASHED,
         "timeout": s.timeout, "netmask": s.netmask, "pe_name": s.pe_name}
        for s in services]

    # -- one service by key
    out["get_service"] = capture(conn, req(spec.CMD_GET_SERVICE,
                                           {"service": service_key_attrs(services[0])}), False)

    # -- destinations: every forwarding method, tunnels, thresholds, IPv6, many entries
    big = services[0]
    dests = [
        ipvs.Destination(address="10.9.0.1", port=8080, fwd_method="masq", weight=5,
                         u_threshold=100, l_threshold=10),
        ipvs.Destination(address="10.9.0.2", port=8080, fwd_method="route", weight=0),
        ipvs.Destination(address="10.9.0.3", port=8080, fwd_method="tunnel", tun_type="gue",
                         tun_port=6080, tun_flags=ipvs.TUN_F_CSUM),
        ipvs.Destination(address="10.9.0.4", port=8080, fwd_method="tunnel", tun_type="gre",
                         tun_flags=ipvs.TUN_F_REMCSUM),
        ipvs.Destination(address="10.9.0.5", port=8080, fwd_method="tunnel", tun_type="ipip"),
    ]
    for i in range(600):
        dests.append(ipvs.Destination(address="10.8.%d.%d" % (i // 250, i % 250 + 1), port=80,
                                      fwd_method="masq", weight=i % 7 + 1))
    for d in dests:
        c.add_destination(big, d)
    out["dests"] = capture(conn, req(spec.CMD_GET_DEST, {"service": service_key_attrs(big)},
                                     dump=True), True)
    out["dests"]["svc_af"] = big.af
    out["dests"]["expect"] = [
        {"address": d.address, "port": d.port, "af": d.af, "fwd_method": d.fwd_method,
         "weight": d.weight, "u_threshold": d.u_threshold, "l_threshold": d.l_threshold,
         "tun_type": d.tun_type, "tun_port": d.tun_port, "tun_flags": d.tun_flags}
        for d in dests]
    # IPv6 destinations of an IPv6 service
    v6 = services[1]
    d6 = [ipvs.Destination(address="2001:db8::%x" % (i + 1), port=5353, weight=i + 1)
          for i in range(3)]
    for d in d6:
        c.add_destination(v6, d)
    out["dests6"] = capture(conn, req(spec.CMD_GET_DEST, {"service": service_key_attrs(v6)},
                                      dump=True), True)
    out["dests6"]["svc_af"] = v6.af
    out["dests6"]["expect"] = [
        {"address": d.address, "port": d.port, "af": d.af, "fwd_method": d.fwd_method,
         "weight": d.weight, "u_threshold": 0, "l_threshold": 0, "tun_type": 0,
         "tun_port": 0, "tun_flags": 0} for d in d6]

    # -- daemons: master and backup
    c.start_daemon(ipvs.SyncDaemon(state="master", mcast_ifn="lo", syncid=5, mcast_port=8849,
                                   mcast_ttl=2, mcast_group="224.0.0.82", sync_maxlen=1400))
    c.start_daemon(ipvs.SyncDaemon(state="backup", mcast_ifn="lo", syncid=6))
    out["daemons"] = capture(conn, req(spec.CMD_GET_DAEMON, dump=True), True)
    out["daemons"]["expect"] = [
        {"state": 1, "mcast_ifn": "lo", "sync_id": 5, "mcast_port": 8849, "mcast_ttl": 2,
         "mcast_group": "224.0.0.82", "sync_maxlen": 1400},
        {"state": 2, "mcast_ifn": "lo", "sync_id": 6, "mcast_port": 8848, "mcast_ttl": 1,
         "mcast_group": "224.0.0.81", "sync_maxlen": 65507},  # backup default: 65535 - 28
    ]

    # -- errors: a kernel errno, and a policy failure with extended ack
    out["err_exists"] = capture(conn, req(spec.CMD_NEW_SERVICE,
                                          {"service": service_attrs(services[0])}), False)
    out["err_exists"]["expect"] = {"errno": 17}
    out["err_nosvc"] = capture(conn, req(spec.CMD_DEL_SERVICE, {"service": service_key_attrs(
        ipvs.Service(protocol="tcp", address="10.250.0.1", port=1))}), False)
    out["err_nosvc"]["expect"] = {"errno": 3}
    # IPVS_SVC_ATTR_AF with one byte instead of two: fails the kernel's policy
    bad = nl.nested(1, nl.attr(1, b"\x02"), nl.attr(5, struct.pack("=I", 1)))
    out["err_policy"] = capture(conn, lambda seq: nl.encode_genl(
        fam, spec.CMD_DEL_SERVICE, spec.GENL_VERSION, bad, seq=seq), False)
    out["err_policy"]["expect"] = {"errno": 22, "has_ext_msg": True}
    out["ack"] = capture(conn, req(spec.CMD_ZERO), False)
    out["ack"]["expect"] = {"errno": 0}
    # IPVS_CMD_SET_INFO is a reply command only: the kernel has no handler
    out["set_info"] = capture(conn, req(spec.CMD_SET_INFO), False)

    c.stop_daemon(ipvs.SyncDaemon(state="master", mcast_ifn="lo", syncid=5))
    c.stop_daemon(ipvs.SyncDaemon(state="backup", mcast_ifn="lo", syncid=6))
    c.flush()
    out["family"] = fam
    for name, data in out.items():
        if name == "family":
            continue
        data["family"] = fam
        with open(os.path.join(outdir, name + ".json"), "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
    print("captured", ", ".join(sorted(k for k in out if k != "family")))


if __name__ == "__main__":
    main(sys.argv[1])
