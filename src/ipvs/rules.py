# Rule words: model objects as the ipvsadm command words that make them
# (`-A -t 10.0.0.1:80 -s wlc`, `-a ... -r ... -m -w 1`), and the orders
# ipvsadm sorts a table in. `ipvsadm -S`, plans (Operation.command(), what
# --dry-run prints and undo reports name) and the JSON listing all use them.
#
# Rule: pure functions over model objects, no I/O; words and numbers from
# the vocabulary (ipvs.vocab), a field's own option from its class's
# FIELD_MAP (_model). Host names are the caller's: `host` turns
# (af, address, port, protocol) into text, numeric when not given.
# save=True keeps what ipvsadm 1.31's -S does with values no rule can
# express (an unknown forwarding method prints "(null)", an unknown tunnel
# flag "?", scheduler flags with no name an empty -b); without it such a
# value is left out, so a plan's commands always parse.
from __future__ import annotations

import _socket as socket  # the C module: socket.py would import enum and selectors

from ._conntext import endpoint  # host:port, [v6]:port (the -Lc lines write them so too)
from ._model import mapped
from .vocab import (AF_INET, AF_INET6, FORWARDING_OPTIONS, FWD_MASK, FWD_ROUTE, FWD_TUNNEL,
                     PROTOCOL_NAMES, PROTOCOL_OPTIONS, SVC_F_SCHED_ANY, TUN_GUE, TUN_GRE,
                     TUNNEL_FLAG_OPTIONS, TUNNEL_TYPE_NAMES, DAEMON_OPTION_ROWS, DAEMON_STATE_NAMES,
                     sched_flag_names)

NULL = "(null)"  # what glibc's printf shows for a NULL string (ipvsadm -S)


def _numeric(af, address, port, protocol) -> str:
    return endpoint(af, address, port)


# ------------------------------------------------------------------ services

# what a rule writes for a firewall mark (then " -6" for IPv6), and for a
# protocol without an option in a save (ipvsadm 1.31's text)
MARK_OPTION, MARK_V6, UNKNOWN_PROTOCOL_OPTION = "-f ", " -6", "--xxx-service"


def service_spec(s, host=None, *, save=False) -> str:
    """-t ADDR:PORT, -u ..., --sctp-service ..., or -f MARK [-6]."""
    if s.fwmark:
        return "%s%d%s" % (MARK_OPTION, s.fwmark, MARK_V6 if s.af == AF_INET6 else "")
    opt = PROTOCOL_OPTIONS.get(s.protocol)
    if opt is None:
        opt = UNKNOWN_PROTOCOL_OPTION if save else "--protocol-%s" % PROTOCOL_NAMES.get(
            s.protocol, s.protocol)
    return "%s %s" % (opt, (host or _numeric)(s.af, s.address, s.port, s.protocol))


def service_options(s, *, save=False) -> str:
    """The words after the service: -s, then -p [-M], --pe, -o, -b."""
    out = " -s %s" % s.scheduler
    if s.persistent:
        out += " -p %d" % s.timeout
        if s.netmask != ("128" if s.af == AF_INET6 else "255.255.255.255"):
            out += " -M %s" % s.netmask
    if s.pe_name:
        out += " --pe %s" % s.pe_name
    if s.one_packet:
        out += " -o"
    flags = sched_flag_names(s.scheduler, s.flags)
    if flags or (save and s.flags & SVC_F_SCHED_ANY):
        out += " -b " + ",".join(flags)
    return out


def service_rule(s, host=None, *, save=False) -> str:
    return "-A " + service_spec(s, host, save=save) + service_options(s, save=save)


# -------------------------------------------------------------- destinations

def dest_spec(d, protocol=0, host=None) -> str:
    """-r ADDR:PORT."""
    return "-r " + (host or _numeric)(d.af, d.address, d.port, protocol)


