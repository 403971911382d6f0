"""Random IPVS tables for plan/apply property tests (host and VM).

Drawn from a small universe of service and destination keys, so that two
random tables share many services and destinations and differ in their
settings: the cases where edits in place and ordering matter. Every rule is
one the kernel accepts and `ipvsadm -a/-A` could have made (route and
tunnel destinations of a non-fwmark service take the service's port)."""
import random

from ipvs import Destination, Service, SVC_F_ONEPACKET, SVC_F_PERSISTENT

SERVICE_KEYS = (
    [("tcp", "10.0.0.%d" % i, p) for i in (1, 2, 3) for p in (80, 443)]
    + [("udp", "10.0.0.1", 53), ("udp", "10.0.0.2", 5060), ("sctp", "10.0.0.3", 80)]
    + [("tcp", "2001:db8::1", 80), ("udp", "2001:db8::2", 53)]
    + [("fwmark", 4, 1), ("fwmark", 6, 2)]  # (fwmark, af, mark)
)
SCHEDULERS = ("rr", "wrr", "lc", "wlc", "sh", "mh", "sed", "nq")


def random_service(rng, key):
    kind, addr, port = key
    if kind == "fwmark":
        svc = Service(fwmark=port, af=10 if addr == 6 else 2)
    else:
        svc = Service(protocol=kind, address=addr, port=port)
    v6 = svc.af == 10
    sched = rng.choice(SCHEDULERS)
    flags = 0
    timeout = 0
    netmask = None
    pe = ""
    if rng.random() < 0.4:
        flags |= SVC_F_PERSISTENT
        timeout = rng.choice((1, 60, 300, 3600))
        if rng.random() < 0.5:
            netmask = rng.choice(("64", "96")) if v6 else rng.choice(("255.255.255.0", "255.255.0.0"))
        if kind == "udp" and rng.random() < 0.3:
            pe = "sip"
    if kind in ("udp", "fwmark") and rng.random() < 0.3:
        flags |= SVC_F_ONEPACKET
    if sched in ("sh", "mh") and rng.random() < 0.5:
        flags |= rng.choice((0x8, 0x10, 0x18))
    return svc.replace(scheduler=sched, flags=flags, timeout=timeout,
                       netmask=netmask, pe_name=pe)


def random_dest(rng, svc, host):
    v6 = svc.af == 10
    address = ("2001:db8::1%d" if v6 else "192.168.0.%d") % host
    fwd = rng.choice(("masq", "route", "tunnel"))
    port = rng.choice((80, 8080))
    if fwd != "masq" and not svc.fwmark:
        port = svc.port
    kw = {}
    if fwd == "tunnel":
        tun = rng.choice(("ipip", "gue", "gre"))
        kw["tun_type"] = tun
        if tun == "gue":
            kw["tun_port"] = rng.choice((6080, 6081))
            kw["tun_flags"] = rng.choice((0, 1, 2))
        elif tun == "gre":
            kw["tun_flags"] = rng.choice((0, 1))
    # the kernel refuses a lower threshold above the upper one (0: none)
    upper, lower = rng.choice(((0, 0), (0, 0), (50, 0), (50, 10), (7, 7)))
    return Destination(address=address, port=port, fwd_method=fwd,
                       weight=rng.choice((0, 1, 2, 5, 100)),
                       u_threshold=upper, l_threshold=lower, **kw)


def random_table(rng, *, max_services=None):
    keys = rng.sample(SERVICE_KEYS, rng.randint(0, max_services or len(SERVICE_KEYS)))
    table = []
    for key in keys:
        svc = random_service(rng, key)
        dests = {}
        for host in rng.sample(range(1, 6), rng.randint(0, 4)):
            d = random_dest(rng, svc, host)
            dests.setdefault(d.key, d)
        table.append((svc, list(dests.values())))
    return table


def seeded(seed):
    return random.Random(seed)
