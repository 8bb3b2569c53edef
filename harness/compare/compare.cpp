// compare_runs: fork against ODF (or a strategy) within each results file, and
// the same cells across files and kernels.
#include "compare/compare.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/stats.h"
#include "run/workload_metric.h"

namespace odfb {

namespace {

struct Cell {
	std::string kernel;  // in an A/B document, the kernel the cell ran on
	std::string workload, params, size, mode, status, reason, metric, unit;
	bool higher_is_better = false;
	std::vector<double> samples;
};

// Results files written before cells carried their metric descriptors: the
// headline metrics those builds had, with their meaning.  Nothing newer is
// added here; a cell with descriptors never reads this.
const std::map<std::string, Metric> &legacy_headlines()
{
	static const std::map<std::string, Metric> m = {
		{"fork-latency", Metric::ns("fork_ns")},      {"thp", Metric::ns("fork_ns")},
		{"vma-sweep", Metric::ns("fork_ns")},         {"concurrent-fork", Metric::ns("fork_ns")},
		{"post-fork-access", Metric::ns("total_ns")}, {"fork-rate", Metric::rate("forks_per_s")},
		{"fuzz", Metric::rate("execs_per_s")},        {"redis-snapshot", Metric::us("latest_fork_usec")},
	};
	return m;
}

// The cell's headline: the first described metric its trials carry.
std::optional<Metric> headline(const nlohmann::json &r)
{
	std::vector<Metric> described;
	if (r.contains("metrics") && r["metrics"].is_array()) {
		for (const auto &m : r["metrics"])
			described.push_back({m.value("name", ""), m.value("unit", ""), m.value("better", "lower") == "higher"});
	} else if (auto it = legacy_headlines().find(r["workload"].get<std::string>()); it != legacy_headlines().end()) {
		described.push_back(it->second);
	} else if (r["workload"] == "external") {
		auto spec = r["params"].value("metric", nlohmann::json::object());
		described.push_back({"metric", spec.value("name", ""), spec.value("higher_is_better", false)});
	}
	for (const auto &m : described)
		for (const auto &t : r["trials"])
			if (t.contains(m.name) && t[m.name].is_number())
				return m;
	return std::nullopt;
}

std::vector<Cell> cells_of(const nlohmann::json &doc)
{
	std::vector<Cell> cells;
	for (const auto &r : doc["results"]) {
		Cell c;
		c.kernel = r.value("kernel", "");
		c.workload = r["workload"];
		nlohmann::json p = r["params"];
		c.size = p.value("size", "");
		p.erase("size");
		c.params = p.empty() ? "" : p.dump();
		c.mode = r["mode"];
		c.status = r["status"];
		c.reason = r.value("reason", "");
		if (auto h = c.status == "ok" ? headline(r) : std::nullopt) {
			c.metric = h->name;
			c.unit = h->unit;
			c.higher_is_better = h->higher_is_better;
			for (const auto &t : r["trials"])
				if (t.contains(c.metric) && t[c.metric].is_number())
					c.samples.push_back(t[c.metric].get<double>());
		}
		cells.push_back(std::move(c));
	}
	return cells;
}


std::string label_of(const std::string &path, const nlohmann::json &doc)
{
	const auto &run = doc["run"];
	std::string vm;
	if (run.contains("environment") && run["environment"].contains("vm") && run["environment"]["vm"].is_object())
		vm = fmt::format(", VM {}", run["environment"]["vm"].value("accelerator", "?"));
	return fmt::format("{} ({} {}{})", std::filesystem::path(path).filename().string(), run["kernel"].value("release", "?"),
			   run["odf"].value("variant", "?"), vm);
}

// Each cell of kernel B (and C, ...) against kernel A, the boot the unit:
// one median per boot of the cell's headline metric (merge_ab keeps them).
std::vector<nlohmann::json> kernel_ab_rows(const nlohmann::json &doc)
{
	std::vector<nlohmann::json> rows;
	if (!doc["run"].contains("ab"))
		return rows;
	auto order = doc["run"]["ab"]["kernels"].get<std::vector<std::string>>();
	if (order.size() < 2)
		return rows;
	auto key = [](const nlohmann::json &r) {
		nlohmann::json p = r["params"];
		p.erase("size");
		p.erase("size_bytes");
		return r["workload"].get<std::string>() + "|" + p.dump() + "|" + r["params"].value("size", "") + "|" + r["mode"].get<std::string>();
	};
	auto boot_medians = [](const nlohmann::json &r) {
		std::vector<double> v;
		for (const auto &b : r.value("boots", nlohmann::json::array()))
			if (b.value("status", "") == "ok" && b.contains("median"))
				v.push_back(b["median"].get<double>());
		return v;
	};
	for (const auto &a : doc["results"]) {
		if (a.value("kernel", "") != order[0])
			continue;
		for (size_t k = 1; k < order.size(); ++k)
			for (const auto &b : doc["results"]) {
				if (b.value("kernel", "") != order[k] || key(a) != key(b))
					continue;
				auto h = headline(a);
				nlohmann::json p = a["params"];
				p.erase("size");
				p.erase("size_bytes");
				nlohmann::json row = {{"workload", a["workload"]}, {"params", p.empty() ? "" : p.dump()}, {"size", a["params"].value("size", "")},
						      {"mode", a["mode"]}, {"kernel_a", order[0]}, {"kernel_b", order[k]},
						      {"metric", a.value("boot_metric", h ? h->name : "")}, {"unit", h ? h->unit : ""}};
				auto ma = boot_medians(a), mb = boot_medians(b);
				row["a_boot_medians"] = ma;
				row["b_boot_medians"] = mb;
				row["ratio"] = to_json(boot_ratio(ma, mb));
				rows.push_back(row);
			}
	}
	return rows;
}

// Fork vs ODF on the latency tails: the cells' merged histograms
// (run/histograms.h), per role, for the faults and the clone, where both
// sides have kMinTailSamples (and ten times that for a p99.9).
constexpr uint64_t kMinTailSamples = 100;
std::vector<nlohmann::json> tail_rows(const nlohmann::json &doc, size_t run)
{
	std::vector<nlohmann::json> rows;
	auto same_cell = [](const nlohmann::json &a, const nlohmann::json &b) {
		return a.value("kernel", "") == b.value("kernel", "") && a["workload"] == b["workload"] && a["params"] == b["params"];
	};
	for (const auto &f : doc["results"]) {
		if (f["mode"] != "fork" || f["status"] != "ok" || !f.contains("histograms"))
			continue;
		for (const auto &o : doc["results"]) {
			std::string mode = o["mode"];
			if ((mode != "odf" && mode != "odf-procfs") || o["status"] != "ok" || !o.contains("histograms") || !same_cell(f, o))
				continue;
			const auto &fk = f["histograms"]["kinds"], &ok = o["histograms"]["kinds"];
			for (const char *kind : {"fault_all", "clone"}) {
				if (!fk.contains(kind) || !ok.contains(kind))
					continue;
				for (const auto &[role, fs] : fk[kind].items()) {
					if (!ok[kind].contains(role) || !fs.contains("p99_ns") || !ok[kind][role].contains("p99_ns"))
						continue;
					const auto &os = ok[kind][role];
					// A p99 of fewer than 100 samples is their maximum, not a tail.
					if (fs["count"].get<uint64_t>() < kMinTailSamples || os["count"].get<uint64_t>() < kMinTailSamples)
						continue;
					nlohmann::json row = {{"run", run}, {"workload", f["workload"]}, {"size", f["params"].value("size", "")},
							      {"mode", mode}, {"kind", kind}, {"role", role},
							      {"fault_windows", o["histograms"].value("fault_windows", nlohmann::json::array())}};
					for (const char *q : {"count", "p50_ns", "p99_ns", "p999_ns", "max_ns"}) {
						row["fork"][q] = fs.value(q, nlohmann::json());
						row["odf"][q] = os.value(q, nlohmann::json());
					}
					row["p99_ratio"] = os["p99_ns"].get<double>() / fs["p99_ns"].get<double>();
					if (fs["count"].get<uint64_t>() >= 10 * kMinTailSamples && os["count"].get<uint64_t>() >= 10 * kMinTailSamples)
						row["p999_ratio"] = os["p999_ns"].get<double>() / fs["p999_ns"].get<double>();
					else
						row["fork"]["p999_ns"] = row["odf"]["p999_ns"] = nullptr;
					if (std::string(kind) == "fault_all" && ok.contains("fault_table_copy") && ok["fault_table_copy"].contains(role))
						row["odf_table_copy"] = ok["fault_table_copy"][role];
					row["relative_error"] = o["histograms"].value("relative_error", 0.0);
					rows.push_back(row);
				}
			}
		}
	}
	return rows;
}

}  // namespace

nlohmann::json compare_runs(const std::vector<std::string> &paths, const std::vector<nlohmann::json> &docs)
{
	nlohmann::json out = {{"runs", nlohmann::json::array()}, {"within", nlohmann::json::array()}, {"across", nlohmann::json::array()}};
	std::vector<std::vector<Cell>> all;
	std::vector<std::vector<std::string>> differs(docs.size());
	for (size_t i = 0; i < docs.size(); ++i) {
		nlohmann::json r = {{"path", paths[i]}, {"label", label_of(paths[i], docs[i])}, {"status", docs[i]["run"].value("status", "?")},
				    {"environment", run_environment(docs[i])}};
		if (i > 0) {
			differs[i] = environment_differences(out["runs"][0]["environment"], r["environment"]);
			r["environment_differs"] = differs[i];
		}
		out["runs"].push_back(r);
		all.push_back(cells_of(docs[i]));
	}
	// fork (4K pages) against each other strategy, inside each run: ODF, the
	// folio sizes, uffd-wp, vfork, posix-spawn ("odf" holds that strategy's median)
	for (size_t i = 0; i < all.size(); ++i)
		for (const auto &f : all[i]) {
			if (f.mode != "fork")
				continue;
			for (const auto &o : all[i]) {
				if (o.mode == "fork" || o.status == "not-applicable" || o.kernel != f.kernel || o.workload != f.workload || o.params != f.params || o.size != f.size)
					continue;
				nlohmann::json row = {{"run", i},      {"workload", f.workload}, {"params", f.params}, {"size", f.size},
						      {"mode", o.mode}, {"metric", f.metric},     {"unit", f.unit}, {"higher_is_better", f.higher_is_better}};
				if (!f.kernel.empty())
					row["kernel"] = f.kernel;
				if (f.status == "ok")
					row["fork"] = median_json(f.samples);  // shown even when the ODF side was not measured
				if (f.status != "ok" || o.status != "ok") {
					row["unavailable"] = f.status != "ok" ? "fork: " + f.reason : o.mode + ": " + o.reason;
				} else if (f.metric != o.metric) {
					row["unavailable"] = fmt::format("different headline metrics (fork: {}, {}: {})", f.metric.empty() ? "none" : f.metric,
									 o.mode, o.metric.empty() ? "none" : o.metric);
				} else {
					row["odf"] = median_json(o.samples);
					row["speedup"] = to_json(speedup(f.samples, o.samples, f.higher_is_better));
				}
				out["within"].push_back(row);
			}
		}
	// cells on which the kernel reported bad state (a warning keeps the
	// measurement, but the reader must see it beside the number)
	out["kernel_warnings"] = nlohmann::json::array();
	for (size_t i = 0; i < docs.size(); ++i)
		for (const auto &r : docs[i]["results"])
			if (r.contains("kernel_verdict"))
				out["kernel_warnings"].push_back({{"run", i}, {"workload", r["workload"]}, {"size", r["params"].value("size", "")},
								  {"mode", r["mode"]}, {"verdict", r["kernel_verdict"]}, {"lines", r["kernel_lines"]}});
	// the latency tails the histograms give: fork vs ODF, per role
	out["tails"] = nlohmann::json::array();
	for (size_t i = 0; i < docs.size(); ++i)
		for (auto &row : tail_rows(docs[i], i)) {
			if (row.contains("odf_table_copy"))
				row["odf_table_copy"].erase("buckets");
			out["tails"].push_back(row);
		}
	// kernel A/B inside a run (odfbench vm --kernel A --kernel B --boots N)
	out["kernels"] = nlohmann::json::array();
	for (size_t i = 0; i < docs.size(); ++i)
		for (const auto &row : kernel_ab_rows(docs[i])) {
			auto r = row;
			r["run"] = i;
			out["kernels"].push_back(r);
		}
	// the same cell across runs (kernels), against the first run
	for (size_t i = 1; i < all.size(); ++i)
		for (const auto &a : all[0])
			for (const auto &b : all[i]) {
				if (a.kernel != b.kernel || a.workload != b.workload || a.params != b.params || a.size != b.size || a.mode != b.mode)
					continue;
				nlohmann::json row = {{"run", i}, {"workload", a.workload}, {"params", a.params}, {"size", a.size},
						      {"mode", a.mode}, {"metric", a.metric}, {"unit", a.unit}, {"higher_is_better", a.higher_is_better}};
				if (a.status != "ok" || b.status != "ok" || a.metric != b.metric) {
					row["unavailable"] = a.status != "ok" ? "first run: " + a.status : b.status != "ok" ? "this run: " + b.status
															 : "different headline metrics";
				} else {
					row["base"] = median_json(a.samples);
					row["this"] = median_json(b.samples);
					row["speedup"] = to_json(speedup(a.samples, b.samples, a.higher_is_better));
					if (!differs[i].empty()) {
						// Not a kernel effect: the runs were on different (virtual) machines.
						row["environment_differs"] = differs[i];
						row["speedup"]["significant"] = false;
					}
				}
				out["across"].push_back(row);
			}
	return out;
}


}  // namespace odfb
