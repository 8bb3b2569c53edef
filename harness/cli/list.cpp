// odfbench list: the workloads, modes and probes this build has.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "probe/table.h"
#include "run/workload.h"

namespace odfb::cli {
namespace {

int list(bool as_json)
{
	nlohmann::json j = {{"workloads", nlohmann::json::array()}, {"probes", nlohmann::json::array()}};
	for (const auto &n : workload_names()) {
		auto w = make_workload(n);
		auto modes = nlohmann::json::array();
		for (auto m : all_modes())
			if (w->not_applicable(m).empty())
				modes.push_back(mode_name(m));
		j["workloads"].push_back({{"name", n}, {"description", w->description()}, {"metrics", metrics_json(w->metrics())}, {"modes", modes}});
	}
	for (const auto &d : probe_defs())
		j["probes"].push_back(d.name);
	j["modes"] = nlohmann::json::array();
	for (auto m : all_modes())
		j["modes"].push_back(mode_name(m));
	if (as_json) {
		std::cout << j.dump(2) << "\n";
		return 0;
	}
	fmt::print("workloads:\n");
	for (const auto &w : j["workloads"])
		fmt::print("  {:<16} {}\n", w["name"].get<std::string>(), w["description"].get<std::string>());
	fmt::print("modes (strategies; each workload runs those it declares, see `list --json`):\n ");
	for (const auto &m : j["modes"])
		fmt::print(" {}", m.get<std::string>());
	fmt::print("\nprobes:\n");
	for (const auto &p : j["probes"])
		fmt::print("  {}\n", p.get<std::string>());
	return 0;
}

}  // namespace

void add_list_command(CLI::App &app, int &exit_code)
{
	auto json = std::make_shared<bool>(false);
	auto *sub = app.add_subcommand("list", "List workloads, modes and probes");
	sub->add_flag("--json", *json, "JSON output");
	sub->callback([json, &exit_code] { exit_code = list(*json); });
}

}  // namespace odfb::cli
