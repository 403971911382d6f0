"""_base.record_type: the tuple classes the codec and the client declare
(Message, ErrorInfo, EncodedOp, Attr) without collections.namedtuple,
whose import reads four modules at start-up. Checked against namedtuple
itself, which is what they replace."""
import collections
import pickle

import pytest

from ipvs import _netlink as nl, _spec as spec
from ipvs._base import record_type
from ipvs._requests import EncodedOp

Ours = record_type("Ours", "name id type order nest", defaults=("host", None),
                   module=__name__)
Theirs = collections.namedtuple("Ours", "name id type order nest", defaults=("host", None))


@pytest.mark.parametrize("args, kw", [
    (("a", 1, "u32"), {}), (("a", 1, "u32", "big"), {}), (("a", 1, "u32", "big", "x"), {}),
    (("a", 1), {"type": "nest", "nest": "service"}), ((), {"name": "a", "id": 2, "type": "u8"}),
    (("a",), {"id": 2, "type": "u8", "order": "big"}),
])
def test_it_makes_what_namedtuple_makes(args, kw):
    ours, theirs = Ours(*args, **kw), Theirs(*args, **kw)
    assert ours == theirs and tuple(ours) == tuple(theirs) and isinstance(ours, tuple)
    assert repr(ours) == repr(theirs)
    assert [getattr(ours, f) for f in Theirs._fields] == list(theirs)
    assert ours._fields == Theirs._fields
    assert ours._replace(order="big", id=9) == theirs._replace(order="big", id=9)
    assert type(ours._replace(id=3)) is Ours
    assert pickle.loads(pickle.dumps(ours)) == ours
    assert type(pickle.loads(pickle.dumps(ours))) is Ours


@pytest.mark.parametrize("args, kw", [
    (("a",), {}),                                   # a required field missing
    (("a", 1, "u32", "big", None, "extra"), {}),    # too many
    (("a", 1, "u32"), {"name": "b"}),               # given twice
    (("a", 1, "u32"), {"colour": "red"}),           # no such field
])
def test_it_refuses_what_namedtuple_refuses(args, kw):
    with pytest.raises(TypeError):
        Theirs(*args, **kw)
    with pytest.raises(TypeError):
        Ours(*args, **kw)
    with pytest.raises(ValueError):
        Ours("a", 1, "u32")._replace(colour="red")


def test_the_declared_types():
    m = nl.Message(1, 2, 3, 4, b"xyzw", 1, 3)
    assert (m.type, m.flags, m.seq, m.pid, m.start, m.end, m.payload()) == (1, 2, 3, 4, 1, 3, b"yz")
    assert nl.ErrorInfo(5, "msg", None).msg == "msg"
    assert EncodedOp("add_service", 1, b"").operation == "add_service"
    a = spec.Attr("port", 4, "u16", "big")
    assert (a.name, a.id, a.type, a.order, a.nest) == ("port", 4, "u16", "big", None)
    assert spec.Attr("x", 1, "nest", nest="dest").order == "host"
    assert type(a).__module__ == "ipvs._spec" and type(m).__module__ == "ipvs._netlink"
