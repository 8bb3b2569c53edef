// Which ODF kernel variant is running, identified positively (docs/odf-kernels.md §2):
// /proc/self/use_odf must exist AND an ODF-only kernel function must exist.
// Never probes prctl(65) or syscall 439: on mainline those are PR_SET_MDWE and
// faccessat2, and a 0 from them proves nothing.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace odfb {

enum class OdfVariant { None, Patchset60, Paper56 };

const char *variant_name(OdfVariant v);

struct OdfInfo {
	OdfVariant variant = OdfVariant::None;
	bool use_odf_present = false;
	std::vector<std::string> evidence;   // what was checked and what it showed
	std::vector<std::string> functions;  // ODF-only functions found

	// mm->flags bit that says "ODF in effect" for this variant, or -1.
	int active_flag_bit() const;
	nlohmann::json to_json() const;
};

// Where detection looks; tests point these at fixture trees.
struct DetectPaths {
	std::string proc = "/proc";
	std::string kallsyms = "/proc/kallsyms";
	std::string btf = "/sys/kernel/btf/vmlinux";
};

OdfInfo detect_odf(const DetectPaths &paths = {});

}  // namespace odfb
