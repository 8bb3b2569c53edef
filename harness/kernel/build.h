// `odfbench kernel build`: builds (or unpacks) a kernel variant from its
// committed recipe into the cache (kernel/cache.h) with its provenance.  The
// build steps are kernels/build.sh; this module runs them and owns the
// configuration check, progress and failure reports.
#pragma once
#include <string>

#include "kernel/cache.h"
#include "kernel/recipe.h"

namespace odfb {

struct KernelBuildOptions {
	std::string src;       // git URL, clone or bare mirror; "" = the variant's public URL
	int jobs = 0;          // 0: nproc
	bool progress = true;  // a progress line when stderr is a terminal
};
// Builds, or returns the cached entry at once.  Throws std::runtime_error
// with one line saying what failed (the log's tail is printed before).
CachedKernel build_kernel(const KernelVariant &v, const KernelBuildOptions &o);

}  // namespace odfb
