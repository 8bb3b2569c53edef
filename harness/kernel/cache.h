// The kernel cache: where built and unpacked kernels live
// (~/.cache/odfbench/kernels/<variant>-<commit>-<recipe hash>), the committed
// recipe they are built from, and the resolution of a `--kernel` argument
// (an image path or a cached variant name).  kernel/build.h makes entries.
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

// A `--kernel` argument: an image path, or a cached variant name.
struct KernelChoice {
	std::string image;
	std::string btf;            // detached BTF to give the guest's --btf ("" if none)
	nlohmann::json provenance;  // null for a plain path
};
KernelChoice resolve_kernel(const std::string &arg);  // throws std::invalid_argument

}  // namespace odfb
