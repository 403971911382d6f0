"""The JSON keys documented in docs/json.md, read from its tables, and a
validator: every key of an object documented for it, with the documented
type; every key marked 'always' present; nested objects checked too."""
import os
import re

DOC = os.path.join(os.path.dirname(__file__), "..", "docs", "json.md")
_TYPES = {"string": str, "number": int, "array": list, "object": dict, "boolean": bool}
# which documented object a nested key holds
_NESTED = {("service", "stats"): "stats", ("service", "rate"): "rate",
           ("destination", "stats"): "stats", ("destination", "rate"): "rate",
           ("destination", "tunnel"): "tunnel", ("operation", "service"): "service",
           ("operation", "destination"): "destination"}
_ITEMS = {("service", "destinations"): "destination",
          ("scoped_plan", "operations"): "operation"}


def documented_keys(path=DOC):
    """{object name: {key: (python type, always present)}}"""
    out, current = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^## (\w+)\s*$", line)
            if m:
                current = m.group(1)
                continue
            m = re.match(r"^\| `(\w+)` \| (\w+) \| (.*)\|\s*$", line)
            if m and current:
                out.setdefault(current, {})[m.group(1)] = (
                    _TYPES[m.group(2)], m.group(3).strip().startswith("always"))
    return out


KEYS = documented_keys()


def validate(value, kind, where="$"):
    """Raise AssertionError if `value` does not follow the documented keys of `kind`."""
    spec = KEYS[kind]
    assert isinstance(value, dict), "%s: not an object" % where
    for key, v in value.items():
        assert key in spec, "%s: undocumented key %r for %s" % (where, key, kind)
        typ = spec[key][0]
        assert isinstance(v, typ) and (typ is bool or not isinstance(v, bool)), \
            "%s.%s: %r is not a %s" % (where, key, v, typ.__name__)
    for key, (_, always) in spec.items():
        if always and not (kind == "service" and key == "destinations" and where.endswith(".service")):
            assert key in value, "%s: %s without %r" % (where, kind, key)
    for key, v in value.items():
        if (kind, key) in _NESTED:
            validate(v, _NESTED[kind, key], "%s.%s" % (where, key))
        if (kind, key) in _ITEMS:
            for i, item in enumerate(v):
                validate(item, _ITEMS[kind, key], "%s.%s[%d]" % (where, key, i))


def validate_document(doc, kind):
    assert isinstance(doc, list), "the document is not an array"
    for i, item in enumerate(doc):
        validate(item, kind, "$[%d]" % i)
