# Listing renderers: pure functions from model objects to ipvsadm 1.31's text.
#
# Rule: no I/O here. Name lookups (host and service names, when -n is not
# given) go through a `names` object passed in, so the renderers can be
# golden-tested with a fixed resolver. Each function returns the text.


import struct

from .. import _conntext
from .._records import SVC
from ._options import (FMT_EXACT, FMT_NOSORT, FMT_NUMERIC, FMT_PERSISTENTCONN,
                       FMT_RATE, FMT_RULE, FMT_STATS, FMT_THRESHOLDS, FMT_TUN_INFO)

AF_INET, AF_INET6 = 2, 10
SVC_F_PERSISTENT, SVC_F_ONEPACKET = 0x1, 0x4
SVC_F_SCHED1, SVC_F_SCHED2, SVC_F_SCHED3 = 0x8, 0x10, 0x20
_SCHED_ANY = SVC_F_SCHED1 | SVC_F_SCHED2 | SVC_F_SCHED3

_PROTO_NAME = {6: "TCP", 17: "UDP", 132: "SCTP"}
_PROTO_OPT = {6: "-t", 17: "-u", 132: "--sctp-service"}
_FWD_NAME = {0: "Masq", 1: "Local", 2: "Tunnel", 3: "Route"}
_FWD_SWITCH = {0: "-m", 2: "-i", 1: "-g", 3: "-g"}
_TUN_NAMES = ["ipip", "gue", "gre"]
_TUN_FLAGS = ["-c", "+c", "r+c"]
_TUN_FLAG_OPTS = ["--tun-nocsum", "--tun-csum", "--tun-remcsum"]
NULL = "(null)"  # what glibc's printf shows for a NULL string

VERSION_LINE = "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n"


class NumericNames:
    """No lookups: what -n means."""

    def host(self, af, address):
        return None

    def port(self, port, protocol):
        return None


class SystemNames:
    """Reverse lookups through the C library, as ipvsadm does."""

    def __init__(self):
        self._hosts = {}
        self._ports = {}

    def host(self, af, address):
        key = (af, address)
        if key not in self._hosts:
            import socket
            try:
                self._hosts[key] = socket.gethostbyaddr(address)[0]
            except (OSError, UnicodeError, ValueError):
                self._hosts[key] = None
        return self._hosts[key]

    def port(self, port, protocol):
        pname = {6: "tcp", 17: "udp", 132: "sctp"}.get(protocol)
        if pname is None:
            return None
        key = (port, pname)
        if key not in self._ports:
            import socket
            try:
                self._ports[key] = socket.getservbyport(port, pname)
            except (OSError, OverflowError, ValueError):
                self._ports[key] = None
        return self._ports[key]


def addrport(af, address, port, protocol, fmt, names):
    """ipvsadm's addrport_to_anyname: host:port, [v6]:port, names unless -n;
    at most 59 characters (its 60-byte buffer)."""
    if fmt & FMT_NUMERIC:
        host, pname = address, str(port)
    else:
        host = names.host(af, address) or address
        pname = names.port(port, protocol) or str(port)
    return _conntext.endpoint(af, host, pname)[:59]


