# A service's key in requests: the attributes that name it, and their
# encoded nest made once per service (every real-server request and
# restore line names its service again).
from __future__ import annotations

from . import _spec as spec
from ._model import Service, pack_address


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
        a = service_key_attrs(svc)
        kind = "fwmark" if svc.fwmark else len(a["addr"])
        pack = _KEY_PACKS.get(kind)
        if pack is None:  # the attributes' bytes encode_attrs makes, in one struct pack
            pack = _KEY_PACKS[kind] = spec.fixed_encoder("service", list(a), {"addr": kind})
        enc = _KEY_CACHE[k] = spec.Encoded(pack(*a.values()))
    return enc


_KEY_PACKS: dict = {}  # by key kind: "fwmark", or the address's length
