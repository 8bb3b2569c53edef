// Reading results files for compare and report: JSON with a clear error,
// shard files merged back into one run, and where each run ran.
#include "compare/compare.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace odfb {

namespace {

// "2/3" -> {2, 3}
std::pair<int, int> shard_of(const nlohmann::json &run)
{
	std::string s = run["selection"]["shard"];
	return {std::stoi(s.substr(0, s.find('/'))), std::stoi(s.substr(s.find('/') + 1))};
}

// Which of two files of the same shard to keep: a complete run over one that
// was not (a failed or cancelled task, then its rerun), else the later start.
bool prefer(const nlohmann::json &a, const nlohmann::json &b)
{
	bool ca = a["run"].value("status", "") == "complete", cb = b["run"].value("status", "") == "complete";
	if (ca != cb)
		return ca;
	return a["run"].value("started", "") >= b["run"].value("started", "");
}

std::string cells_text(const std::vector<int> &cells)
{
	return cells.empty() ? "none" : fmt::format("{}", fmt::join(cells, ", "));
}

}  // namespace

std::vector<std::pair<std::string, nlohmann::json>> merge_shards(const std::vector<std::string> &paths,
								 const std::vector<nlohmann::json> &docs)
{
	struct Group {
		size_t slot;                          // index in out
		std::map<int, size_t> by_shard;       // shard I -> index in docs
		std::vector<nlohmann::json> replaced;
	};
	std::vector<std::pair<std::string, nlohmann::json>> out;
	std::map<std::string, Group> groups;  // same spec, kernel, ODF variant and N
	for (size_t i = 0; i < docs.size(); ++i) {
		const auto &run = docs[i]["run"];
		bool shard = run.contains("selection") && run["selection"].value("shard", nlohmann::json()).is_string();
		if (!shard) {
			out.emplace_back(paths[i], docs[i]);
			continue;
		}
		auto [idx, n] = shard_of(run);
		// Each shard names its own output file; the rest of the spec is the same.
		nlohmann::json spec = run["spec"];
		if (spec.is_object())
			spec.erase("output");
		std::string k = spec.dump() + "|" + run["kernel"].value("release", "") + "|" + run["odf"].value("variant", "") + "|" +
				std::to_string(n);
		auto it = groups.find(k);
		if (it == groups.end()) {
			it = groups.emplace(k, Group{out.size(), {}, {}}).first;
			out.emplace_back("", nullptr);
		}
		auto &g = it->second;
		auto seen = g.by_shard.find(idx);
		if (seen == g.by_shard.end()) {
			g.by_shard[idx] = i;
			continue;
		}
		size_t keep = prefer(docs[i], docs[seen->second]) ? i : seen->second, drop = keep == i ? seen->second : i;
		g.replaced.push_back({{"shard", run["selection"]["shard"]}, {"kept", paths[keep]}, {"dropped", paths[drop]},
				      {"dropped_status", docs[drop]["run"].value("status", "?")}});
		seen->second = keep;
	}
	for (auto &[k, g] : groups) {
		std::string label;
		nlohmann::json merged;
		for (auto [idx, i] : g.by_shard) {
			const auto &d = docs[i];
			if (merged.is_null()) {
				merged = d;
				merged["results"] = nlohmann::json::array();
				merged["run"]["shards"] = nlohmann::json::array();
				label = paths[i];
			} else
				label += "+" + std::filesystem::path(paths[i]).filename().string();
			for (const auto &r : d["results"])
				merged["results"].push_back(r);
			merged["run"]["shards"].push_back({{"path", paths[i]}, {"shard", d["run"]["selection"]["shard"]}, {"host", d["run"]["host"]}});
			if (d["run"].value("status", "") != "complete")
				merged["run"]["status"] = d["run"]["status"];
		}
		auto &rs = merged["results"];
		std::stable_sort(rs.begin(), rs.end(), [](const auto &x, const auto &y) { return x.value("cell", 0) < y.value("cell", 0); });
		if (!g.replaced.empty())
			merged["run"]["shards_replaced"] = g.replaced;
		// What is missing: whole shards, and cells a given shard planned but has
		// no result for (a task killed midway).  Every shard file lists every
		// shard's cells (run.selection.shard_cells).
		int n = shard_of(merged["run"]).second;
		const auto &sel = merged["run"]["selection"];
		int total = sel.contains("total_cells") && sel["total_cells"].is_number() ? sel["total_cells"].get<int>() : -1;
		std::set<int> have;
		for (const auto &r : rs)
			if (r.contains("cell") && r["cell"].is_number())
				have.insert(r["cell"].get<int>());
		std::vector<std::string> said;
		nlohmann::json detail = nlohmann::json::array();
		// Builds before cell groups wrote no shard_cells: their shards were I-1 modulo N.
		bool listed = sel.contains("shard_cells") && sel["shard_cells"].is_array() && sel["shard_cells"].size() == static_cast<size_t>(n);
		for (int i = 1; i <= n; ++i) {
			std::vector<int> cells;
			if (listed) {
				for (const auto &c : sel["shard_cells"][i - 1])
					if (!have.count(c.get<int>()))
						cells.push_back(c.get<int>());
			} else
				for (int c = i - 1; total >= 0 && c < total; c += n)
					if (!have.count(c))
						cells.push_back(c);
			bool given = g.by_shard.count(i);
			if (given && cells.empty())
				continue;
			detail.push_back({{"shard", fmt::format("{}/{}", i, n)}, {"given", given}, {"cells", cells}});
			said.push_back(fmt::format("shard {}/{} {} (cells {})", i, n, given ? "incomplete" : "missing",
						   listed || total >= 0 ? cells_text(cells) : "unknown: the files do not say the spec's total"));
		}
		if (!said.empty()) {
			merged["run"]["shards_missing"] = fmt::format("{} of {} shards given; {}", g.by_shard.size(), n, fmt::join(said, "; "));
			merged["run"]["shards_missing_detail"] = detail;
		}
		out[g.slot] = {label, merged};
	}
	return out;
}

