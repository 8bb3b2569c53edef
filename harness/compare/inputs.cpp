// Reading results files for compare and report: JSON with a clear error,
// shard files merged back into one run, and where each run ran.
#include "compare/compare.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace odfb {

std::vector<std::pair<std::string, nlohmann::json>> merge_shards(const std::vector<std::string> &paths,
								 const std::vector<nlohmann::json> &docs)
{
	std::vector<std::pair<std::string, nlohmann::json>> out;
	std::map<std::string, size_t> group;  // same spec, kernel and ODF variant -> index in out
	for (size_t i = 0; i < docs.size(); ++i) {
		const auto &run = docs[i]["run"];
		bool shard = run.contains("selection") && run["selection"].value("shard", nlohmann::json()).is_string();
		if (!shard) {
			out.emplace_back(paths[i], docs[i]);
			continue;
		}
		std::string k = run["spec"].dump() + "|" + run["kernel"].value("release", "") + "|" + run["odf"].value("variant", "") + "|" +
				run["selection"]["shard"].get<std::string>().substr(run["selection"]["shard"].get<std::string>().find('/'));
		auto it = group.find(k);
		if (it == group.end()) {
			group[k] = out.size();
			auto d = docs[i];
			d["run"]["shards"] = {{{"path", paths[i]}, {"shard", run["selection"]["shard"]}, {"host", run["host"]}}};
			out.emplace_back(paths[i], d);
			continue;
		}
		auto &[p, d] = out[it->second];
		p += "+" + std::filesystem::path(paths[i]).filename().string();
		for (const auto &r : docs[i]["results"])
			d["results"].push_back(r);
		d["run"]["shards"].push_back({{"path", paths[i]}, {"shard", run["selection"]["shard"]}, {"host", run["host"]}});
		if (run.value("status", "") != "complete")
			d["run"]["status"] = run["status"];
	}
	for (auto &[p, d] : out)
		if (d["run"].contains("shards")) {
			auto &rs = d["results"];
			std::stable_sort(rs.begin(), rs.end(), [](const auto &x, const auto &y) { return x.value("cell", 0) < y.value("cell", 0); });
			std::string n = d["run"]["selection"]["shard"].get<std::string>();
			n = n.substr(n.find('/') + 1);
			if (d["run"]["shards"].size() != static_cast<size_t>(std::stoi(n)))
				d["run"]["shards_missing"] = fmt::format("{} of {} shards given", d["run"]["shards"].size(), n);
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
