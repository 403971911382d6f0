"""The records are declared once (ipvs._records) and both decoders are
built from that declaration: a new attribute is one edit of a copy of the
spec, with no change to either decoder; and no module outside the spec
names an IPVS attribute id."""
import copy
import os
import re
import struct

import pytest

from ipvs import _decode_py, _layout, _netlink as nl, _records, _spec as spec
from ipvs._records import DEST, SVC, Field

from test_decoder_vectors import (AF4, DEST_MASQ4, DEST_MASQ4_REC, IMPLS, PID, SEQ, SVC_TCP4,
                                  SVC_TCP4_REC, _decode_c, done, msg)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def spec_with_test_attr():
    """A copy of the spec whose dest record has one more field: a u32
    "test_attr", attribute id 16 (unused by any kernel), required."""
    tables = copy.deepcopy(spec.TABLES)
    tables["dest"]["test_attr"] = spec.Attr("test_attr", 16, "u32")
    records = dict(_records.RECORDS)
    table, nest, fields = records["dest"]
    records["dest"] = _records.Record(table, nest, fields + (Field("test_attr", "test_attr"),))
    return tables, records


def dest_reply(tables, values):
    # encoded by the generic encoder over the copied tables
    saved = spec.TABLES, spec._ENCODERS
    try:
        spec.TABLES = tables
        spec._ENCODERS = {name: [(n, spec._encoder(a)) for n, a in t.items()]
                          for name, t in tables.items()}
        body = spec.encode_attrs("cmd", {"dest": values})
    finally:
        spec.TABLES, spec._ENCODERS = saved
    return msg(body, cmd=spec.CMD_NEW_DEST) + done()


MAKERS = [pytest.param(_decode_py.make_decoders, id="python"),
          pytest.param(_decode_c and _decode_c.make_decoders, id="c", marks=pytest.mark.skipif(
              _decode_c is None, reason="C decoder not built"))]


@pytest.mark.parametrize("make", MAKERS)
def test_new_attribute_from_a_copied_spec(make):
    tables, records = spec_with_test_attr()
    layouts = _layout.compile_records(tables, records)
    decode_services, decode_dests, _ = make(layouts)
    # the new field comes after the stats, in declaration order
    index = layouts["dest"].index
    assert index.test_attr == DEST._width and index._width == DEST._width + 1
    buf = dest_reply(tables, dict(DEST_MASQ4, test_attr=0xC0FFEE))
    recs, status, err = decode_dests(buf, SEQ, PID, AF4)
    assert (recs, status, err) == ([DEST_MASQ4_REC + (0xC0FFEE,)], 1, 0)
    # required: without it, the same error as any missing attribute
    with pytest.raises(nl.DecodeError) as e:
        decode_dests(dest_reply(tables, DEST_MASQ4), SEQ, PID, AF4)
    assert str(e.value) == "missing attribute"
    # the other record is untouched
    svc = msg(spec.encode_attrs("cmd", {"service": SVC_TCP4})) + done()
    assert decode_services(svc, SEQ, PID) == ([SVC_TCP4_REC], 1, 0)


@pytest.mark.skipif(_decode_c is None, reason="C decoder not built")
def test_copied_spec_decodes_the_same_in_c_and_python():
    tables, records = spec_with_test_attr()
    layouts = _layout.compile_records(tables, records)
    py = _decode_py.make_decoders(layouts)[1]
    c = _decode_c.make_decoders(layouts)[1]
    base = dest_reply(tables, dict(DEST_MASQ4, test_attr=7))
    for cut in range(len(base)):  # every prefix, and a corrupt byte at each offset
        for buf in (base[:cut], base[:cut] + b"\xff" + base[cut + 1:]):
            out = []
            for fn in (py, c):
                try:
                    out.append(fn(buf, SEQ, PID, AF4))
                except nl.DecodeError as e:
                    out.append(str(e))
            assert out[0] == out[1], cut


def test_default_spec_is_what_the_decoders_use():
    assert _decode_py.make_decoders(spec.LAYOUTS)[0](
        msg(spec.encode_attrs("cmd", {"service": SVC_TCP4})) + done(), SEQ, PID) == \
        ([SVC_TCP4_REC], 1, 0)
    assert SVC_TCP4_REC[SVC.port] == 80 and SVC_TCP4_REC[SVC.sched_name] == "wlc"
    assert DEST_MASQ4_REC[DEST.weight] == 5
    # the C layout is the spec's struct: its size is what the engine writes
    assert struct.calcsize(spec.LAYOUTS["service"].fmt) == spec.LAYOUTS["service"].size


