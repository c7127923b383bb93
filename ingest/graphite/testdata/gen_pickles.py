#!/usr/bin/python3
"""Regenerates the pickle test payloads: run from this directory with
/usr/bin/python3 gen_pickles.py. Each NAME.pN.pickle is a payload (without
the 4-byte length prefix) written by Python's own pickle module; NAME.json
is what Python's pickle.loads reads back, as JSON lines, which is what the
Go decoder must produce. The py2_* payloads are the exact bytes Python 2's
cPickle writes for str paths (STRING, SHORT_BINSTRING, BINSTRING opcodes,
which Python 3 no longer emits); Python 3 reads them with encoding=latin1.
Payloads that must be refused (anything but the carbon shape) have an
expected file holding the single line {"error": true}."""
import json, os, pickle

OUT = "pickle"

def expect(obj):
    lines = []
    if not isinstance(obj, list):
        return [{"error": True}]
    for el in obj:
        try:
            path, (ts, val) = el  # a list unpacks as well as a tuple
            if not isinstance(path, (str, bytes)) or not isinstance(el, (tuple, list)):
                raise ValueError
            if isinstance(path, bytes):
                path = path.decode("latin1")
        except (TypeError, ValueError):
            lines.append({"bad": True})
            continue
        d = {"path": path}
        for k, v in (("ts", ts), ("value", val)):
            try:
                d[k] = float(v)
            except (TypeError, ValueError):
                d[k + "_bad"] = True
        lines.append(d)
    return lines

def write(name, payloads, obj):
    for suffix, data in payloads:
        with open(os.path.join(OUT, name + "." + suffix + ".pickle"), "wb") as f:
            f.write(data)
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        for l in expect(obj):
            f.write(json.dumps(l, sort_keys=True) + "\n")

def py3(name, obj, protocols=(0, 1, 2, 4)):
    write(name, [("p%d" % p, pickle.dumps(obj, protocol=p)) for p in protocols], obj)

shared = "servers.web01.cpu.load"
py3("basic", [
    (shared, (1700000000, 1.5)),
    (shared, (1700000010, 2)),           # the same str object: memo GET
    ("cpu.load;host=web01;dc=par", (1700000000, -3e-05)),
    ("disk.used", (1700000000.25, 1e300)),
])
py3("types", [
    ("big.int", (1700000000, 2**40)),     # LONG1 / LONG
    ("neg.int", (1700000000, -70000)),
    ("small.ints", (1700000000, 255)),    # BININT1
    ("mid.ints", (1700000000, 65535)),    # BININT2
    ("str.value", ("1700000000", "3.25")),# carbon's float() reads strings
    ("caf\u00e9.\u4e2d\u6587", (1700000000, 0.1)),
    ("bool.value", (1700000000, True)),
    ("bad.value", (1700000000, "abc")),
    ("none.value", (1700000000, None)),
])
py3("bad_items", [
    ("ok.first", (1700000000, 1)),
    ("no.tuple", 5),
    (7, (1700000000, 1)),
    ("three", (1, 2, 3)),
    ["list", (1, 2)],
    ("ok.last", (1700000001, 2)),
])
py3("many", [("m.%d" % (i % 37), (1700000000 + i, i * 0.5)) for i in range(2500)])
py3("empty", [])
# Not the carbon shape: refused as a whole.
py3("dict", {"a": (1, 2)}, protocols=(2,))
py3("tuple_top", (("a", (1, 2)),), protocols=(2,))
# Python 3 bytes under protocol 2 become a _codecs.encode REDUCE call.
write("bytes_path", [("p2", pickle.dumps([(b"a.b", (1700000000, 1))], protocol=2))], None)
class Evil:
    def __reduce__(self):
        return (os.system, ("true",))
write("evil", [("p2", pickle.dumps([("a", (1, Evil()))], protocol=2))], None)

# Python 2 str paths, as cPickle writes them.
py2 = {
    "p0": b"(lp0\n(S'a.b'\np1\n(I1700000000\nF1.5\ntp2\ntp3\na(S'it\\'s\\x41'\np4\n(L1700000001L\nF-2.0\ntp5\ntp6\na.",
    "p2": b"\x80\x02]q\x00(U\x03a.bq\x01J\x00\xf1SeG?\xf8\x00\x00\x00\x00\x00\x00\x86q\x02\x86q\x03T\x05\x00\x00\x00it'sAq\x04J\x01\xf1SeG\xc0\x00\x00\x00\x00\x00\x00\x00\x86q\x05\x86q\x06e.",
}
objs = [pickle.loads(v, encoding="latin1") for v in py2.values()]
assert objs[0] == objs[1], objs
write("py2", list(py2.items()), objs[0])