def dest_options(d, *, save=False) -> str:
    """The words after -r: the forwarding method, -w, the tunnel, -x, -y."""
    fwd = d.fwd_method & FWD_MASK
    opt = FORWARDING_OPTIONS.get(fwd)
    if opt is None:
        opt = NULL if save else FORWARDING_OPTIONS[FWD_ROUTE]
    out = " %s -w %d" % (opt, d.weight)
    if fwd == FWD_TUNNEL and 0 <= d.tun_type < len(TUNNEL_TYPE_NAMES):
        out += " --tun-type %s" % TUNNEL_TYPE_NAMES[d.tun_type]
        if d.tun_type == TUN_GUE:
            out += " --tun-port %d" % d.tun_port
        if d.tun_type in (TUN_GUE, TUN_GRE):
            if 0 <= d.tun_flags < len(TUNNEL_FLAG_OPTIONS):
                out += " " + TUNNEL_FLAG_OPTIONS[d.tun_flags]
            elif save:
                out += " ?"
    # the numbers a rule writes only when set (the thresholds: -x, -y),
    # named in the class's FIELD_MAP; ipvsadm 1.31 -S leaves the thresholds
    # out, so its restore loses them
    for field, opt in _options_of(type(d)):
        value = getattr(d, field)
        if value:
            out += " %s %d" % (opt, value)
    return out


_OPTIONS: dict = {}  # model class -> its (field, option) rows, made on first use


def option_record_fields(cls) -> tuple:
    """(record field, option) of the numbers a rule of cls writes only when
    set (dest_options' -x, -y), named by the decoders' records."""
    rec = dict(mapped(cls, "record"))
    return tuple((rec[f], opt) for f, opt in _options_of(cls))


def _options_of(cls):
    rows = _OPTIONS.get(cls)
    if rows is None:
        rows = _OPTIONS[cls] = mapped(cls, "option")
    return rows


# ---------------------------------------------------------------- operations

_SERVICE_OPS = {"add_service": "-A ", "edit_service": "-E ", "delete_service": "-D "}
_DEST_OPS = {"add_destination": "-a ", "edit_destination": "-e ",
             "delete_destination": "-d "}


def operation_command(op) -> str:
    """The ipvsadm command line (numeric, without the program name) of a
    plan operation: anything with .name, .service and .destination."""
    name = op.name
    spec = service_spec(op.service)
    if name in _SERVICE_OPS:
        if name == "delete_service":
            return "-D " + spec
        return _SERVICE_OPS[name] + spec + service_options(op.service)
    if name not in _DEST_OPS:
        raise ValueError("not a plan operation: %s" % name)
    out = _DEST_OPS[name] + spec + " " + dest_spec(op.destination)
    if name == "delete_destination":
        return out
    return out + dest_options(op.destination)


def timeouts_command(t) -> str:
    return "--set %d %d %d" % (t.tcp, t.tcp_fin, t.udp)


def daemon_command(d, start=True) -> str:
    state = DAEMON_STATE_NAMES.get(d.state, str(d.state))
    if not start:
        return "--stop-daemon %s" % state
    out = "--start-daemon %s --mcast-interface %s --syncid %d" % (state, d.mcast_ifn, d.syncid)
    for field, word, _ in DAEMON_OPTION_ROWS:
        value = getattr(d, field)
        if value:
            out += " --%s %s" % (word, value)
    return out


# ---------------------------------------------------------------- sort orders
# ipvsadm's: services by (fwmark, family, protocol, address bytes, port),
# real servers by (address bytes, port).

def packed(af, address) -> bytes:
    """An address as the 16 bytes the kernel holds it in."""
    return socket.inet_pton(AF_INET6 if af == AF_INET6 else AF_INET, address).ljust(16, b"\0")


def dest_sort_key(d):
    return (packed(d.af, d.address), d.port)


def service_sort_key(s):
    return (s.fwmark, s.af, s.protocol, packed(s.af, s.address) if s.address else b"", s.port)


def sorted_table(entries, *, sort_destinations=True):
    """(service, destinations) pairs in ipvsadm's order: services sorted, and
    each one's destinations too (unless sort_destinations is false)."""
    if sort_destinations:
        entries = [(s, sorted(ds, key=dest_sort_key)) for s, ds in entries]
    return sorted(entries, key=lambda e: service_sort_key(e[0]))


__all__ = ["endpoint", "service_spec", "service_options", "service_rule", "dest_spec",
           "dest_options", "operation_command", "timeouts_command", "daemon_command",
           "packed", "dest_sort_key", "service_sort_key", "sorted_table", "NULL"]