@pytest.mark.parametrize("impl", IMPLS)
def test_layout_offsets_follow_the_declaration(impl):
    # every field of the C record sits at its natural alignment, in order
    for lay in spec.LAYOUTS.values():
        fields = sorted(lay.fields, key=lambda f: f.index)
        ends = 0
        for f in fields:
            assert f.offset >= ends and f.offset % (1 if f.read in ("addr", "string") else
                                                    min(f.store, 8)) == 0
            ends = f.offset + f.store
        assert ends <= lay.size


# ------------------------------------------------------- no ids outside the spec

SPEC_MODULES = {"_spec.py", "_records.py", "_layout.py"}
# what naming an IPVS attribute looks like in the code this project had:
# the twin's lookups, C's macros and lookups, the kernel's names
PATTERNS = [
    (r"_need\(\w+,\s*\d", "attribute lookup by number"),
    (r"\b\d+\s+in\s+a\s*(:|else\b)", "attribute presence by number"),
    (r"\ba\[\d+\]\.(present|s|e)\b", "attribute span by number"),
    (r"\b(NEED|need|address|string)\((\w+,\s*)*\d+\s*,", "C attribute read by number"),
    (r"\bstats\([^)]*\b\d+\s*,\s*\d+", "stats nests by number"),
    (r"IPVS_(SVC|DEST|DAEMON|STATS|CMD|INFO)_ATTR_", "ip_vs.h attribute name"),
    (r"_walk\([^)]*,\s*\d+\s*,", "reply nest by number"),
    (r"walk\([^)]*,\s*\d+\s*,\s*(service|dest)\b", "reply nest by number"),
    (r"struct\s+ipvs_(service|dest)_rec\b", "record layout written by hand"),
    (r"struct\.Struct\(\"=[^\"]*16s", "record layout written by hand"),
    (r"\br\[\d+(:\d*)?\]", "record field by bare index"),
]


def scan(root):
    """(file, line number, what) of every match under root's src/ipvs
    (outside the spec modules) and csrc/."""
    hits = []
    for base in ("src/ipvs", "csrc"):
        for dirpath, _, files in os.walk(os.path.join(root, base)):
            for name in sorted(files):
                if not name.endswith((".py", ".c", ".h")) or name in SPEC_MODULES:
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    for n, line in enumerate(f, 1):
                        code = line.split("#", 1)[0] if name.endswith(".py") else line
                        for pat, what in PATTERNS:
                            if re.search(pat, code):
                                hits.append((os.path.relpath(path, root), n, what))
    return hits


def test_no_attribute_id_outside_the_spec():
    assert scan(ROOT) == []


def test_the_scan_finds_the_ids_the_code_had(tmp_path):
    # the code before the records were declared once, as it was written
    (tmp_path / "src" / "ipvs").mkdir(parents=True)
    (tmp_path / "csrc").mkdir()
    (tmp_path / "src" / "ipvs" / "_decode_py.py").write_text(
        "    af = _U16(buf, _need(a, 1, 2))[0]\n"
        "    if 5 in a:\n"
        "    tun_type = buf[_need(a, 13, 1)] if 13 in a else 0\n"
        "    return _walk(buf, seq, pid, 2, _dest, svc_af)\n")
    (tmp_path / "src" / "ipvs" / "_client.py").write_text(
        "    return _trusted(Service, af=af, protocol=r[1], stats=Stats(*r[10:20]))\n")
    (tmp_path / "csrc" / "ipvs_decoder.c").write_text(
        "    NEED(1, 2); r->af = rd16(buf + p);\n"
        "    if (a[5].present) {\n"
        "        rc = address(buf, a, 3, r->addr);\n"
        "    return stats(buf, a, 10, 12, r->stats);\n"
        "    return walk(buf, len, seq, pid, 1, service, 0, (uint8_t *)out,\n")
    (tmp_path / "csrc" / "ipvs_decoder.h").write_text("struct ipvs_dest_rec {\n")
    whats = {h[2] for h in scan(str(tmp_path))}
    assert {"attribute lookup by number", "attribute presence by number",
            "C attribute read by number", "stats nests by number", "reply nest by number",
            "record layout written by hand", "record field by bare index",
            "attribute span by number"} <= whats
    assert len(scan(str(tmp_path))) >= 10


def test_the_scan_fails_on_main():
    # a checkout that names ids by hand (an older one, when at hand) must fail it
    main = os.environ.get("IPVS_SCAN_OTHER_TREE", "")
    if not main or not os.path.isdir(main):
        pytest.skip("set IPVS_SCAN_OTHER_TREE to a checkout to scan")
    assert scan(main)
