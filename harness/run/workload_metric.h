// What a workload's metric means, in a header of its own: compare reads the
// same descriptors back from results files without the workload registry.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace odfb {

// One metric a workload reports, declared once with what it means: the
// results file carries these, so compare, the cell line and the figures read
// them there and need no registry.  The first a workload lists is its headline.
struct Metric {
	std::string name;
	std::string unit;  // ns, us, bytes, count, 1/s, flag, or what a program reports
	bool higher_is_better = false;
	bool operator==(const Metric &) const = default;
	nlohmann::json to_json(bool headline) const
	{
		return {{"name", name}, {"unit", unit}, {"better", higher_is_better ? "higher" : "lower"}, {"headline", headline}};
	}
	static Metric ns(std::string n) { return {std::move(n), "ns", false}; }
	static Metric us(std::string n) { return {std::move(n), "us", false}; }
	static Metric bytes(std::string n) { return {std::move(n), "bytes", false}; }
	static Metric count(std::string n) { return {std::move(n), "count", false}; }
	static Metric rate(std::string n) { return {std::move(n), "1/s", true}; }
	static Metric flag(std::string n) { return {std::move(n), "flag", true}; }
};

// A cell's descriptors as results record them: [{name, unit, better, headline}].
inline nlohmann::json metrics_json(const std::vector<Metric> &metrics)
{
	auto a = nlohmann::json::array();
	for (size_t i = 0; i < metrics.size(); ++i)
		a.push_back(metrics[i].to_json(i == 0));
	return a;
}

}  // namespace odfb
