"""The model's FIELD_MAP is the one declaration of how a field meets the
kernel, a rule and JSON: a copy of the spec with one more destination
attribute and a copy of Destination with one more field and map row get
the record reader, the request attributes, the encoded nest, the settings
a plan compares, the JSON key and the rule word, with no other edit; and
the maps of the real classes cover their records and fields."""
import pytest

from ipvs import (_client, _decode_py, _json, _layout, _model, _records, _requests,
                  _spec as spec, _table)
from ipvs import rules
from ipvs._model import Destination, Service
from ipvs._records import Field

from test_decoder_vectors import AF4, PID, SEQ, _decode_c, done, msg
from test_records_spec import spec_with_test_attr

# the hypothetical attribute of docs/layout.md's trace: a u32 the kernel
# reports and a rule sets with an option of its own
ROW = ("ovf_thresh", "ovf_thresh", "set", "ovf_thresh", "--ovf-threshold")


def spec_with_ovf():
    tables, records = spec_with_test_attr()  # dest: one more attribute, id 16 ("test_attr")
    tables["dest"]["ovf_thresh"] = tables["dest"].pop("test_attr")._replace(name="ovf_thresh")
    table, nest, fields = records["dest"]
    records["dest"] = _records.Record(table, nest, fields[:-1] + (
        Field("ovf_thresh", "ovf_thresh", need="optional"),))
    return tables, records


def destination_with_ovf():
    """Destination with one more field, ovf_thresh, and its row in the map
    (after l_threshold): what the model's edit for the attribute is."""
    names = Destination._FIELDS
    ns = {n: Destination.__dict__[n] for n in names if n in Destination.__dict__}
    ns["__annotations__"] = dict(Destination.__annotations__, ovf_thresh="int")
    ns["ovf_thresh"] = 0
    ns["__post_init__"] = Destination.__dict__["__post_init__"]
    ns["key"] = Destination.__dict__["key"]
    at = [r[0] for r in Destination.FIELD_MAP].index("l_threshold") + 1
    ns["FIELD_MAP"] = Destination.FIELD_MAP[:at] + (ROW,) + Destination.FIELD_MAP[at:]
    return _model._make_value_class()(type("Destination", (), ns))


@pytest.fixture
def copied_spec(monkeypatch):
    """The copied spec in place of the real one while the test encodes
    (spec's encoders read its TABLES)."""
    tables, records = spec_with_ovf()
    monkeypatch.setattr(spec, "TABLES", tables)
    monkeypatch.setattr(spec, "_ENCODERS", {name: [(n, spec._encoder(a)) for n, a in t.items()]
                                            for name, t in tables.items()})
    return tables, records


MAKERS = [pytest.param(_decode_py.make_decoders, id="python"),
          pytest.param(_decode_c and _decode_c.make_decoders, id="c", marks=pytest.mark.skipif(
              _decode_c is None, reason="C decoder not built"))]


@pytest.mark.parametrize("make", MAKERS)
def test_a_new_destination_attribute_is_derived_everywhere(make, copied_spec):
    tables, records = copied_spec
    layouts = _layout.compile_records(tables, records)
    D = destination_with_ovf()
    d = D(address="10.0.0.2", port=80, fwd_method="masq", weight=3, u_threshold=9,
          ovf_thresh=12345)
    # the request attributes and the nest: the new one among them
    names, values = _requests.attr_writer(D, "dest", ("key", "set"), _requests._DEST_WRITE,
                                          records)
    attrs = dict(zip(names, values(d)))
    assert attrs["ovf_thresh"] == 12345
    assert set(attrs) == set(_requests.DEST_FIELDS) | {"ovf_thresh"}
    nest = spec.fixed_encoder("dest", names, {"addr": 16})(*values(d))
    assert nest == spec.encode_attrs("dest", attrs)
    # the attributes as the kernel would report them (with its counters),
    # through the decoders built from the copied spec, back to the same
    # object by the derived reader
    counts = {"active_conns": 1, "inact_conns": 2, "persist_conns": 3}
    reply = msg(spec.encode_attrs("cmd", {"dest": dict(attrs, **counts)}),
                cmd=spec.CMD_NEW_DEST) + done()
    recs, status, err = make(layouts)[1](reply, SEQ, PID, AF4)
    assert (len(recs), status, err) == (1, 1, 0)
    read = _client.record_reader(D, layouts["dest"].index, _client._DEST_READ)
    back = read(recs[0])
    assert back.ovf_thresh == 12345
    assert back == d.replace(active_conns=1, inactive_conns=2, persistent_conns=3,
                             stats=_model.Stats())
    # what a plan compares, JSON, the rule words
    assert _table.dest_settings(d) != _table.dest_settings(d.replace(ovf_thresh=1))
    o = _json.dest_json(d)
    assert o["ovf_thresh"] == 12345
    assert list(o).index("ovf_thresh") == list(o).index("l_threshold") + 1
    assert rules.dest_options(d) == " -m -w 3 -x 9 --ovf-threshold 12345"
    assert rules.dest_options(d.replace(ovf_thresh=0)) == " -m -w 3 -x 9"


def test_the_real_destination_has_no_such_field():
    # the derivations above are not the real class's by accident
    d = Destination(address="10.0.0.2", port=80, fwd_method="masq", weight=3, u_threshold=9)
    assert "ovf_thresh" not in _requests.dest_attrs(d) and "ovf_thresh" not in _json.dest_json(d)
    assert rules.dest_options(d) == " -m -w 3 -x 9"


@pytest.mark.parametrize("cls,record", [(Destination, "dest"), (Service, "service")])
def test_each_map_covers_its_record_and_its_class(cls, record):
    """Every field of the record and every field of the class has its row
    (a new record field without a model field fails here), in the columns'
    vocabulary."""
    rows = cls.FIELD_MAP
    assert all(len(r) == len(_model.FIELD_MAP_COLUMNS) for r in rows)
    assert sorted(r[0] for r in rows) == sorted(cls._FIELDS)
    assert sorted(r[1] for r in rows) == sorted(f[0] for f in _records.RECORDS[record][2])
    assert {r[2] for r in rows} <= {"key", "set", "count"}
    json_keys = [r[3] for r in rows if r[3]]
    assert len(json_keys) == len(set(json_keys))


def test_the_cli_passes_every_destination_setting():
    # the runner builds the Destination from the command by the map's
    # names: every setting is one the command holds
    from ipvs.cli._options import Command
    ce = Command()
    for f, _, role, *_ in Destination.FIELD_MAP:
        if role == "set":
            assert hasattr(ce, f), f
