# Connection entries as ipvsadm 1.31's `-Lc` prints them: the line layout,
# the expiry and endpoint texts, and whole `-Lnc` listings from connection
# records (the decoders' tuple layout, _conns.FIELDS).
#
# Rule: pure functions from records to text, importing only the vocabulary
# (which imports nothing), so that the
# CLI's renderer and the decoders' pure-Python twin (whose
# render_conns_numeric is decode_conns + numeric_lines) share one
# formatter, and the C renderer (csrc/ipvs_render.c render_line) is
# tested against this one.

from .vocab import AF_INET, AF_INET6

# ipvsadm's print_conn() without --persistent-conn
CONNECTION_LINE = "%-3s %-6s %-11s %-18s %-18s %s\n"


def connection_expire(expires):
    """Seconds left as ipvsadm's "%02d:%02d" of minutes and seconds (100
    minutes and more take more digits, which widen the column)."""
    return "%02d:%02d" % (expires // 60, expires % 60)


def endpoint(af, host, port):
    """host:port, an IPv6 host in brackets (addrport_to_anyname)."""
    return ("%s:%s" if af == AF_INET else "[%s]:%s") % (host, port)


def numeric_lines(records):
    """The `ipvsadm -Lnc` lines of many records, as one text."""
    out = []
    append = out.append
    for protocol, caf, caddr, cport, vaddr, vport, daddr, dport, state, expires, _, _ in records:
        if caf == AF_INET and ":" not in daddr and expires < 6000:
            # the common case in one formatting operation: IPv4 throughout,
            # an expiry of two-digit minutes (5 characters, so one space of
            # padding to %-6s)
            append("%-3s %02d:%02d  %-11s %-18s %-18s %s:%d\n" % (
                protocol, expires // 60, expires % 60, state, "%s:%d" % (caddr, cport),
                "%s:%d" % (vaddr, vport), daddr, dport))
        else:
            append(CONNECTION_LINE % (protocol, connection_expire(expires), state, endpoint(caf, caddr, cport),
                           endpoint(caf, vaddr, vport),
                           endpoint(AF_INET6 if ":" in daddr else AF_INET, daddr, dport)))
    return "".join(out)
