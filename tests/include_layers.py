#!/usr/bin/env python3
"""The harness's layering (docs/architecture.md), checked on the source.

harness/ has one folder per layer.  A folder may include headers only from
the folders listed for it in ALLOWED (and its own); workloads/ and checks/ are
checked the same way.  Inside and across folders: no include cycle between
modules (a module is a .h and its .cpp), leaf headers include nothing of ours,
and the modules that only some layers may use are used only there."""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
harness = os.path.join(root, "harness")

# The pipeline bottom-up: base (host facts, processes, sizes), record (results
# files and the per-cell stream), odf/probe/run (detect, enable, probe, run: one
# library, CMakeLists.txt), then the side commands, and cli on top.
ALLOWED = {
    "base": set(),
    "record": {"base"},
    "kernel": {"base"},
    "odf": {"base", "probe", "run"},
    "probe": {"base", "odf"},
    "run": {"base", "odf", "probe", "record"},
    "compare": {"base", "run/workload_metric"},  # a module name: that header alone
    "check": {"base", "odf", "run", "record"},
    "overhead": {"base", "probe", "run"},
    "vm": {"base", "kernel"},  # about guests only: the commands it carries say how they split and resume
    "cli": {"base", "record", "kernel", "odf", "probe", "run", "compare", "check", "overhead", "vm"},
    "workloads": {"base", "odf", "probe", "run"},
    "checks": {"base", "odf", "run", "check"},
}
LEAVES = {"run/mode", "run/folio", "odf/abi", "base/sizes", "base/stats", "base/sysinfo", "base/supervise", "base/version",
          "record/results_file", "vm/cpio", "odf/detect", "probe/proc_table", "run/workload_metric", "kernel/recipe"}
# module -> the only folders or modules (besides itself) allowed to include it.
ONLY = {
    "run/runner": {"cli"},
    "vm/vm": {"cli"},
    "probe/probes": {"cli", "run/runner", "overhead/overhead", "overhead/report"},
    # not compare: it reads results files, never the registry
    "run/workload": {"cli", "workloads", "run/runner", "run/spec", "run/fork_trial"},
}


def module_of(path):
    rel = os.path.relpath(path, root)
    top = rel.split(os.sep)[0]
    if top in ("workloads", "checks"):
        return top + "/" + os.path.splitext(os.path.basename(rel))[0]
    return os.path.splitext(os.path.relpath(path, harness))[0].replace(os.sep, "/")


def folder_of(module):
    return module.split("/")[0]


files = []
for base in ("harness", "workloads", "checks"):
    for d, _, names in os.walk(os.path.join(root, base)):
        files += [os.path.join(d, n) for n in names if n.endswith((".h", ".cpp"))]
modules = {module_of(f) for f in files}
edges = {m: set() for m in modules}
header_edges = {m: set() for m in modules}
errors = []
for f in files:
    m = module_of(f)
    if folder_of(m) not in ALLOWED:
        errors.append(f"{os.path.relpath(f, root)}: folder {folder_of(m)}/ has no layer in ALLOWED")
        continue
    for inc in re.findall(r'^#include "([^"]+)"', open(f).read(), re.M):
        if inc.startswith("../checks/"):
            target = "checks/" + os.path.splitext(os.path.basename(inc))[0]
        elif "/" in inc:
            target = os.path.splitext(inc)[0]
        else:  # a header beside the file
            target = folder_of(m) + "/" + os.path.splitext(inc)[0]
        if target not in modules:
            continue  # bpf/ headers, skeletons, generated files
        if target == m:
            continue
        edges[m].add(target)
        if f.endswith(".h"):
            header_edges[m].add(target)
        src, dst = folder_of(m), folder_of(target)
        if src != dst and dst not in ALLOWED[src] and target not in ALLOWED[src]:
            errors.append(f"{os.path.relpath(f, root)} includes {inc}: {src}/ may include only {sorted(ALLOWED[src]) or 'nothing of ours'}")
        if target in ONLY and not ({m, src} & ONLY[target]):
            errors.append(f"{m} includes {target}.h, which only {sorted(ONLY[target])} may use")

for leaf in LEAVES:
    if leaf not in modules:
        errors.append(f"leaf {leaf} does not exist (update LEAVES)")
    elif header_edges[leaf]:
        errors.append(f"{leaf}.h is a leaf but includes {sorted(header_edges[leaf])}")

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
folders = sorted({folder_of(m) for m in modules})
print(f"include_layers: {len(folders)} folders, {len(modules)} modules, {sum(map(len, edges.values()))} edges, {len(errors)} problems")
sys.exit(1 if errors else 0)
