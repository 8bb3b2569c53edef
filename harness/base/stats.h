// Summary statistics for one metric across a cell's trials.
#pragma once
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace odfb {

struct Summary {
	size_t n = 0;
	double min = 0, max = 0, median = 0, mean = 0, p99 = 0, stddev = 0;
	// Distribution-free 95% CI of the median; none when n is below
	// min_n_for_median_ci(0.025) = 6, and then ci95_reason says so.
	std::optional<std::array<double, 2>> ci95;
	std::string ci95_reason;
	size_t outliers = 0;  // |modified z| > 3.5 (Iglewicz-Hoaglin), as hyperfine warns
};

// Linear-interpolated quantile, q in [0, 1], of sorted data.
double quantile_sorted(const std::vector<double> &sorted, double q);

// Order-statistic ranks (0-based, inclusive) bounding the median with at
// least 1 - 2 tail binomial coverage: [x_(j), x_(n-j+1)] (1-based) for the
// largest j with P(Bin(n, 1/2) <= j-1) <= tail.  None when even the whole
// sample [min, max] covers less (n too small): its coverage is 1 - 2^(1-n).
// `tail` is the probability left in each tail, in (0, 0.5): 0.025 for 95%.
std::optional<std::array<size_t, 2>> median_ci_ranks(size_t n, double tail = 0.025);

// The smallest n for which median_ci_ranks(n, tail) has an interval: the
// smallest n with 2^-n <= tail.  6 for 95% (tail 0.025), 7 for the 97.5%
// per-median intervals of a speedup (tail 0.0125).
size_t min_n_for_median_ci(double tail);

// "n=3 is below 6, the smallest n with a 95% distribution-free interval of the median"
std::string no_median_ci_reason(size_t n, double tail = 0.025);

// How much better B is than A, as a factor > 1 when B wins: A/B for
// lower-is-better metrics, B/A for higher-is-better ones.  Its interval comes
// from a 97.5% order-statistic CI for each median: independent samples, so
// both hold at once with probability >= 0.975^2 > 0.95, and so does the
// quotient of their ends (for positive quantities).  Significant when the
// interval exists and excludes 1.
struct Speedup {
	// Ratio of the medians; none when the denominator's median is 0 (or a
	// side has no samples): value_reason says which.
	std::optional<double> value;
	std::string value_reason;
	// [lo, hi]; none when either side has fewer than min_n_for_median_ci(0.0125)
	// = 7 samples or the value is undefined (ci_reason says why).  hi is +inf
	// when the denominator's interval reaches 0.
	std::optional<std::array<double, 2>> ci;
	std::string ci_reason;
	bool significant = false;
	size_t n_a = 0, n_b = 0;
};
Speedup speedup(std::vector<double> a, std::vector<double> b, bool higher_is_better);

Summary summarize(std::vector<double> values);

// {"n", "min", "max", "median", "mean", "p99", "stddev", "ci95": [lo, hi] or
// null, "ci95_reason" (only when ci95 is null), "outliers"}
nlohmann::json to_json(const Summary &s);
// The short form of a sample that tables and reports show:
// {"median", "ci95", "ci95_reason"?, "n"}.
nlohmann::json median_json(const std::vector<double> &values);
// {"value": x or null, "value_reason"?, "ci95": [lo, hi] or null, with hi null
// when unbounded ("ci95_note" says so), "ci95_reason"?, "significant"}
nlohmann::json to_json(const Speedup &s);

// Summaries of every numeric metric over the measured (non-warmup) trials.
nlohmann::json summarize_trials(const nlohmann::json &trials);

// Kernel B against kernel A when the boot is the unit: each boot gives one
// median, and boot-to-boot spread can be as large as the effect.  The ratio
// is of the geometric means of the boot medians (B/A); its 95% interval is
// Welch's t on their logarithms.  No interval below kMinBootsPerKernel boots
// per kernel (reason says so); significant when the interval excludes 1.
inline constexpr size_t kMinBootsPerKernel = 3;
struct BootRatio {
	std::optional<double> value;
	std::optional<std::array<double, 2>> ci;
	double df = 0;
	bool significant = false;
	size_t boots_a = 0, boots_b = 0;
	std::string reason;
};
BootRatio boot_ratio(const std::vector<double> &a_boot_medians, const std::vector<double> &b_boot_medians);
nlohmann::json to_json(const BootRatio &r);

}  // namespace odfb
