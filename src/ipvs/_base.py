# The exception roots, at the bottom of the layer stack so the codec, the
# decoders and the client all raise from one hierarchy.


class IPVSError(Exception):
    """Base class of every error this package raises on purpose."""


class DecodeError(IPVSError, ValueError):
    """Bytes that are not valid netlink / IPVS data (from either decoder)."""
