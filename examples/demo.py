"""A short real example: one virtual service with three real servers, added
through the library, listed back from the kernel, then removed again.

It touches only its own service (192.0.2.80:80, a documentation address),
so it is safe on a host whose IPVS table is in use. With --keep the service
stays (scripts/demo uses that inside the throw-away VM to show the reference
ipvsadm listing the same table).
"""
import sys

import ipvs

VIP = ipvs.Service(protocol="tcp", address="192.0.2.80", port=80, scheduler="wrr")
SERVERS = [
    ipvs.Destination(address="198.51.100.11", port=8080, fwd_method="masq", weight=3),
    ipvs.Destination(address="198.51.100.12", port=8080, fwd_method="masq", weight=2),
    ipvs.Destination(address="198.51.100.13", port=8080, fwd_method="masq", weight=1),
]
FWD = {ipvs.FWD_MASQ: "Masq", ipvs.FWD_ROUTE: "Route", ipvs.FWD_TUNNEL: "Tunnel",
       ipvs.FWD_LOCAL: "Local"}


def main(argv):
    keep = "--keep" in argv
    try:
        client = ipvs.Client()
    except ipvs.KernelError as e:
        print("demo: %s" % getattr(e, "hint", e.strerror), file=sys.stderr)
        return 1
    with client:
        info = client.info()
        print("IPVS %s, connection table size %d, decoder: %s"
              % (info.version_string, info.conn_tab_size, ipvs.DECODER))
        client.add_service(VIP)
        ok = False
        try:
            for d in SERVERS:
                client.add_destination(VIP, d)
            svc = client.get_service(VIP)
            print("\n%s %s:%d scheduler %s" % (svc.protocol_name.upper(), svc.address,
                                               svc.port, svc.scheduler))
            for d in sorted(client.destinations(svc), key=lambda d: -d.weight):
                print("  -> %s:%d  %-6s weight %d" % (d.address, d.port, FWD[d.fwd_method],
                                                      d.weight))
            ok = True
        finally:
            if not (keep and ok):
                client.delete_service(VIP)
        if not keep:
            print("\nremoved %s:%d again" % (VIP.address, VIP.port))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
