#include "kernel/cache.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <unistd.h>

#include <fmt/format.h>

#include "base/sysinfo.h"
#include "kernel/steps.h"

namespace fs = std::filesystem;

namespace odfb {

std::string odfbench_cache_dir()
{
	if (const char *c = getenv("ODFBENCH_CACHE"); c && *c)
		return c;
	if (const char *x = getenv("XDG_CACHE_HOME"); x && *x)
		return std::string(x) + "/odfbench";
	const char *home = getenv("HOME");
	return std::string(home && *home ? home : "/root") + "/.cache/odfbench";
}

std::string kernel_recipe_dir()
{
	if (const char *d = getenv("ODFBENCH_KERNELS_DIR"); d && *d)
		return d;
	return std::string(ODFBENCH_SOURCE_DIR) + "/kernels";
}

std::map<std::string, KernelVariant> load_variants()
{
	std::string path = kernel_recipe_dir() + "/variants.json";
	nlohmann::json j;
	try {
		j = nlohmann::json::parse(slurp(path));
	} catch (const std::exception &e) {
		throw std::invalid_argument(fmt::format("{}: {}", path, e.what()));
	}
	return parse_variants(j);
}

std::string recipe_hash(const KernelVariant &v)
{
	std::string dir = kernel_recipe_dir();
	std::vector<std::pair<std::string, std::string>> frags;
	for (const auto &f : v.fragments)
		frags.emplace_back(f, slurp(dir + "/config/" + f));
	std::string text = recipe_text(v, frags, slurp(dir + "/build.sh"));
	std::string tmp = fs::temp_directory_path() / fmt::format("odfbench-recipe-{}", getpid());
	std::ofstream(tmp) << text;
	std::string h = sha256_of_file(tmp);
	fs::remove(tmp);
	return h;
}

std::string CachedKernel::btf() const
{
	return fs::exists(dir + "/vmlinux.btf") ? dir + "/vmlinux.btf" : "";
}

std::vector<CachedKernel> cached_kernels()
{
	std::vector<CachedKernel> out;
	std::error_code ec;
	for (const auto &e : fs::directory_iterator(odfbench_cache_dir() + "/kernels", ec)) {
		std::string prov = e.path() / "provenance.json";
		if (!fs::exists(prov) || !fs::exists(e.path() / "bzImage"))
			continue;  // a build in progress or one that failed
		try {
			out.push_back({e.path().string(), nlohmann::json::parse(slurp(prov))});
		} catch (const std::exception &) {
		}
	}
	std::sort(out.begin(), out.end(), [](const auto &a, const auto &b) {
		return a.provenance.value("built", "") > b.provenance.value("built", "");
	});
	return out;
}

std::optional<CachedKernel> find_cached(const std::string &variant, bool *stale)
{
	std::string want;
	try {
		auto vs = load_variants();
		if (auto it = vs.find(variant); it != vs.end())
			want = recipe_hash(it->second);
	} catch (const std::exception &) {
	}
	std::optional<CachedKernel> any;
	for (auto &k : cached_kernels()) {
		if (k.variant() != variant)
			continue;
		if (!want.empty() && k.provenance.value("recipe_sha256", "") == want) {
			if (stale)
				*stale = false;
			return k;
		}
		if (!any)
			any = k;
	}
	if (stale)
		*stale = any.has_value();
	return any;
}

KernelChoice resolve_kernel(const std::string &arg)
{
	if (fs::exists(arg))
		return {arg, "", nullptr};
	std::map<std::string, KernelVariant> vs;
	try {
		vs = load_variants();
	} catch (const std::exception &) {
	}
	if (!vs.count(arg)) {
		std::string names;
		for (auto &[n, _] : vs)
			names += (names.empty() ? "" : ", ") + n;
		throw std::invalid_argument(fmt::format("--kernel {}: no such file, and not a kernel variant ({})", arg, names));
	}
	bool stale = false;
	auto k = find_cached(arg, &stale);
	if (!k)
		throw std::invalid_argument(fmt::format("--kernel {}: not built yet (odfbench kernel build {})", arg, arg));
	if (stale)
		fmt::print(stderr, "kernel: using {} built from an older recipe ({}); `odfbench kernel build {}` brings it up to date\n",
			   arg, k->dir, arg);
	return {k->image(), k->btf(), k->provenance};
}

}  // namespace odfb
