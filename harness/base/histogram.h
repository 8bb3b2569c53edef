// Latency histograms as the probes keep them (bpf/odfbench.h): log-linear
// buckets, merged across trials, with quantiles whose error is known.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

namespace odfb {

// A quantile is reported as the midpoint of the bucket that holds it (the
// exact value below 16 ns), which is within this fraction of the true value.
inline constexpr double kHistRelativeError = 1.0 / 32;

struct Histogram {
	uint64_t count = 0;
	uint64_t sum_ns = 0;
	std::map<uint32_t, uint64_t> buckets;  // bucket index -> samples; empty buckets absent

	// [lo, hi) in ns of bucket `index`.
	static std::pair<uint64_t, uint64_t> bounds(uint32_t index);
	static uint32_t bucket_of(uint64_t ns);
	void add(uint64_t ns, uint64_t n = 1);
	void merge(const Histogram &other);
	uint64_t bucket_total() const;
	// The nearest-rank sample at quantile q in (0, 1]; nullopt when empty.
	std::optional<double> quantile(double q) const;
	// {"count", "sum_ns", "buckets": [[lo_ns, hi_ns, n], ...]}
	nlohmann::json to_json() const;
	// The inverse; std::invalid_argument naming what is wrong.
	static Histogram from_json(const nlohmann::json &j);
	// {"count", "mean_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns"}:
	// the quantiles and max from buckets, the mean exact.
	nlohmann::json summary() const;
};

}  // namespace odfb
