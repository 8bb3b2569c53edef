#include "base/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace odfb {

double quantile_sorted(const std::vector<double> &v, double q)
{
	if (v.empty())
		return 0;
	double pos = q * static_cast<double>(v.size() - 1);
	size_t lo = static_cast<size_t>(std::floor(pos));
	size_t hi = std::min(lo + 1, v.size() - 1);
	double frac = pos - static_cast<double>(lo);
	return v[lo] + (v[hi] - v[lo]) * frac;
}

namespace {

void check_tail(double tail)
{
	if (!(tail > 0 && tail < 0.5))
		throw std::invalid_argument(fmt::format("median CI: tail {} is not in (0, 0.5)", tail));
}

}  // namespace

std::optional<std::array<size_t, 2>> median_ci_ranks(size_t n, double tail)
{
	check_tail(tail);
	// Largest j with P(Bin(n, 1/2) <= j-1) <= tail: then [x_(j), x_(n-j+1)]
	// (1-based) covers the median with probability >= 1 - 2 tail.  Each term
	// C(n, k) / 2^n in log space: 2^-n alone underflows to 0 from n = 1075.
	// Terms too small for a double (far below the tail) add nothing anyway.
	const double dn = static_cast<double>(n);
	const double log_base = std::lgamma(dn + 1) - dn * std::log(2.0);
	double cdf = 0;
	size_t j = 0;
	for (size_t k = 0; k < n; ++k) {
		const double dk = static_cast<double>(k);
		cdf += std::exp(log_base - std::lgamma(dk + 1) - std::lgamma(dn - dk + 1));  // cdf = P(X <= k)
		if (cdf > tail)
			break;
		j = k + 1;
	}
	if (j == 0)
		return std::nullopt;  // even [min, max] covers less than 1 - 2 tail
	return std::array<size_t, 2>{j - 1, n - j};  // 0-based x_(j) and x_(n-j+1)
}

size_t min_n_for_median_ci(double tail)
{
	check_tail(tail);
	// [min, max] misses the median with probability 2 * 2^-n.
	size_t n = 1;
	while (std::ldexp(1.0, -static_cast<int>(n)) > tail)
		++n;
	return n;
}

std::string no_median_ci_reason(size_t n, double tail)
{
	return fmt::format("n={} is below {}, the smallest n with a {:g}% distribution-free interval of the median", n,
			   min_n_for_median_ci(tail), 100 * (1 - 2 * tail));
}

Summary summarize(std::vector<double> v)
{
	Summary s;
	s.n = v.size();
	if (v.empty()) {
		s.ci95_reason = no_median_ci_reason(0);
		return s;
	}
	std::sort(v.begin(), v.end());
	s.min = v.front();
	s.max = v.back();
	s.median = quantile_sorted(v, 0.5);
	s.p99 = quantile_sorted(v, 0.99);
	s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
	if (v.size() > 1) {
		double acc = 0;
		for (double x : v)
			acc += (x - s.mean) * (x - s.mean);
		s.stddev = std::sqrt(acc / static_cast<double>(v.size() - 1));
	}
	if (auto r = median_ci_ranks(v.size()))
		s.ci95 = std::array<double, 2>{v[(*r)[0]], v[(*r)[1]]};
	else
		s.ci95_reason = no_median_ci_reason(v.size());

	std::vector<double> dev(v.size());
	for (size_t i = 0; i < v.size(); ++i)
		dev[i] = std::fabs(v[i] - s.median);
	std::sort(dev.begin(), dev.end());
	double mad = quantile_sorted(dev, 0.5);
	if (mad > 0)
		for (double x : v)
			if (0.6745 * std::fabs(x - s.median) / mad > 3.5)
				++s.outliers;
	return s;
}

nlohmann::json to_json(const Summary &s)
{
	nlohmann::json j = {{"n", s.n},       {"min", s.min},       {"max", s.max},
			    {"median", s.median}, {"mean", s.mean},  {"p99", s.p99},
			    {"stddev", s.stddev}, {"ci95", nullptr}, {"outliers", s.outliers}};
	if (s.ci95)
		j["ci95"] = {(*s.ci95)[0], (*s.ci95)[1]};
	else
		j["ci95_reason"] = s.ci95_reason;
	return j;
}

nlohmann::json median_json(const std::vector<double> &values)
{
	auto s = to_json(summarize(values));
	nlohmann::json j = {{"median", s["median"]}, {"ci95", s["ci95"]}, {"n", s["n"]}};
	if (s.contains("ci95_reason"))
		j["ci95_reason"] = s["ci95_reason"];
	return j;
}

