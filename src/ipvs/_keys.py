# A service's key in requests: the attributes that name it, and their
# encoded nest made once per service (every real-server request and
# restore line names its service again); and the key a listing sorts
# service records by.
from __future__ import annotations

from _operator import itemgetter

from . import _spec as spec
from ._model import AF_INET6, Service, pack_address
from ._records import SVC


def service_key_attrs(svc: Service) -> dict:
    """The attributes that name a service (what lookups need)."""
    if svc.fwmark:
        return {"af": svc.af, "fwmark": svc.fwmark}
    return {"af": svc.af, "protocol": svc.protocol,
            "addr": pack_address(svc.af, svc.address), "port": svc.port}


_KEY_CACHE: dict = {}


def service_key_nest(svc: Service) -> spec.Encoded:
    """The encoded key of a service, computed once per service key: a
    restore names each service again in every one of its real-server lines."""
    k = svc.key
    enc = _KEY_CACHE.get(k)
    if enc is None:
        if len(_KEY_CACHE) > 65536:
            _KEY_CACHE.clear()
        enc = _KEY_CACHE[k] = spec.Encoded(service_key_payload(svc))
    return enc


def service_key_payload(svc: Service) -> bytes:
    """The key attributes' bytes (what encode_attrs("service",
    service_key_attrs(svc)) makes), in one struct pack, uncached."""
    if svc.fwmark:
        return _mark_key(svc.af, svc.fwmark)
    return _address_key(svc.af, svc.protocol, pack_address(svc.af, svc.address), svc.port)


def record_key_payload(r) -> bytes:
    """service_key_payload of a service record (the decoders' tuple, its
    fields ipvs._records.SVC): its own 16 address bytes, no text made and
    parsed again in between."""
    if r[SVC.fwmark]:
        return _mark_key(r[SVC.af], r[SVC.fwmark])
    return _address_key(r[SVC.af], r[SVC.protocol], r[SVC.addr], r[SVC.port])


def record_key_payloads(records) -> list:
    """record_key_payload of each service record; for a table of address
    services whose addresses are all 16 bytes (as the decoders keep them),
    one struct pack mapped over the columns: no Python step per record."""
    if records:
        cols = list(zip(*records))
        addrs = cols[SVC.addr]
        if not any(cols[SVC.fwmark]) and set(map(len, addrs)) == {16}:
            encode = _KEY_PACKS.get("columns")
            if encode is None:
                encode = _KEY_PACKS["columns"] = spec.fixed_column_encoder(
                    "service", ("af", "protocol", "addr", "port"), {"addr": 16})
            return encode(cols[SVC.af], cols[SVC.protocol], addrs, cols[SVC.port])
    return [record_key_payload(r) for r in records]


def _mark_key(af, fwmark):
    return (_KEY_PACKS.get("fwmark") or _pack("fwmark", ("af", "fwmark")))(af, fwmark)


def _address_key(af, protocol, addr, port):
    return (_KEY_PACKS.get(len(addr)) or _pack(len(addr), ("af", "protocol", "addr", "port")))(
        af, protocol, addr, port)


_KEY_PACKS: dict = {}  # by key kind: "fwmark", the address's length, or "columns"


def _pack(kind, names):
    pack = _KEY_PACKS[kind] = spec.fixed_encoder("service", names, {"addr": kind})
    return pack


def record_sort_key(r):
    """rules.service_sort_key of a service record (fields: ipvs._records.SVC)."""
    if r[SVC.fwmark]:
        return (r[SVC.fwmark], r[SVC.af], r[SVC.protocol], b"", r[SVC.port])
    return (r[SVC.fwmark], r[SVC.af], r[SVC.protocol],
            r[SVC.addr] if r[SVC.af] == AF_INET6 else r[SVC.addr][:4], r[SVC.port])


_FIRST4 = itemgetter(slice(0, 4))


def record_sort_keys(records) -> list:
    """record_sort_key of each record; for a table of IPv4 address
    services (the bulk of large ones) made by mapping over the columns,
    no Python step per record: the same order."""
    if records:
        cols = list(zip(*records))
        if not any(cols[SVC.fwmark]) and AF_INET6 not in cols[SVC.af]:
            return list(zip(cols[SVC.af], cols[SVC.protocol], map(_FIRST4, cols[SVC.addr]),
                            cols[SVC.port]))
    return list(map(record_sort_key, records))
