// Kernels as inputs: the recipe of each variant (kernels/variants.json and the
// configuration fragments in kernels/config/), the check that a merged .config
// kept what the fragments asked for, and the cache key of a build.  Pure: no
// process is started here, so all of it is unit-tested.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace odfb {

struct KernelVariant {
	std::string name, description;
	// Built from git (git, ref, optional pinned commit) or unpacked from a
	// Debian package (debian_package, debian_suite).
	std::string git, ref, commit;
	std::string debian_package, debian_suite;
	std::vector<std::string> fragments;  // file names under kernels/config, merged in order
	std::string base = "x86_64_defconfig";  // what the fragments are merged onto: x86_64_defconfig or allnoconfig
	std::string odf_variant;             // what `doctor` must identify on it: patchset-6.0, paper-5.6, none
	std::string btf;                     // "in-kernel" or "pahole" (detached, made from vmlinux)
	std::string cc, hostcflags;          // toolchain quirks the variant needs
	std::vector<std::string> packages;   // Debian packages its build needs beyond the common ones
	int minutes_on_2_cores = 0;          // what to tell the user before a build
	bool from_debian() const { return !debian_package.empty(); }
};

// Parses variants.json; throws std::invalid_argument naming the bad entry.
std::map<std::string, KernelVariant> parse_variants(const nlohmann::json &j);

// CONFIG_X=value lines and "# CONFIG_X is not set" (value "n"); other lines
// are ignored.  Later lines win, as in Kconfig.
std::map<std::string, std::string> parse_kconfig(const std::string &text);

struct KconfigMiss {
	std::string option, wanted, got;  // got: "n" when absent or not set
};
// What the fragments asked for (in order, later wins) that the final .config
// does not have.
std::vector<KconfigMiss> kconfig_unmet(const std::vector<std::string> &fragment_texts, const std::string &final_config);

// Everything that decides what a build produces, besides the source commit:
// the variant's entry, each fragment's text and the build script.  Its hash
// names the cache entry.
std::string recipe_text(const KernelVariant &v, const std::vector<std::pair<std::string, std::string>> &fragments,
			const std::string &build_script);

// "<variant>-<first 12 of commit>-<first 12 of recipe hash>"; a package
// version stands in for the commit of a Debian variant.
std::string cache_entry_name(const std::string &variant, const std::string &commit, const std::string &recipe_hash);

}  // namespace odfb
