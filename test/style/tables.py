"""The protocol's tables exist once, in include/handoff/protocol.h: every
copy (the daemon's names, docs/protocol.md, the JavaScript client, the
tests' hfwire.py) must say the same. Fails naming each difference."""
import os
import re
import sys

SRC = os.environ.get("HF_SRCDIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
KIND = {"uint": "u", "string": "s", "bytes": "b"}
# Decoder-internal codes: in the header, never on the wire.
NOT_SENT = {"need_more"}


def read(path):
    with open(os.path.join(SRC, path)) as f:
        return f.read()


def enum(header, prefix):
    """name (lowercase, without the prefix) -> (value, comment)."""
    out = {}
    for name, value, comment in re.findall(r"^\s*" + prefix + r"(\w+) = (\d+),?\s*(?:/\*\s*(.*?)\s*\*/)?$", header,
                                           re.M):
        if name != "MAX" and name != "TYPE_MAX":
            out[name.lower()] = (int(value), comment)
    return out


header = read("include/handoff/protocol.h")
types = {name: v for name, (v, _) in enum(header, "HF_MSG_").items()}
tags = {v: (name, KIND.get(comment.split(":")[0].split(",")[0].strip(), "?"))
        for name, (v, comment) in enum(header, "HF_TAG_").items()}
errors = {v: name for name, (v, _) in enum(header, "HF_ERR_").items()}
errors[0] = "ok"
problems = []


def compare(where, copy, truth, complete):
    for key, value in copy.items():
        if truth.get(key) != value:
            problems.append("%s: %r is %r, protocol.h says %r" % (where, key, value, truth.get(key)))
    if complete:
        for key, value in truth.items():
            if key not in copy:
                problems.append("%s: lacks %r (%r)" % (where, key, value))


# The daemon's names, in enum order.
names = read("src/proto/names.cc")
err_block = names[names.index("err_names["):names.index("type_names")]
compare("src/proto/names.cc err_names", dict(enumerate(re.findall(r'\{"(\w+)",', err_block))), errors, True)

# The spec.
spec = read("docs/protocol.md")
section7 = spec[spec.index("## 7. Error codes"):spec.index("## 8.")]
compare("docs/protocol.md section 7", {int(c): n for c, n in re.findall(r"^\| (\d+) \| (\w+) \|", section7, re.M)},
        {c: n for c, n in errors.items() if n not in NOT_SENT}, True)
tag_table = spec[spec.index("### Tags"):spec.index("## 4.")]
compare("docs/protocol.md tags", {int(t): (n, KIND[k]) for t, n, k in
                                  re.findall(r"^\| (\d+) \| (\w+) \| (\w+)[^|]*\|", tag_table, re.M)}, tags, True)
messages = spec[spec.index("## 4. Messages"):spec.index("### Semantics")]
compare("docs/protocol.md messages", {n.lower(): int(t) for t, n in re.findall(r"^\| (\d+) \| (\w+) \|", messages,
                                                                                 re.M)}, types, True)

# The JavaScript client: the errors all, the types and tags it knows.
js = read("clients/js/src/frames.js")
js_block = lambda name: js[js.index("const " + name):js.index("});" if name != "TAGS" else "};", js.index(name))]
compare("clients/js/src/frames.js ERRORS", {int(c): n for c, n in re.findall(r"(\d+): '(\w+)'", js_block("ERRORS"))},
        {c: n for c, n in errors.items() if c != 0 and n not in NOT_SENT}, True)
compare("clients/js/src/frames.js TYPE", {n.lower(): int(t) for n, t in re.findall(r"(\w+): (\d+)", js_block("TYPE"))},
        types, False)
compare("clients/js/src/frames.js TAGS", {int(t): (n, k) for t, n, k in
                                          re.findall(r"(\d+): \['(\w+)', '(\w)'\]", js_block("TAGS"))}, tags, False)

# The tests' own codec.
sys.path.insert(0, os.path.join(SRC, "test", "integration"))
import hfwire  # noqa: E402

compare("test/integration/hfwire.py TAGS", hfwire.TAGS, tags, True)
compare("test/integration/hfwire.py ERR", {v: k for k, v in hfwire.ERR.items()}, errors, False)
# Its type numbers, and the last one (the hostile test sends types past it).
compare("test/integration/hfwire.py types", {name.lower(): getattr(hfwire, name) for name in dir(hfwire)
                                             if name.lower() in types}, types, True)
type_max = int(re.search(r"HF_MSG_TYPE_MAX = (\d+)", header).group(1))
if hfwire.TYPE_MAX != type_max:
    problems.append("test/integration/hfwire.py: TYPE_MAX is %d, protocol.h says %d" % (hfwire.TYPE_MAX, type_max))

for p in problems:
    print("FAIL " + p)
checks = "error codes, types and tags of protocol.h against names.cc, protocol.md, frames.js and hfwire.py"
print(("%d differences in " % len(problems) if problems else "ok   ") + checks)
sys.exit(1 if problems else 0)
