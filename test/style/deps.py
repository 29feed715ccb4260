"""Dependencies in src/ point one way. A unit is a .cc file and its .h
file; it depends on every unit whose header it includes. This fails, naming
them, on any circle of units, and on any include against the layers below
(a folder may include its own units and those of the folders it lists).
Printing the graph: deps.py --dot."""
import collections
import os
import re
import sys

SRC = os.environ.get("HF_SRCDIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
ROOT = os.path.join(SRC, "src")

# What each folder may include besides itself: the shell on top, then the
# HTTP API over the server part, the server and allocator parts side by
# side, then the connection layer and what every part of the daemon
# shares, then net and proto.
ALLOWED = {
    "proto": set(),
    "net": {"proto"},
    "modules/common": {"proto"},
    "modules/lmdb": {"modules/common", "proto"},
    "modules/redis": {"modules/common", "proto"},
    "modules/memory": {"modules/common", "proto"},
    "modules/heartbeat": {"proto"},
    "client": {"net", "proto"},
    "cli": {"proto"},
    "ctl": {"net", "proto"},
    "core/common": {"proto"},
    "core/wake": {"core/common", "proto"},
    "core/conn": {"core/common", "net", "proto"},
    "core/server": {"core/wake", "core/conn", "core/common", "net", "proto"},
    "core/allocator": {"core/conn", "core/common", "net", "proto"},
    "core/api": {"core/server", "core/wake", "core/conn", "core/common", "net", "proto"},
    "core/box": {"core/allocator", "core/conn", "core/common", "net", "proto"},
    "core/front": {"core/server", "core/wake", "core/allocator", "core/conn", "core/common", "net", "proto"},
    "core/shell": {"core/api", "core/box", "core/front", "core/server", "core/wake", "core/allocator", "core/conn", "core/common", "net", "proto"},
}


def units():
    """unit name ("core/conn/conn") -> its files."""
    out = collections.defaultdict(list)
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith((".cc", ".h")):
                path = os.path.join(folder, name)
                out[os.path.relpath(path, ROOT).rsplit(".", 1)[0]].append(path)
    return out


def folder_of(unit):
    return unit.rsplit("/", 1)[0]


def graph(all_units):
    deps = {}
    for unit, files in all_units.items():
        deps[unit] = set()
        for path in files:
            with open(path) as f:
                for included in re.findall(r'^#include "([^"]+)\.h"', f.read(), re.M):
                    if included in all_units and included != unit:
                        deps[unit].add(included)
    return deps


def circles(deps):
    """Strongly connected components of more than one unit (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(deps[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(deps):
        if v not in index:
            visit(v)
    return found


# The daemon knows a store by what its module says it is (hf_store_ops.traits),
# never by its name: only the config's defaults name one.
STORE_NAME = re.compile(r'"(memory|lmdb|redis)"')
NAMES_ALLOWED = {"core/common/config_keys.cc"}


def store_names():
    """Places in src/core that name a store module: 'file:line'."""
    found = []
    for folder, _, files in os.walk(os.path.join(ROOT, "core")):
        for name in sorted(files):
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, ROOT)
            if rel in NAMES_ALLOWED:
                continue
            with open(path) as f:
                for number, line in enumerate(f, 1):
                    code = line.split("//")[0]
                    if STORE_NAME.search(code):
                        found.append("%s:%d" % (rel, number))
    return found


def main():
    all_units = units()
    deps = graph(all_units)
    if "--dot" in sys.argv:
        print("digraph src {")
        for unit in sorted(deps):
            for d in sorted(deps[unit]):
                print('  "%s" -> "%s";' % (unit, d))
        print("}")
        return 0
    failures = []
    for component in circles(deps):
        failures.append("circle of units: " + ", ".join(component))
    for unit in sorted(deps):
        folder = folder_of(unit)
        if folder not in ALLOWED:
            failures.append("%s: folder %s has no place in the layers (add it to ALLOWED in %s)" %
                            (unit, folder, os.path.basename(__file__)))
            continue
        for d in sorted(deps[unit]):
            if folder_of(d) != folder and folder_of(d) not in ALLOWED[folder]:
                failures.append("%s includes %s: %s may not depend on %s" % (unit, d, folder, folder_of(d)))
    for place in store_names():
        failures.append("%s names a store module; ask its traits (hf_store_is_shared, hf_store_per_worker)" % place)
    for line in failures:
        print("FAIL " + line)
    edges = sum(len(v) for v in deps.values())
    print("%d units, %d dependencies, %d problems" % (len(deps), edges, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