def largenum(i, fmt):
    if fmt & FMT_EXACT:
        n = len(str(i))
        return "%*d" % (9 if n <= 8 else n + 1, i)
    if i < 100000000:
        return "%9d" % i
    if i < 1000000000:
        return "%8dK" % (i // 1000)
    if i < 100000000000:
        return "%8dM" % (i // 1000000)
    if i < 100000000000000:
        return "%8dG" % (i // 1000000000)
    return "%8dT" % (i // 1000000000000)


def title(fmt):
    if fmt & FMT_STATS:
        return ("%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n"
                % ("Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"))
    if fmt & FMT_RATE:
        return ("%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n"
                % ("Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"))
    if fmt & FMT_THRESHOLDS:
        return ("%-33s %-10s %-10s %-10s %-10s\n  -> RemoteAddress:Port\n"
                % ("Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"))
    if fmt & FMT_PERSISTENTCONN:
        return ("%-33s %-9s %-11s %-10s %-10s\n  -> RemoteAddress:Port\n"
                % ("Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn"))
    if fmt & FMT_TUN_INFO:
        return ("Prot LocalAddress:Port Scheduler Flags\n"
                "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n")
    if not fmt & FMT_RULE:
        return ("Prot LocalAddress:Port Scheduler Flags\n"
                "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
    return ""


def sched_flags_text(svc):
    f = svc.flags
    out = []
    if svc.scheduler == "sh":
        names = (("sh-fallback", SVC_F_SCHED1), ("sh-port", SVC_F_SCHED2))
    elif svc.scheduler == "mh":
        names = (("mh-fallback", SVC_F_SCHED1), ("mh-port", SVC_F_SCHED2))
    else:
        names = (("flag-1", SVC_F_SCHED1), ("flag-2", SVC_F_SCHED2), ("flag-3", SVC_F_SCHED3))
    for name, bit in names:
        if f & bit:
            out.append(name)
    return ",".join(out)


def _svc_af(svc):
    return AF_INET6 if svc.af == AF_INET6 else AF_INET


def service_name(svc, fmt, names):
    if svc.fwmark:
        v6 = svc.af == AF_INET6
        if fmt & FMT_RULE:
            return "-f %d%s" % (svc.fwmark, " -6" if v6 else "")
        return "FWM  %d%s" % (svc.fwmark, " IPv6" if v6 else "")
    vname = addrport(svc.af, svc.address, svc.port, svc.protocol, fmt, names)
    if fmt & FMT_RULE:
        return "%s %s" % (_PROTO_OPT.get(svc.protocol, "--xxx-service"), vname)
    s = "%-4s %s" % (_PROTO_NAME.get(svc.protocol, "?"), vname)
    if svc.af != AF_INET6:
        s = s[:33]
    return s


def _mask_suffix(svc, word):
    if svc.af == AF_INET and svc.netmask != "255.255.255.255":
        return " %s %s" % (word, svc.netmask)
    if svc.af == AF_INET6 and svc.netmask != "128":
        return " %s %s" % (word, svc.netmask)
    return ""


def _stats(svc_or_dest):
    return svc_or_dest.stats


def packed(af, address):
    import socket
    return socket.inet_pton(socket.AF_INET6 if af == AF_INET6 else socket.AF_INET,
                            address).ljust(16, b"\0")


def dest_sort_key(d):
    return (packed(d.af, d.address), d.port)


def service_sort_key(s):
    return (s.fwmark, s.af, s.protocol, packed(s.af, s.address) if s.address else b"", s.port)


def service_entry(svc, dests, fmt, names):
    """One service and its destinations, as list/save print them."""
    out = []
    name = service_name(svc, fmt, names)
    st = svc.stats
    if fmt & FMT_RULE:
        line = "-A %s -s %s" % (name, svc.scheduler)
        if svc.flags & SVC_F_PERSISTENT:
            line += " -p %d" % svc.timeout + _mask_suffix(svc, "-M")
        if svc.pe_name:
            line += " --pe %s" % svc.pe_name
        if svc.flags & SVC_F_ONEPACKET:
            line += " -o"
        if svc.flags & _SCHED_ANY:
            line += " -b " + sched_flags_text(svc)
    elif fmt & FMT_STATS:
        line = "%-33s" % name + "".join(largenum(v, fmt) for v in (
            st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes))
    elif fmt & FMT_RATE:
        line = "%-33s" % name + "".join(largenum(v, fmt) for v in (
            st.cps, st.inpps, st.outpps, st.inbps, st.outbps))
    else:
        line = "%s %s" % (name, svc.scheduler)
        if svc.flags & _SCHED_ANY:
            line += " (%s)" % sched_flags_text(svc)
        if svc.flags & SVC_F_PERSISTENT:
            line += " persistent %d" % svc.timeout + _mask_suffix(svc, "mask")
            if svc.pe_name:
                line += " pe %s" % svc.pe_name
        if svc.flags & SVC_F_ONEPACKET:
            line += " ops"
    out.append(line + "\n")

    if type(dests) is ProcDests:
        out.append(proc_dest_lines(dests, svc.protocol, fmt, names))
        return "".join(out)
    if not fmt & FMT_NOSORT:
        dests = sorted(dests, key=dest_sort_key)
    for d in dests:
        dname = addrport(d.af, d.address, d.port, svc.protocol, fmt, names)
        if not fmt & FMT_RULE and d.af != AF_INET6:
            dname = dname[:28]
        fwd = d.fwd_method & 7
        ds = d.stats
        if fmt & FMT_RULE:
            out.append(_dest_rule(name, dname, d, fwd))
        elif fmt & FMT_STATS:
            out.append("  -> %-28s" % dname + "".join(largenum(v, fmt) for v in (
                ds.conns, ds.inpkts, ds.outpkts, ds.inbytes, ds.outbytes)) + "\n")
        elif fmt & FMT_RATE:
            out.append("  -> %-28s %8d %8d %8d" % (dname, ds.cps, ds.inpps, ds.outpps)
                       + largenum(ds.inbps, fmt) + largenum(ds.outbps, fmt) + "\n")
        elif fmt & FMT_THRESHOLDS:
            out.append("  -> %-28s %-10d %-10d %-10d %-10d\n" % (
                dname, d.u_threshold, d.l_threshold, d.active_conns, d.inactive_conns))
        elif fmt & FMT_PERSISTENTCONN:
            out.append("  -> %-28s %-9d %-11d %-10d %-10d\n" % (
                dname, d.weight, d.persistent_conns, d.active_conns, d.inactive_conns))
        elif fmt & FMT_TUN_INFO:
            out.append("  -> %-28s %-7s %-13s %-6d %-10d %-10d\n" % (
                dname, _FWD_NAME.get(fwd, NULL), tunnel_info(d, fwd) or "n/a",
                d.weight, d.active_conns, d.inactive_conns))
        else:
            out.append("  -> %-28s %-7s %-6d %-10d %-10d\n" % (
                dname, _FWD_NAME.get(fwd, NULL), d.weight, d.active_conns, d.inactive_conns))
    return "".join(out)


# ------------------------------------------- destinations from /proc/net/ip_vs

# What a listing in these formats shows of a destination is all in the proc
# file (see ipvs._proctable); any other format needs netlink's records.
PROC_UNFIT = FMT_RULE | FMT_STATS | FMT_RATE | FMT_THRESHOLDS | FMT_PERSISTENTCONN | FMT_TUN_INFO


class ProcDests(list):
    """A service's destination lines as /proc/net/ip_vs prints them."""


_V4_NAMES = {}


def _proc_v4(h):
    a = _V4_NAMES.get(h)
    if a is None:
        a = _V4_NAMES[h] = "%d.%d.%d.%d" % tuple(bytes.fromhex(h))
    return a


def _proc_v6(full):
    import socket
    return socket.inet_ntop(socket.AF_INET6, bytes.fromhex(full.replace(":", "")))


def _proc_split(line):
    """(af, address, port, the text after the address column) of one
    destination line; ValueError if it is not in the kernel's layout."""
    if line[5] != "[":
        # "  -> %08X:%04X      %-7s %-6d %-10d %-10d"
        if line[13] != ":" or line[18:24] != "      ":
            raise ValueError(line)
        return AF_INET, _proc_v4(line[5:13]), int(line[14:18], 16), line[24:]
    # "  -> [%pI6]:%04X      %-7s ...": the address written out in full
    end = line.index("]", 6)
    if line[end + 1] != ":" or line[end + 6:end + 12] != "      ":
        raise ValueError(line)
    return AF_INET6, _proc_v6(line[6:end]), int(line[end + 2:end + 6], 16), line[end + 12:]


def _proc_sort_key(line):
    af, address, port, _ = _proc_split(line)
    return (packed(af, address), port)


def proc_dest_lines(lines, protocol, fmt, names):
    """The plain listing's destination lines from the proc file's: the
    fields after the address are printed there with ipvsadm's own widths
    (%-7s %-6d %-10d %-10d), so only the address column is rewritten."""
    if not fmt & FMT_NOSORT and len(lines) > 1:
        v6 = sum(1 for line in lines if line[5] == "[")
        if v6 == 0 or v6 == len(lines):
            # fixed-width hex (IPv4) or fully written-out IPv6: the text
            # sorts as (address, port) do
            lines = sorted(lines)
        else:
            lines = sorted(lines, key=_proc_sort_key)
    out = []
    for line in lines:
        af, address, port, rest = _proc_split(line)
        dname = addrport(af, address, port, protocol, fmt, names)
        if af == AF_INET:
            dname = dname[:28]
        out.append("  -> %-28s %s\n" % (dname, rest))
    return "".join(out)


def _proc_v4_numeric(lines, fmt):
    """proc_dest_lines for -n when every line is IPv4 (the bulk of a large
    table): the same text, with less work per line."""
    if not fmt & FMT_NOSORT and len(lines) > 1:
        lines = sorted(lines)
    v4 = _proc_v4
    out = []
    append = out.append
    for line in lines:
        if line[13] != ":" or line[18:24] != "      ":
            raise ValueError(line)
        # at most 21 characters: never cut to 28
        append("  -> %-28s %s\n" % (v4(line[5:13]) + ":" + str(int(line[14:18], 16)),
                                    line[24:]))
    return "".join(out)


_REC_PROTO = {6: "TCP", 17: "UDP", 132: "SCTP"}
_U32 = struct.Struct("=I")  # how the records hold an IPv4 netmask


def record_sort_key(r):
    """service_sort_key of a service record (see ipvs._decoder's layout)."""
    if r[SVC.fwmark]:
        return (r[SVC.fwmark], r[SVC.af], r[SVC.protocol], b"", r[SVC.port])
    return (r[SVC.fwmark], r[SVC.af], r[SVC.protocol],
            r[SVC.addr] if r[SVC.af] == AF_INET6 else r[SVC.addr][:4], r[SVC.port])


def numeric_service_from_record(r, table, fmt):
    """The plain -n listing of one service, straight from its netlink
    record and its destination lines in the proc table (no model objects:
    the path of tables with tens of thousands of services). None when the
    service is not the plain IPv4 kind this handles (firewall mark, IPv6,
    scheduler flags, one-packet, a persistence engine, IPv6 real servers)
    or the table does not hold it: the caller takes the general path."""
    if (r[SVC.af] != AF_INET or r[SVC.fwmark]
            or r[SVC.flags] & (SVC_F_ONEPACKET | _SCHED_ANY) or r[SVC.pe_name]):
        return None
    proto = _REC_PROTO.get(r[SVC.protocol])
    if proto is None:
        return None
    a = r[SVC.addr]
    entry = table.get((proto, "%08X:%04X" % (int.from_bytes(a[:4], "big"), r[SVC.port])))
    if entry is None or entry[0] != r[SVC.sched_name]:
        return None
    lines = entry[1]
    for line in lines:
        if line[5] == "[":
            return None
    head = "%-4s %d.%d.%d.%d:%d %s" % (proto, a[0], a[1], a[2], a[3], r[SVC.port],
                                       r[SVC.sched_name])
    if r[SVC.flags] & SVC_F_PERSISTENT:
        head += " persistent %d" % r[SVC.timeout]
        mask = _U32.pack(r[SVC.netmask])
        if mask != b"\xff\xff\xff\xff":
            head += " mask %d.%d.%d.%d" % tuple(mask)
    return head + "\n" + _proc_v4_numeric(lines, fmt)


def numeric_table(info, records, proc, fmt, names, destinations):
    """The plain -n listing (what table() prints) from netlink's service
    records and the proc file's destination lines: the common services
    straight from their records, the rest through model objects and
    service_entry(), with destinations(service) asked for one the proc
    table cannot answer for (ipvs._proctable.pair)."""
    from .._client import service_from_record
    from .._proctable import pair
    if not fmt & FMT_NOSORT:
        records = sorted(records, key=record_sort_key)
    texts = [numeric_service_from_record(r, proc, fmt) for r in records]
    rest = [i for i, t in enumerate(texts) if t is None]
    if rest:
        services = [service_from_record(records[i]) for i in rest]
        for i, svc, lines in zip(rest, services, pair(proc, services)):
            dests = ProcDests(lines) if lines is not None else destinations(svc)
            texts[i] = service_entry(svc, dests, fmt, names)
    return info_line(info) + title(fmt) + "".join(texts)


def _tun_flag(table, flags):
    return table[flags] if 0 <= flags < len(table) else "?"


def tunnel_info(d, fwd):
    if fwd != 2:
        return None
    if d.tun_type == 0:
        s = "ipip"
    elif d.tun_type == 1:
        s = "gue:%d:%s" % (d.tun_port, _tun_flag(_TUN_FLAGS, d.tun_flags))
    elif d.tun_type == 2:
        s = "gre:%s" % _tun_flag(_TUN_FLAGS, d.tun_flags)
    else:
        return None
    return s[:15]


def _dest_rule(svc_name, dname, d, fwd):
    line = "-a %s -r %s %s -w %d" % (svc_name, dname, _FWD_SWITCH.get(fwd, NULL), d.weight)
    if fwd == 2:
        if d.tun_type == 2:
            line += " --tun-type gre %s" % _tun_flag(_TUN_FLAG_OPTS, d.tun_flags)
        elif d.tun_type == 1:
            line += " --tun-type gue --tun-port %d %s" % (
                d.tun_port, _tun_flag(_TUN_FLAG_OPTS, d.tun_flags))
        elif d.tun_type == 0:
            line += " --tun-type ipip"
    # ipvsadm 1.31 leaves the thresholds out, so a restore loses them
    if d.u_threshold:
        line += " -x %d" % d.u_threshold
    if d.l_threshold:
        line += " -y %d" % d.l_threshold
    return line + "\n"


def info_line(info):
    return "IP Virtual Server version %s (size=%d)\n" % (info.version_string, info.conn_tab_size)


def table(info, entries, fmt, names):
    """The whole table (-L, -S): entries are (service, destinations) pairs
    in kernel order; sorted here unless --nosort."""
    out = []
    if not fmt & FMT_RULE:
        out.append(info_line(info))
    if not fmt & FMT_NOSORT:
        entries = sorted(entries, key=lambda e: service_sort_key(e[0]))
    out.append(title(fmt))
    for svc, dests in entries:
        out.append(service_entry(svc, dests, fmt, names))
    return "".join(out)


def one_service(svc, dests, fmt, names):
    return title(fmt) + service_entry(svc, dests, fmt, names)


def timeouts(t):
    return "Timeout (tcp tcpfin udp): %d %d %d\n" % (t.tcp, t.tcp_fin, t.udp)


def daemons(ds):
    out = []
    for d in ds:
        if d.state & 1:
            kind = "master"
        elif d.state & 2:
            kind = "backup"
        else:
            continue
        line = "%s sync daemon (mcast=%s, syncid=%d" % (kind, d.mcast_ifn, d.syncid)
        if d.sync_maxlen:
            line += ", maxlen=%d" % d.sync_maxlen
        if d.mcast_group:
            line += ", group=%s" % d.mcast_group
        if d.mcast_port:
            line += ", port=%d" % d.mcast_port
        if d.mcast_ttl:
            line += ", ttl=%d" % d.mcast_ttl
        out.append(line + ")\n")
    return "".join(out)


_CONN_PROTO = {"TCP": 6, "UDP": 17, "SCTP": 132}


def connections_title(fmt):
    if fmt & FMT_PERSISTENTCONN:
        return ("IPVS connection entries\npro expire %-11s %-18s %-18s %-18s %-16s %s\n"
                % ("state", "source", "virtual", "destination", "pe name", "pe_data"))
    return ("IPVS connection entries\npro expire %-11s %-18s %-18s %s\n"
            % ("state", "source", "virtual", "destination"))


def connection(c, fmt, names):
    return connection_record((c.protocol, c.af, c.caddr, c.cport, c.vaddr, c.vport,
                              c.daddr, c.dport, c.state, c.expires, c.pe_name, c.pe_data),
                             fmt, names)


def connection_record(r, fmt, names):
    """One -Lc line from a connection record (the decoders' tuple layout,
    _conns.FIELDS): the listing of a large table builds no model objects."""
    protocol, caf, caddr, cport, vaddr, vport, daddr, dport, state, expires, pe_name, \
        pe_data = r
    proto = _CONN_PROTO.get(protocol, 0)
    daf = AF_INET6 if ":" in daddr else AF_INET
    cname = addrport(caf, caddr, cport, proto, fmt, names)
    vname = addrport(caf, vaddr, vport, proto, fmt, names)
    dname = addrport(daf, daddr, dport, proto, fmt, names)
    expire = _conntext.expire(expires)
    if fmt & FMT_PERSISTENTCONN and pe_data:
        return "%-3s %-6s %-11s %-18s %-18s %-16s %-18s %s\n" % (
            protocol, expire, state, cname, vname, dname, pe_name, pe_data)
    return _conntext.LINE % (protocol, expire, state, cname, vname, dname)


def usage(program):
    p = program
    return (VERSION_LINE +
            "Usage:\n"
            "  %s -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]\n"
            "  %s -D virtual-service\n"
            "  %s -C\n"
            "  %s -R\n"
            "  %s -S [-n]\n"
            "  %s -a|e virtual-service -r server-address [options]\n"
            "  %s -d virtual-service -r server-address\n"
            "  %s -L|l [virtual-service] [options]\n"
            "  %s -Z [virtual-service]\n"
            "  %s --set tcp tcpfin udp\n"
            "  %s --start-daemon {master|backup} [daemon-options]\n"
            "  %s --stop-daemon {master|backup}\n"
            "  %s -h\n\n" % ((p,) * 13) +
            _USAGE_BODY)


_USAGE_BODY = """\
Commands:
Either long or short options are allowed.
  --add-service     -A        add virtual service with options
  --edit-service    -E        edit virtual service with options
  --delete-service  -D        delete virtual service
  --clear           -C        clear the whole table
  --restore         -R        restore rules from stdin
  --save            -S        save rules to stdout
  --add-server      -a        add real server with options
  --edit-server     -e        edit real server with options
  --delete-server   -d        delete real server
  --list            -L|-l     list the table
  --zero            -Z        zero counters in a service or all services
  --set tcp tcpfin udp        set connection timeout values
  --start-daemon              start connection sync daemon
  --stop-daemon               stop connection sync daemon
  --help            -h        display this help message

virtual-service:
  --tcp-service|-t  service-address   service-address is host[:port]
  --udp-service|-u  service-address   service-address is host[:port]
  --sctp-service    service-address   service-address is host[:port]
  --fwmark-service|-f fwmark          fwmark is an integer greater than zero

Options:
  --ipv6         -6                   fwmark entry uses IPv6
  --scheduler    -s scheduler         one of rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh,
                                      the default scheduler is wlc.
  --pe            engine              alternate persistence engine may be sip,
                                      not set by default.
  --persistent   -p [timeout]         persistent service
  --netmask      -M netmask           persistent granularity mask
  --real-server  -r server-address    server-address is host (and port)
  --gatewaying   -g                   gatewaying (direct routing) (default)
  --ipip         -i                   ipip encapsulation (tunneling)
  --masquerading -m                   masquerading (NAT)
  --tun-type      type                one of ipip|gue|gre,
                                      the default tunnel type is ipip.
  --tun-port      port                tunnel destination port
  --tun-nocsum                        tunnel encapsulation without checksum
  --tun-csum                          tunnel encapsulation with checksum
  --tun-remcsum                       tunnel encapsulation with remote checksum
  --weight       -w weight            capacity of real server
  --u-threshold  -x uthreshold        upper threshold of connections
  --l-threshold  -y lthreshold        lower threshold of connections
  --connection   -c                   output of current IPVS connections
  --timeout                           output of timeout (tcp tcpfin udp)
  --daemon                            output of daemon information
  --stats                             output of statistics information
  --rate                              output of rate information
  --exact                             expand numbers (display exact values)
  --thresholds                        output of thresholds information
  --persistent-conn                   output of persistent connection info
  --tun-info                          output of tunnel information
  --nosort                            disable sorting output of service/server entries
  --sort                              does nothing, for backwards compatibility
  --ops          -o                   one-packet scheduling
  --numeric      -n                   numeric output of addresses and ports
  --sched-flags  -b flags             scheduler flags (comma-separated)
Daemon Options:
  --syncid sid                        syncid for connection sync (default=255)
  --sync-maxlen length                Max sync message length (default=1472)
  --mcast-interface interface         multicast interface for connection sync
  --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)
  --mcast-port port                   UDP port (default=8848)
  --mcast-ttl ttl                     Multicast TTL (default=1)
"""
