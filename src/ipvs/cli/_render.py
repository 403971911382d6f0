# Listing renderers: pure functions from model objects to ipvsadm 1.31's text.
#
# Rule: no I/O here. Name lookups (host and service names, when -n is not
# given) go through a `names` object passed in, so the renderers can be
# golden-tested with a fixed resolver. Each function returns the text.

import ipvs as _ipvs  # ProcDestinations, split_line, numeric_listing: loaded on first use
from .. import CONNECTION_LINE, connection_expire
from .. import lines as _lines, rules as _rules
from ..vocab import (AF_INET, AF_INET6, DAEMON_BACKUP, DAEMON_MASTER, DAEMON_OPTION_ROWS,
                     DAEMON_STATE_NAMES,
                     FORWARDING_LABELS, FWD_MASK, FWD_TUNNEL, FWMARK_LABEL, PROTOCOL_BY_LABEL,
                     PROTOCOL_LABELS, PROTOCOL_NAMES, SVC_F_ONEPACKET, SVC_F_PERSISTENT,
                     SVC_F_SCHED_ANY, TUN_GRE, TUN_GUE, TUN_IPIP, TUNNEL_FLAG_LABELS,
                     sched_flag_names)
from ._options import (FMT_EXACT, FMT_NOSORT, FMT_NUMERIC, FMT_PERSISTENTCONN,
                       FMT_RATE, FMT_RULE, FMT_STATS, FMT_THRESHOLDS, FMT_TUN_INFO)

NULL = _rules.NULL


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
        pname = PROTOCOL_NAMES.get(protocol)
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
    return _rules.endpoint(af, host, pname)[:59]


def largenum(i, fmt):
    return _lines.largenum_text(i, fmt & FMT_EXACT)


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
    return ",".join(sched_flag_names(svc.scheduler, svc.flags))


# a service's name in a listing (ipvsadm's print_service_entry): "FWM  %d"
# (and " IPv6") for a firewall mark, else "%-4s %s" of the protocol and
# the endpoint, cut to 33 unless IPv6; the service lines' column of a
# program (service_columns) is declared with the same values
_NAME_CUT, _UNKNOWN_PROTOCOL, _MARK, _MARK_V6 = 33, "?", FWMARK_LABEL + "  ", " IPv6"


def service_name(svc, fmt, names):
    if fmt & FMT_RULE:
        return _rules.service_spec(svc, _host(fmt, names), save=True)
    if svc.fwmark:
        return "%s%d%s" % (_MARK, svc.fwmark, _MARK_V6 if svc.af == AF_INET6 else "")
    vname = addrport(svc.af, svc.address, svc.port, svc.protocol, fmt, names)
    s = "%-4s %s" % (PROTOCOL_LABELS.get(svc.protocol, _UNKNOWN_PROTOCOL), vname)
    if svc.af != AF_INET6:
        s = s[:_NAME_CUT]
    return s


def _host(fmt, names):
    """addrport() as the rule words take a host function."""
    return lambda af, address, port, protocol: addrport(af, address, port, protocol, fmt,
                                                        names)


def _mask_suffix(svc, word):
    if svc.af == AF_INET and svc.netmask != "255.255.255.255":
        return " %s %s" % (word, svc.netmask)
    if svc.af == AF_INET6 and svc.netmask != "128":
        return " %s %s" % (word, svc.netmask)
    return ""


def service_entry(svc, dests, fmt, names):
    """One service and its destinations, as list/save print them."""
    name = service_name(svc, fmt, names)
    out = [service_line(svc, fmt, names, name)]
    if type(dests) is _ipvs.ProcDestinations:
        out.append(proc_dest_lines(dests, svc.protocol, fmt, names))
        return "".join(out)
    from ._programs import dest_program
    program = dest_program(fmt)
    if program is not None:  # the lines a numeric listing writes from records
        def ep(af, addr, port):
            return addrport(af, _lines.address_text(af, addr), port, svc.protocol, fmt, names)
        record = _lines.dest_record
        out.append(program.lines([record(d) for d in dests], not fmt & FMT_NOSORT,
                                 _lines.numeric_endpoint if fmt & FMT_NUMERIC else ep,
                                 (name, "")))
        return "".join(out)
    if not fmt & FMT_NOSORT:
        dests = sorted(dests, key=_rules.dest_sort_key)
    for d in dests:
        dname = addrport(d.af, d.address, d.port, svc.protocol, fmt, names)
        if fmt & FMT_RULE:
            out.append("-a %s -r %s%s\n" % (name, dname, _rules.dest_options(d, save=True)))
            continue
        if d.af != AF_INET6:
            dname = dname[:28]
        fwd = d.fwd_method & FWD_MASK
        out.append("  -> %-28s %-7s %-13s %-6d %-10d %-10d\n" % (  # --tun-info
            dname, FORWARDING_LABELS.get(fwd, NULL), tunnel_info(d, fwd) or "n/a",
            d.weight, d.active_conns, d.inactive_conns))
    return "".join(out)


