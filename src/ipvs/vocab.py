# The IPVS vocabulary: every number of <linux/ip_vs.h> that names a kind of
# thing (address family, protocol, service flag, forwarding method, tunnel
# type and flag, daemon state) and every way it is spelled: the kernel's
# name (the model's and JSON's word), the label the ipvsadm listing and
# /proc/net/ip_vs print, the ipvsadm option that sets it.
#
# Rule: each fact is written once, here, in one row; every other module
# takes its names and numbers from this one (the lookup tables below are
# derived from the rows, never typed again). Imports nothing and builds a
# few small dicts, so any module may use it at no start-up cost.

AF_INET = 2  # socket.AF_INET on Linux (IPVS exists only there)
AF_INET6 = 10
FAMILY_NAMES = {AF_INET: "inet", AF_INET6: "inet6"}  # iproute2's words

IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_SCTP = 132

# (number, name, listing label, ipvsadm service option: (letter or None, long word))
PROTOCOL_ROWS = (
    (IPPROTO_TCP, "tcp", "TCP", ("t", "tcp-service")),
    (IPPROTO_UDP, "udp", "UDP", ("u", "udp-service")),
    (IPPROTO_SCTP, "sctp", "SCTP", (None, "sctp-service")),
)
PROTOCOLS = {row[1]: row[0] for row in PROTOCOL_ROWS}  # "tcp" -> 6
PROTOCOL_NAMES = {row[0]: row[1] for row in PROTOCOL_ROWS}  # 6 -> "tcp"
PROTOCOL_LABELS = {row[0]: row[2] for row in PROTOCOL_ROWS}  # 6 -> "TCP"
PROTOCOL_BY_LABEL = {row[2]: row[0] for row in PROTOCOL_ROWS}  # "TCP" -> 6
# 6 -> "-t", 132 -> "--sctp-service": how a rule names the protocol
PROTOCOL_OPTIONS = {row[0]: "-" + row[3][0] if row[3][0] else "--" + row[3][1] for row in PROTOCOL_ROWS}
# "tcp-service" -> 6: the option words that give a service's protocol
PROTOCOL_BY_OPTION = {row[3][1]: row[0] for row in PROTOCOL_ROWS}
FWMARK_LABEL = "FWM"  # what the listing and the proc file print for a firewall mark

# service flags (IP_VS_SVC_F_*)
SVC_F_PERSISTENT = 0x0001
SVC_F_HASHED = 0x0002
SVC_F_ONEPACKET = 0x0004
SVC_F_SCHED1 = 0x0008
SVC_F_SCHED2 = 0x0010
SVC_F_SCHED3 = 0x0020
SCHED_FLAG_BITS = (SVC_F_SCHED1, SVC_F_SCHED2, SVC_F_SCHED3)
SVC_F_SCHED_ANY = SVC_F_SCHED1 | SVC_F_SCHED2 | SVC_F_SCHED3
# the names of the three scheduler flags (ipvsadm -b and its listing): a
# scheduler that gives them a meaning names the first ones itself
SCHED_FLAG_GENERIC = ("flag-1", "flag-2", "flag-3")
SCHED_FLAG_NAMES = {"sh": ("sh-fallback", "sh-port"), "mh": ("mh-fallback", "mh-port")}
# -b's words: name -> (bit, the scheduler it needs or None)
SCHED_FLAG_WORDS = dict(
    [(n, (b, None)) for n, b in zip(SCHED_FLAG_GENERIC, SCHED_FLAG_BITS)]
    + [(n, (b, s)) for s, ns in SCHED_FLAG_NAMES.items() for n, b in zip(ns, SCHED_FLAG_BITS)])

DEFAULT_SCHEDULER = "wlc"

# forwarding methods (IP_VS_CONN_F_*)
FWD_MASQ = 0
FWD_LOCAL = 1
FWD_TUNNEL = 2
FWD_ROUTE = 3
FWD_BYPASS = 4
FWD_MASK = 0x7
# (number, name, listing label or None, the option a rule writes for it or None)
FORWARDING_ROWS = (
    (FWD_MASQ, "masq", "Masq", "-m"),
    (FWD_LOCAL, "local", "Local", "-g"),  # ipvsadm has no option for it: -g is nearest
    (FWD_TUNNEL, "tunnel", "Tunnel", "-i"),
    (FWD_ROUTE, "route", "Route", "-g"),
    (FWD_BYPASS, "bypass", None, None),
)
FORWARDING = {row[1]: row[0] for row in FORWARDING_ROWS}  # "masq" -> 0
FORWARDING_NAMES = {row[0]: row[1] for row in FORWARDING_ROWS}
FORWARDING_LABELS = {row[0]: row[2] for row in FORWARDING_ROWS if row[2]}
FORWARDING_OPTIONS = {row[0]: row[3] for row in FORWARDING_ROWS if row[3]}
# ipvsadm's three forwarding options: (letter, long word, method)
FORWARDING_SWITCHES = (("m", "masquerading", FWD_MASQ), ("i", "ipip", FWD_TUNNEL),
                       ("g", "gatewaying", FWD_ROUTE))

# tunnel types (IP_VS_CONN_F_TUNNEL_TYPE_*), index = number; --tun-type's words
TUN_IPIP = 0
TUN_GUE = 1
TUN_GRE = 2
TUNNEL_TYPE_NAMES = ("ipip", "gue", "gre")
TUNNEL_TYPES = {n: i for i, n in enumerate(TUNNEL_TYPE_NAMES)}

# tunnel encapsulation flags (IP_VS_TUNNEL_ENCAP_FLAG_*), index = number:
# name (JSON; the option is --tun-NAME), the label --tun-info prints
TUN_F_NOCSUM = 0
TUN_F_CSUM = 1
TUN_F_REMCSUM = 2
TUNNEL_FLAG_NAMES = ("nocsum", "csum", "remcsum")
TUNNEL_FLAG_OPTIONS = tuple("--tun-" + n for n in TUNNEL_FLAG_NAMES)
TUNNEL_FLAG_LABELS = ("-c", "+c", "r+c")

# sync daemon states (IP_VS_STATE_*)
DAEMON_MASTER = 1
DAEMON_BACKUP = 2
DAEMON_STATES = {"master": DAEMON_MASTER, "backup": DAEMON_BACKUP}
DAEMON_STATE_NAMES = {v: k for k, v in DAEMON_STATES.items()}
# a daemon's optional settings, shown only when set: (SyncDaemon field,
# ipvsadm option word, the label `ipvsadm -L --daemon` prints)
DAEMON_OPTION_ROWS = (("sync_maxlen", "sync-maxlen", "maxlen"),
                      ("mcast_group", "mcast-group", "group"),
                      ("mcast_port", "mcast-port", "port"), ("mcast_ttl", "mcast-ttl", "ttl"))

# the counters of a Stats, in the kernel's order: totals, then rates
STATS_COUNTERS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes")
STATS_RATES = ("cps", "inpps", "outpps", "inbps", "outbps")


def sched_flag_names(scheduler, flags, generic_rest=False):
    """The names of the scheduler flags set in `flags`, in bit order. A
    scheduler with names of its own (sh, mh) has no name for its third bit
    (ipvsadm prints nothing for it); generic_rest: call it flag-3 then."""
    names = SCHED_FLAG_NAMES.get(scheduler)
    if names is None:
        names = SCHED_FLAG_GENERIC
    elif generic_rest:
        names = names + SCHED_FLAG_GENERIC[len(names):]
    return [n for n, bit in zip(names, SCHED_FLAG_BITS) if flags & bit]