nlohmann::json parse_json_file(const std::string &path)
{
	std::ifstream in(path);
	if (!in)
		throw std::invalid_argument(fmt::format("{}: cannot open", path));
	try {
		return nlohmann::json::parse(in);
	} catch (const nlohmann::json::parse_error &e) {
		throw std::invalid_argument(fmt::format("{}: not valid JSON ({})", path, e.what()));
	}
}

nlohmann::json load_results(const std::string &path)
{
	nlohmann::json doc = parse_json_file(path);
	if (!doc.is_object() || !doc.contains("results") || !doc["results"].is_array() || !doc.contains("run"))
		throw std::invalid_argument(fmt::format("{}: not an odfbench results file (no run/results)", path));
	return doc;
}

nlohmann::json run_environment(const nlohmann::json &doc)
{
	nlohmann::json run = doc.value("run", nlohmann::json::object());
	nlohmann::json host = run.value("host", nlohmann::json::object());
	nlohmann::json vm = nullptr;
	if (run.contains("environment") && run["environment"].is_object())
		vm = run["environment"].value("vm", nlohmann::json(nullptr));
	nlohmann::json env = {{"accelerator", "host"}};
	if (vm.is_object())
		env["accelerator"] = vm.contains("accelerator") && vm["accelerator"].is_string() ? vm["accelerator"].get<std::string>() : "?";
	else if (!vm.is_null())
		env["accelerator"] = "?";
	auto copy = [&](const char *key, const nlohmann::json &from, const char *as) {
		env[as] = from.is_object() && from.contains(key) ? from[key] : nlohmann::json(nullptr);
	};
	copy("cpu_model", host, "cpu_model");
	copy("cpus_online", host, "cpus_online");
	copy("mem_total_bytes", host, "mem_total_bytes");
	// The physical machine: the VM's host when the run was in a guest.
	if (vm.is_object() && vm.contains("host") && vm["host"].is_object())
		copy("cpu_model", vm["host"], "machine_cpu_model");
	else
		env["machine_cpu_model"] = env["cpu_model"];
	return env;
}

std::vector<std::string> environment_differences(const nlohmann::json &base, const nlohmann::json &other)
{
	std::vector<std::string> d;
	auto str = [](const nlohmann::json &j) { return j.is_string() ? j.get<std::string>() : j.dump(); };
	auto where = [](const nlohmann::json &acc) {
		std::string a = acc.is_string() ? acc.get<std::string>() : "?";
		return a == "host" ? std::string("host (no VM)") : a == "?" ? std::string("VM, accelerator unknown") : "QEMU " + a;
	};
	if (base["accelerator"] != other["accelerator"])
		d.push_back(fmt::format("accelerator: {} vs {}", where(base["accelerator"]), where(other["accelerator"])));
	const auto &c0 = base["cpus_online"], &c1 = other["cpus_online"];
	if (!c0.is_null() && !c1.is_null() && c0 != c1)
		d.push_back(fmt::format("CPUs: {} vs {}", str(c0), str(c1)));
	const auto &m0 = base["cpu_model"], &m1 = other["cpu_model"];
	if (!m0.is_null() && !m1.is_null() && m0 != m1)
		d.push_back(fmt::format("CPU model: {} vs {}", str(m0), str(m1)));
	const auto &p0 = base["machine_cpu_model"], &p1 = other["machine_cpu_model"];
	if (!p0.is_null() && !p1.is_null() && p0 != p1 && !(p0 == m0 && p1 == m1))
		d.push_back(fmt::format("machine: {} vs {}", str(p0), str(p1)));
	// MemTotal moves by a few MB between kernels on the same machine.
	const auto &b0 = base["mem_total_bytes"], &b1 = other["mem_total_bytes"];
	if (b0.is_number() && b1.is_number()) {
		double x = b0.get<double>(), y = b1.get<double>();
		if (std::fabs(x - y) > kMemoryTolerance * std::max(x, y))
			d.push_back(fmt::format("memory: {:.1f} GiB vs {:.1f} GiB", x / (1 << 30), y / (1 << 30)));
	}
	return d;
}


}  // namespace odfb
