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
// `tail` is the probability left in each tail: 0.025 for 95%.
std::array<size_t, 2> median_ci_ranks(size_t n, double tail = 0.025);

// How much better B is than A, as a factor > 1 when B wins: A/B for
// lower-is-better metrics, B/A for higher-is-better ones.  Its interval comes
// from a 97.5% order-statistic CI for each median: independent samples, so
// both hold at once with probability >= 0.975^2 > 0.95, and so does the
// quotient of their ends.  Significant when the interval excludes 1.
struct Speedup {
	double value = 0, lo = 0, hi = 0;
	bool significant = false;
	size_t n_a = 0, n_b = 0;
};
Speedup speedup(std::vector<double> a, std::vector<double> b, bool higher_is_better);

Summary summarize(std::vector<double> values);

nlohmann::json to_json(const Summary &s);

}  // namespace odfb
