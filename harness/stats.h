// Summary statistics for one metric across a cell's trials.
#pragma once
#include <array>
#include <cstddef>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace odfb {

struct Summary {
	size_t n = 0;
	double min = 0, max = 0, median = 0, mean = 0, p99 = 0, stddev = 0;
	std::array<double, 2> ci95{0, 0};  // distribution-free CI of the median
	size_t outliers = 0;              // |modified z| > 3.5 (Iglewicz-Hoaglin), as hyperfine warns
};

// Linear-interpolated quantile, q in [0, 1], of sorted data.
double quantile_sorted(const std::vector<double> &sorted, double q);

// Order-statistic ranks (0-based, inclusive) bounding the median with at
// least 95% binomial coverage; the whole range when n is too small for that.
std::array<size_t, 2> median_ci_ranks(size_t n);

Summary summarize(std::vector<double> values);

nlohmann::json to_json(const Summary &s);

}  // namespace odfb