Speedup speedup(std::vector<double> a, std::vector<double> b, bool higher_is_better)
{
	constexpr double kTail = 0.0125;  // 97.5% per median
	Speedup s;
	s.n_a = a.size();
	s.n_b = b.size();
	if (a.empty() || b.empty()) {
		s.value_reason = s.ci_reason = "a side has no samples";
		return s;
	}
	if (higher_is_better)
		std::swap(a, b);  // from here on, the factor is always a / b
	std::sort(a.begin(), a.end());
	std::sort(b.begin(), b.end());
	double ma = quantile_sorted(a, 0.5), mb = quantile_sorted(b, 0.5);
	// value = ma / mb, interval [a_lo / b_hi, a_hi / b_lo]
	if (mb == 0) {
		s.value_reason = "the denominator's median is 0";
		s.ci_reason = s.value_reason;
		return s;
	}
	s.value = ma / mb;
	auto ra = median_ci_ranks(a.size(), kTail), rb = median_ci_ranks(b.size(), kTail);
	if (!ra || !rb) {
		size_t na = a.size(), nb = b.size();
		s.ci_reason = fmt::format("{} below {}, the smallest n per side with a 97.5% distribution-free interval of each median",
					  !ra && !rb ? fmt::format("n={} and n={} are", std::min(na, nb), std::max(na, nb))
						     : fmt::format("n={} is", !ra ? na : nb),
					  min_n_for_median_ci(kTail));
		return s;
	}
	double a_lo = a[(*ra)[0]], a_hi = a[(*ra)[1]], b_lo = b[(*rb)[0]], b_hi = b[(*rb)[1]];
	if (b_hi <= 0) {
		s.ci_reason = "the denominator's interval is not above 0: the ratio's interval is undefined";
		return s;
	}
	double hi = b_lo > 0 ? a_hi / b_lo : std::numeric_limits<double>::infinity();
	s.ci = std::array<double, 2>{a_lo / b_hi, hi};
	s.significant = (*s.ci)[0] > 1 || (*s.ci)[1] < 1;
	return s;
}

nlohmann::json to_json(const Speedup &s)
{
	nlohmann::json j = {{"value", nullptr}, {"ci95", nullptr}, {"significant", s.significant}};
	if (s.value)
		j["value"] = *s.value;
	else
		j["value_reason"] = s.value_reason;
	if (s.ci) {
		double lo = (*s.ci)[0], hi = (*s.ci)[1];
		j["ci95"] = {lo, std::isfinite(hi) ? nlohmann::json(hi) : nlohmann::json(nullptr)};
		if (!std::isfinite(hi))
			j["ci95_note"] = "upper end unbounded: the denominator's interval reaches 0";
	} else {
		j["ci95_reason"] = s.ci_reason;
	}
	return j;
}

nlohmann::json summarize_trials(const nlohmann::json &trials)
{
	std::map<std::string, std::vector<double>> cols;
	for (const auto &t : trials)
		for (auto &[k, v] : t.items())
			if (v.is_number())
				cols[k].push_back(v.get<double>());
	nlohmann::json s = nlohmann::json::object();
	for (auto &[k, v] : cols)
		s[k] = to_json(summarize(v));
	return s;
}

namespace {
// Student's t, 97.5% quantile, by whole degrees of freedom (rounded down,
// which widens the interval).
double t975(double df)
{
	static const double table[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
				       2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
				       2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
	int d = static_cast<int>(df);
	if (d < 1)
		d = 1;
	if (d <= 30)
		return table[d - 1];
	return d <= 40 ? 2.021 : d <= 60 ? 2.000 : d <= 120 ? 1.980 : 1.960;
}
}  // namespace

BootRatio boot_ratio(const std::vector<double> &a, const std::vector<double> &b)
{
	BootRatio r;
	r.boots_a = a.size();
	r.boots_b = b.size();
	for (double x : a)
		if (!(x > 0))
			r.reason = "a boot median is not positive";
	for (double x : b)
		if (!(x > 0))
			r.reason = "a boot median is not positive";
	if (a.empty() || b.empty())
		r.reason = "a kernel has no boot with this cell";
	if (!r.reason.empty())
		return r;
	auto mean_var = [](const std::vector<double> &v, double &m, double &var) {
		m = 0;
		for (double x : v)
			m += std::log(x);
		m /= v.size();
		var = 0;
		for (double x : v)
			var += (std::log(x) - m) * (std::log(x) - m);
		var = v.size() > 1 ? var / (v.size() - 1) : 0;
	};
	double ma, va, mb, vb;
	mean_var(a, ma, va);
	mean_var(b, mb, vb);
	r.value = std::exp(mb - ma);
	if (a.size() < kMinBootsPerKernel || b.size() < kMinBootsPerKernel) {
		r.reason = fmt::format("{} and {} boots: at least {} per kernel are needed to put an interval on boot-to-boot spread",
				       a.size(), b.size(), kMinBootsPerKernel);
		return r;
	}
	double sa = va / a.size(), sb = vb / b.size();
	double se = std::sqrt(sa + sb);
	double df = (sa + sb) * (sa + sb) / (sa * sa / (a.size() - 1) + sb * sb / (b.size() - 1));
	if (!(se > 0))
		df = a.size() + b.size() - 2;
	double half = t975(df) * se;
	r.ci = std::array<double, 2>{std::exp(mb - ma - half), std::exp(mb - ma + half)};
	r.df = df;
	r.significant = (*r.ci)[0] > 1 || (*r.ci)[1] < 1;
	return r;
}

nlohmann::json to_json(const BootRatio &r)
{
	nlohmann::json j = {{"value", r.value ? nlohmann::json(*r.value) : nlohmann::json(nullptr)},
			    {"ci95", r.ci ? nlohmann::json{(*r.ci)[0], (*r.ci)[1]} : nlohmann::json(nullptr)},
			    {"boots", {r.boots_a, r.boots_b}},
			    {"significant", r.significant},
			    {"method", "ratio of geometric means of boot medians; Welch t interval on their logs"}};
	if (!r.reason.empty())
		j["reason"] = r.reason;
	return j;
}

}  // namespace odfb
