// `odfbench kernel`: builds (or unpacks) a kernel variant from its committed
// recipe, caches it with its provenance, and resolves a cached variant name
// wherever a kernel image is taken.  The build steps are kernels/build.sh;
// this module owns the cache, the configuration check, progress and failure
// reports.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernel/recipe.h"

namespace odfb {

// $ODFBENCH_CACHE, else $XDG_CACHE_HOME/odfbench, else ~/.cache/odfbench.
std::string odfbench_cache_dir();
// The recipe: $ODFBENCH_KERNELS_DIR, else kernels/ of the source tree.
std::string kernel_recipe_dir();
std::map<std::string, KernelVariant> load_variants();  // throws std::invalid_argument
// Hex SHA-256 of recipe_text() for this variant as committed now.
std::string recipe_hash(const KernelVariant &v);

struct CachedKernel {
	std::string dir;
	nlohmann::json provenance;  // provenance.json: variant, commit, recipe hash, compiler, times
	std::string variant() const { return provenance.value("variant", ""); }
	std::string image() const { return dir + "/bzImage"; }
	std::string btf() const;  // the detached BTF, or "" when the kernel has its own
};
std::vector<CachedKernel> cached_kernels();  // newest first
// The entry of `variant` built from today's recipe (newest such), else the
// newest of any recipe, with `stale` set.
std::optional<CachedKernel> find_cached(const std::string &variant, bool *stale = nullptr);

struct KernelBuildOptions {
	std::string src;       // git URL, clone or bare mirror; "" = the variant's public URL
	int jobs = 0;          // 0: nproc
	bool progress = true;  // a progress line when stderr is a terminal
};
// Builds, or returns the cached entry at once.  Throws std::runtime_error
// with one line saying what failed (the log's tail is printed before).
CachedKernel build_kernel(const KernelVariant &v, const KernelBuildOptions &o);

// A `--kernel` argument: an image path, or a cached variant name.
struct KernelChoice {
	std::string image;
	std::string btf;            // detached BTF to give the guest's --btf ("" if none)
	nlohmann::json provenance;  // null for a plain path
};
KernelChoice resolve_kernel(const std::string &arg);  // throws std::invalid_argument

}  // namespace odfb
