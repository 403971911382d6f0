# A user's script, as the README shows the library: mypy --strict must
# accept it against the installed package (tests/test_typing.py).
from typing import List, Optional

import ipvs


def web_service() -> ipvs.Service:
    return ipvs.Service(protocol="tcp", address="192.0.2.80", port=80,
                        scheduler="wrr", flags=ipvs.SVC_F_PERSISTENT, timeout=300)


def backends() -> List[ipvs.Destination]:
    return [ipvs.Destination(address="198.51.100.11", port=8080, fwd_method="masq", weight=3)]


def show(c: ipvs.Client) -> None:
    web = web_service()
    c.add_service(web)
    for d in backends():
        c.add_destination(web, d)
    for svc in c.services():
        conns: Optional[int] = svc.stats.conns if svc.stats is not None else None
        print(svc.address, svc.port, svc.scheduler, conns)
        for dest in c.destinations(svc):
            print("  ->", dest.address, dest.port, dest.weight, dest.active_conns)
    moved: ipvs.Service = web.replace(port=8080)
    print(moved.port + 1, ipvs.Timeouts(tcp=900).tcp, ipvs.Stats(1, 2).inpkts)
    info = c.info()
    print(info.version_string, ipvs.DECODER, ipvs.DECODER_REASON, ipvs.__version__)
    for op in c.plan([(web, backends())]):
        print(op.command())
    for conn in c.connections():
        print(conn.caddr, conn.cport)


def main() -> int:
    try:
        with ipvs.Client() as c:
            show(c)
    except ipvs.NotAvailableError as e:
        print(e)
        return 2
    except ipvs.KernelError as e:
        print(e.errno, e.strerror)
        return 1
    return 0
