#include "run/histograms.h"

#include <set>

#include <fmt/format.h>

#include "base/histogram.h"

extern "C" {
#include <linux/types.h>
#include "odfbench.h"
}

namespace odfb {
namespace {

const char *const kRoles[ODFB_HIST_ROLES] = {"root", "descendants"};

struct Kind {
	const char *name;
	int id;  // enum hist_kind
};
const Kind kKinds[] = {{"clone", HIST_CLONE},
		       {"copy_page_range", HIST_CPR},
		       {"copy_page_range_tfork", HIST_CPR_TFORK},
		       {"fault_plain", HIST_FAULT_PLAIN},
		       {"fault_page_copy", HIST_FAULT_PAGE_COPY},
		       {"fault_table_copy", HIST_FAULT_TABLE_COPY}};

std::string not_live(const TrialEnv &env, const char *probe)
{
	auto it = env.probe_reason.find(probe);
	return fmt::format("probe {} not live: {}", probe, it == env.probe_reason.end() || it->second.empty() ? "unknown" : it->second);
}

}  // namespace

std::map<std::string, std::string> histograms_missing(const TrialEnv &env)
{
	std::map<std::string, std::string> m;
	if (!env.probe("clone_syscall"))
		m["clone"] = not_live(env, "clone_syscall");
	if (!env.probe("copy_page_range"))
		m["copy_page_range"] = not_live(env, "copy_page_range");
	if (!env.probe("copy_page_range_tfork"))
		m["copy_page_range_tfork"] = not_live(env, "copy_page_range_tfork");
	if (!env.probe("fault_latency")) {
		for (auto *k : {"fault_all", "fault_plain", "fault_page_copy", "fault_table_copy"})
			m[k] = not_live(env, "fault_latency");
		return m;
	}
	OdfVariant v = env.odf ? env.odf->variant : OdfVariant::None;
	const char *table_probe = v == OdfVariant::Paper56 ? "fault_tfork_table_copy" : "fault_table_copy";
	bool table_known = v == OdfVariant::None || env.probe(table_probe);
	if (v == OdfVariant::None)
		m["fault_table_copy"] = "this kernel has no ODF: no fault copies a page table on demand";
	else if (!table_known)
		m["fault_table_copy"] = not_live(env, table_probe);
	// A class whose marker is off would silently hold the other's faults; a
	// table copy is told apart by its own marker whatever the page marker does.
	if (!env.probe("fault_page_copy") || !table_known) {
		std::string why = !env.probe("fault_page_copy") ? not_live(env, "fault_page_copy") : m["fault_table_copy"];
		m["fault_plain"] = "not split from fault_all: " + why;
		m["fault_page_copy"] = "not split from fault_all: " + why;
	}
	return m;
}

nlohmann::json trial_histograms(const TrialEnv &env)
{
	auto missing = histograms_missing(env);
	auto hs = env.hists.read();
	nlohmann::json out = nlohmann::json::object();
	Histogram all[ODFB_HIST_ROLES];
	for (const auto &k : kKinds) {
		for (int role = 0; role < ODFB_HIST_ROLES; ++role) {
			const Histogram &h = hs[k.id * ODFB_HIST_ROLES + role];
			if (k.id >= HIST_FAULT_PLAIN)
				all[role].merge(h);
			if (!missing.count(k.name))
				out[k.name][kRoles[role]] = h.to_json();
		}
	}
	if (!missing.count("fault_all"))
		for (int role = 0; role < ODFB_HIST_ROLES; ++role)
			out["fault_all"][kRoles[role]] = all[role].to_json();
	return out;
}

nlohmann::json cell_histograms(const nlohmann::json &trials, const nlohmann::json &missing)
{
	std::map<std::string, std::map<std::string, Histogram>> merged;
	std::set<std::string> windows;
	size_t n = 0;
	for (const auto &t : trials) {
		if (!t.contains("histograms"))
			continue;
		++n;
		windows.insert(t.value("fault_histogram_window", "trial"));
		for (const auto &[kind, roles] : t["histograms"].items())
			for (const auto &[role, h] : roles.items())
				merged[kind][role].merge(Histogram::from_json(h));
	}
	if (!n)
		return nullptr;
	nlohmann::json kinds = nlohmann::json::object();
	for (const auto &[kind, roles] : merged)
		for (const auto &[role, h] : roles) {
			auto s = h.summary();
			s["buckets"] = h.to_json()["buckets"];
			kinds[kind][role] = s;
		}
	return {{"scheme", fmt::format("log-linear: exact below {} ns, then {} buckets per power of two", ODFB_HIST_SUB, ODFB_HIST_SUB)},
		{"relative_error", kHistRelativeError},
		{"trials", n},
		{"fault_windows", windows},
		{"missing", missing},
		{"kinds", kinds}};
}

}  // namespace odfb