def service_line(svc, fmt, names, name=None):
    """A service's own line in a listing or save, with its newline (name:
    service_name()'s, when the caller has it)."""
    if name is None:
        name = service_name(svc, fmt, names)
    st = svc.stats
    if fmt & FMT_RULE:
        line = "-A " + name + _rules.service_options(svc, save=True)
    elif fmt & FMT_STATS:
        line = "%-33s" % name + "".join(largenum(v, fmt) for v in (
            st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes))
    elif fmt & FMT_RATE:
        line = "%-33s" % name + "".join(largenum(v, fmt) for v in (
            st.cps, st.inpps, st.outpps, st.inbps, st.outbps))
    else:
        line = "%s %s" % (name, svc.scheduler)
        if svc.flags & SVC_F_SCHED_ANY:
            line += " (%s)" % sched_flags_text(svc)
        if svc.flags & SVC_F_PERSISTENT:
            line += " persistent %d" % svc.timeout + _mask_suffix(svc, "mask")
            if svc.pe_name:
                line += " pe %s" % svc.pe_name
        if svc.flags & SVC_F_ONEPACKET:
            line += " ops"
    return line + "\n"


# ------------------------------------------- destinations from /proc/net/ip_vs

# What a listing in these formats shows of a destination is all in the proc
# file (see ipvs.ProcDestinations); any other format needs netlink's records.
PROC_UNFIT = FMT_RULE | FMT_STATS | FMT_RATE | FMT_THRESHOLDS | FMT_PERSISTENTCONN | FMT_TUN_INFO


def proc_dest_lines(lines, protocol, fmt, names):
    """The plain listing's destination lines from the proc file's: the
    fields after the address are printed there with ipvsadm's own widths
    (%-7s %-6d %-10d %-10d), so only the address column is rewritten."""
    out = []
    split = _ipvs.split_line
    for line in lines.in_order(not fmt & FMT_NOSORT):
        af, address, port, rest = split(line)
        dname = addrport(af, address, port, protocol, fmt, names)
        if af == AF_INET:
            dname = dname[:28]
        out.append("  -> %-28s %s\n" % (dname, rest))
    return "".join(out)


def numeric_table(info, client, data, fmt, names):
    """The plain -n listing (what table() prints) through the library's
    fast listing (ipvs.numeric_listing) of /proc/net/ip_vs's bytes."""
    return info_line(info) + title(fmt) + _ipvs.numeric_listing(
        client, data, lambda svc, dests: service_entry(svc, dests, fmt, names),
        sort=not fmt & FMT_NOSORT)


def _tun_flag(table, flags):
    return table[flags] if 0 <= flags < len(table) else "?"


def tunnel_info(d, fwd):
    if fwd != FWD_TUNNEL:
        return None
    if d.tun_type == TUN_IPIP:
        s = "ipip"
    elif d.tun_type == TUN_GUE:
        s = "gue:%d:%s" % (d.tun_port, _tun_flag(TUNNEL_FLAG_LABELS, d.tun_flags))
    elif d.tun_type == TUN_GRE:
        s = "gre:%s" % _tun_flag(TUNNEL_FLAG_LABELS, d.tun_flags)
    else:
        return None
    return s[:15]


def info_line(info):
    return "IP Virtual Server version %s (size=%d)\n" % (info.version_string, info.conn_tab_size)


def table(info, entries, fmt, names):
    """The whole table (-L, -S): entries are (service, destinations) pairs
    in kernel order; sorted here unless --nosort."""
    out = []
    if not fmt & FMT_RULE:
        out.append(info_line(info))
    if not fmt & FMT_NOSORT:
        entries = sorted(entries, key=lambda e: _rules.service_sort_key(e[0]))
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
        # a state is a bit set: master wins, as in ipvsadm
        kind = next((DAEMON_STATE_NAMES[bit] for bit in (DAEMON_MASTER, DAEMON_BACKUP)
                     if d.state & bit), None)
        if kind is None:
            continue
        line = "%s sync daemon (mcast=%s, syncid=%d" % (kind, d.mcast_ifn, d.syncid)
        for field, _, label in DAEMON_OPTION_ROWS:
            value = getattr(d, field)
            if value:
                line += ", %s=%s" % (label, value)
        out.append(line + ")\n")
    return "".join(out)


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
    proto = PROTOCOL_BY_LABEL.get(protocol, 0)
    daf = AF_INET6 if ":" in daddr else AF_INET
    cname = addrport(caf, caddr, cport, proto, fmt, names)
    vname = addrport(caf, vaddr, vport, proto, fmt, names)
    dname = addrport(daf, daddr, dport, proto, fmt, names)
    expire = connection_expire(expires)
    if fmt & FMT_PERSISTENTCONN and pe_data:
        return "%-3s %-6s %-11s %-18s %-18s %-16s %-18s %s\n" % (
            protocol, expire, state, cname, vname, dname, pe_name, pe_data)
    return CONNECTION_LINE % (protocol, expire, state, cname, vname, dname)
