#!/usr/bin/env python3
"""The harness's layering (docs/architecture.md), checked on the source: no
include cycle between modules (a module is a .h and its .cpp), leaf headers
include nothing of ours, and the
modules that only the command line may use are used only there."""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
harness = os.path.join(root, "harness")
LEAVES = {"mode", "folio", "odf_abi", "sizes", "stats", "sysinfo", "supervise", "results_file", "cpio", "odf_detect", "proc_table", "workload_metric", "kernel_recipe"}
# module -> the only modules (besides itself) allowed to include it; "cli" means main.cpp and cli/*.
ONLY = {
    "runner": {"cli"},
    "vm": {"cli"},
    "probes": {"cli", "runner", "overhead", "overhead_report"},
    "workload": {"cli", "runner", "spec", "fork_trial"},  # not compare: it reads results files, never the registry
}

def module_of(path):
    rel = os.path.relpath(path, harness)
    if rel.startswith("cli" + os.sep) or rel == "main.cpp":
        return "cli"
    return os.path.splitext(rel)[0]

files = []
for d, _, names in os.walk(harness):
    files += [os.path.join(d, n) for n in names if n.endswith((".h", ".cpp"))]
modules = {module_of(f) for f in files}
edges = {m: set() for m in modules}
header_edges = {m: set() for m in modules}  # what a module's header pulls into everyone who includes it
for f in files:
    for inc in re.findall(r'^#include "([^"]+)"', open(f).read(), re.M):
        target = os.path.splitext(os.path.basename(inc))[0]
        if target in modules and target != module_of(f):
            edges[module_of(f)].add(target)
            if f.endswith(".h"):
                header_edges[module_of(f)].add(target)

errors = []
for leaf in LEAVES & modules:
    if header_edges[leaf]:
        errors.append(f"{leaf}.h is a leaf but includes {sorted(header_edges[leaf])}")
for m, deps in edges.items():
    for d in deps:
        if d in ONLY and m not in ONLY[d]:
            errors.append(f"{m} includes {d}.h, which only {sorted(ONLY[d])} may use")

# Cycles: depth-first search with colours.
colour, stack = {}, []
def visit(m):
    colour[m] = "grey"
    stack.append(m)
    for d in sorted(edges[m]):
        if colour.get(d) == "grey":
            errors.append("include cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
        elif d not in colour:
            visit(d)
    stack.pop()
    colour[m] = "black"
for m in sorted(modules):
    if m not in colour:
        visit(m)

for e in errors:
    print("FAIL:", e)
print(f"include_layers: {len(modules)} modules, {sum(map(len, edges.values()))} edges, {len(errors)} problems")
sys.exit(1 if errors else 0)
