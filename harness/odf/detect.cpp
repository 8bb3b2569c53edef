#include "odf/detect.h"

#include <cerrno>
#include <cstring>
#include <set>
#include <sys/stat.h>

#include <bpf/btf.h>
#include "odf/kallsyms.h"
#include "odf/abi.h"
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace odfb {

namespace {
const std::vector<std::string> kPatchsetFns = {"handle_cow_pte", "cow_pte_fallback"};
const std::vector<std::string> kPaperFns = {"tfork_one_pte_table", "copy_page_range_tfork", "__x64_sys_tfork"};

std::set<std::string> btf_lookup(const std::string &path, const std::vector<std::string> &wanted, bool &readable)
{
	std::set<std::string> found;
	struct stat st;
	readable = stat(path.c_str(), &st) == 0;
	if (!readable)
		return found;
	struct btf *btf = btf__parse(path.c_str(), nullptr);
	if (!btf) {
		readable = false;
		return found;
	}
	for (const auto &w : wanted)
		if (btf__find_by_name_kind(btf, w.c_str(), BTF_KIND_FUNC) > 0)
			found.insert(w);
	btf__free(btf);
	return found;
}
}  // namespace

const char *variant_name(OdfVariant v)
{
	switch (v) {
	case OdfVariant::Patchset60: return "patchset-6.0";
	case OdfVariant::Paper56: return "paper-5.6";
	default: return "none";
	}
}

int OdfInfo::active_flag_bit() const
{
	switch (variant) {
	case OdfVariant::Patchset60: return abi::kMmfCowPte;
	case OdfVariant::Paper56: return abi::kMmfTfork;
	default: return -1;
	}
}

nlohmann::json OdfInfo::to_json() const
{
	return {{"variant", variant_name(variant)},
		{"use_odf_present", use_odf_present},
		{"functions", functions},
		{"evidence", evidence}};
}

OdfInfo detect_odf(const DetectPaths &p)
{
	OdfInfo info;
	std::string use_odf = p.proc + "/self/use_odf";
	struct stat st;
	if (stat(use_odf.c_str(), &st) == 0) {
		info.use_odf_present = true;
		info.evidence.push_back(fmt::format("{} exists", use_odf));
	} else {
		info.evidence.push_back(fmt::format("{} absent ({})", use_odf, std::strerror(errno)));
	}

	std::vector<std::string> all = kPatchsetFns;
	all.insert(all.end(), kPaperFns.begin(), kPaperFns.end());
	bool btf_ok = false;
	auto in_ks = find_text_symbols(p.kallsyms, std::set<std::string>(all.begin(), all.end()));
	auto in_btf = btf_lookup(p.btf, all, btf_ok);
	if (!in_ks.readable)
		info.evidence.push_back(fmt::format("{} unreadable", p.kallsyms));
	if (!btf_ok)
		info.evidence.push_back(fmt::format("{} unavailable", p.btf));

	auto found_any = [&](const std::vector<std::string> &fns) {
		bool any = false;
		for (const auto &f : fns) {
			std::vector<std::string> where;
			if (in_ks.has(f))
				where.push_back("kallsyms");
			if (in_btf.count(f))
				where.push_back("BTF");
			if (!where.empty()) {
				info.functions.push_back(f);
				info.evidence.push_back(fmt::format("{} found in {}", f, fmt::join(where, " and ")));
				any = true;
			}
		}
		return any;
	};
	bool patchset = found_any(kPatchsetFns);
	bool paper = found_any(kPaperFns);
	if (!patchset && !paper)
		info.evidence.push_back(fmt::format("none of {} found", fmt::join(all, ", ")));

	if (info.use_odf_present && patchset && !paper)
		info.variant = OdfVariant::Patchset60;
	else if (info.use_odf_present && paper && !patchset)
		info.variant = OdfVariant::Paper56;
	else if (patchset && paper)
		info.evidence.push_back("functions of both variants present: refusing to guess");
	else if (info.use_odf_present)
		info.evidence.push_back("use_odf exists but no ODF function: not positively identified");
	else if (patchset || paper)
		info.evidence.push_back("ODF functions without use_odf: not positively identified");
	info.evidence.push_back("prctl(65) and syscall 439 are never probed: on mainline they are PR_SET_MDWE and faccessat2");
	return info;
}

}  // namespace odfb
