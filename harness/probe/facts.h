// What this kernel offers each probe -- kallsyms, BTF, tracefs events and a
// test fentry attach -- gathered here, and handed to the pure choice
// (probe_choice.h).  The loader (probes.cpp) loads what was chosen.
#pragma once
#include <string>
#include <vector>

#include "odf/detect.h"
#include "probe/choice.h"

struct btf;

namespace odfb {

// The first fentry test attach stands for the kernel in the capabilities.
struct FentryCap {
	bool tested = false;
	std::string err;
};

struct AllowedMechanisms {
	bool fentry = true, kprobe = true, tp_btf = true;
};

std::vector<ProbeChoice> choose_all(const OdfInfo &odf, const AllowedMechanisms &opts, const btf *vmlinux, FentryCap &cap);

}  // namespace odfb
