#include "stats.h"

#include <algorithm>
#include <limits>
#include <cmath>
#include <numeric>

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

std::array<size_t, 2> median_ci_ranks(size_t n, double tail)
{
	if (n == 0)
		return {0, 0};
	// Largest j with P(Bin(n, 1/2) <= j-1) <= tail: then [x_(j), x_(n-j+1)]
	// (1-based) covers the median with probability >= 1 - 2 tail.
	double cdf = 0, pmf = std::pow(0.5, static_cast<double>(n));
	size_t j = 0;
	for (size_t k = 0; k < n; ++k) {
		cdf += pmf;  // cdf = P(X <= k)
		if (cdf > tail)
			break;
		j = k + 1;
		pmf *= static_cast<double>(n - k) / static_cast<double>(k + 1);
	}
	if (j == 0)
		return {0, n - 1};
	return {j - 1, n - j};  // 0-based x_(j) and x_(n-j+1)
}

Summary summarize(std::vector<double> v)
{
	Summary s;
	s.n = v.size();
	if (v.empty())
		return s;
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
	auto r = median_ci_ranks(v.size());
	s.ci95 = {v[r[0]], v[r[1]]};

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
	return {{"n", s.n},       {"min", s.min},       {"max", s.max},
		{"median", s.median}, {"mean", s.mean},  {"p99", s.p99},
		{"stddev", s.stddev}, {"ci95", {s.ci95[0], s.ci95[1]}}, {"outliers", s.outliers}};
}

}  // namespace odfb

namespace odfb {

Speedup speedup(std::vector<double> a, std::vector<double> b, bool higher_is_better)
{
	Speedup s;
	s.n_a = a.size();
	s.n_b = b.size();
	if (a.empty() || b.empty())
		return s;
	std::sort(a.begin(), a.end());
	std::sort(b.begin(), b.end());
	auto ra = median_ci_ranks(a.size(), 0.0125), rb = median_ci_ranks(b.size(), 0.0125);
	double ma = quantile_sorted(a, 0.5), mb = quantile_sorted(b, 0.5);
	double a_lo = a[ra[0]], a_hi = a[ra[1]], b_lo = b[rb[0]], b_hi = b[rb[1]];
	if (higher_is_better) {
		std::swap(ma, mb);
		std::swap(a_lo, b_lo);
		std::swap(a_hi, b_hi);
	}
	// value = ma / mb, interval [a_lo / b_hi, a_hi / b_lo]
	s.value = mb != 0 ? ma / mb : 0;
	s.lo = b_hi != 0 ? a_lo / b_hi : 0;
	s.hi = b_lo != 0 ? a_hi / b_lo : std::numeric_limits<double>::infinity();
	s.significant = s.lo > 1 || s.hi < 1;
	return s;
}

}  // namespace odfb
