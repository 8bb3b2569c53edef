// The paper kernel's syscall 439 is tfork, while glibc >= 2.33 tries 439
// (faccessat2) first in every faccessat() call: libbpf makes such calls, and
// so do shells' `test -r`.  On that kernel each one forks the caller, the
// "child" sees 0 (success) and both copies run on: a fork bomb.  The guard is
// a seccomp filter, inherited by every child and across exec, that fails 439
// with ENOSYS when it carries a path (glibc then falls back to faccessat),
// and lets the argument-less tfork the suite itself makes through.
#pragma once
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "odf/detect.h"

namespace odfb {

// Installs the guard when `odf` is the paper kernel; no-op elsewhere.
// Throws std::runtime_error if the paper kernel is there and the guard
// cannot be installed: running on without it would fork-bomb.
void install_tfork_guard(const OdfInfo &odf);
// The filter itself, whatever the kernel (for tests: it cannot be removed).
void install_tfork_seccomp_filter();
nlohmann::json tfork_guard_json();
// What results record as "odf": the variant, its evidence, and the guard.
nlohmann::json odf_json(const OdfInfo &odf);

}  // namespace odfb
