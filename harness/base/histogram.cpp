#include "base/histogram.h"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

extern "C" {
#include <linux/types.h>
#include "odfbench.h"
}

namespace odfb {

std::pair<uint64_t, uint64_t> Histogram::bounds(uint32_t index)
{
	if (index < ODFB_HIST_SUB)
		return {index, index + 1};
	uint32_t e = index / ODFB_HIST_SUB + ODFB_HIST_SUB_BITS - 1, sub = index % ODFB_HIST_SUB;
	uint32_t shift = e - ODFB_HIST_SUB_BITS;
	return {(uint64_t{ODFB_HIST_SUB} + sub) << shift, (uint64_t{ODFB_HIST_SUB} + sub + 1) << shift};
}

uint32_t Histogram::bucket_of(uint64_t ns) { return odfb_hist_bucket(ns); }

void Histogram::add(uint64_t ns, uint64_t n)
{
	count += n;
	sum_ns += ns * n;
	buckets[bucket_of(ns)] += n;
}

void Histogram::merge(const Histogram &o)
{
	count += o.count;
	sum_ns += o.sum_ns;
	for (auto [i, n] : o.buckets)
		buckets[i] += n;
}

uint64_t Histogram::bucket_total() const
{
	uint64_t t = 0;
	for (auto [i, n] : buckets)
		t += n;
	return t;
}

std::optional<double> Histogram::quantile(double q) const
{
	uint64_t total = bucket_total();
	if (!total)
		return std::nullopt;
	auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
	rank = std::clamp<uint64_t>(rank, 1, total);
	uint64_t seen = 0;
	for (auto [i, n] : buckets) {
		seen += n;
		if (seen >= rank) {
			auto [lo, hi] = bounds(i);
			return i < ODFB_HIST_SUB ? static_cast<double>(lo) : (static_cast<double>(lo) + static_cast<double>(hi)) / 2;
		}
	}
	return std::nullopt;  // unreachable: seen reaches total
}

nlohmann::json Histogram::to_json() const
{
	auto b = nlohmann::json::array();
	for (auto [i, n] : buckets) {
		auto [lo, hi] = bounds(i);
		b.push_back({lo, hi, n});
	}
	return {{"count", count}, {"sum_ns", sum_ns}, {"buckets", b}};
}

Histogram Histogram::from_json(const nlohmann::json &j)
{
	if (!j.is_object() || !j.contains("count") || !j.contains("sum_ns") || !j.contains("buckets") || !j["buckets"].is_array())
		throw std::invalid_argument("histogram: needs count, sum_ns and a buckets array");
	Histogram h;
	h.count = j["count"].get<uint64_t>();
	h.sum_ns = j["sum_ns"].get<uint64_t>();
	for (const auto &b : j["buckets"]) {
		if (!b.is_array() || b.size() != 3)
			throw std::invalid_argument("histogram: a bucket is [lo_ns, hi_ns, count]");
		uint64_t lo = b[0].get<uint64_t>();
		uint32_t i = bucket_of(lo);
		if (bounds(i) != std::pair<uint64_t, uint64_t>{lo, b[1].get<uint64_t>()})
			throw std::invalid_argument(fmt::format("histogram: [{}, {}) is not a bucket of this scheme", lo, b[1].get<uint64_t>()));
		h.buckets[i] += b[2].get<uint64_t>();
	}
	return h;
}

nlohmann::json Histogram::summary() const
{
	nlohmann::json s = {{"count", count}};
	if (!count)
		return s;
	s["mean_ns"] = static_cast<double>(sum_ns) / static_cast<double>(count);
	for (auto [name, q] : {std::pair{"p50_ns", 0.5}, {"p90_ns", 0.9}, {"p99_ns", 0.99}, {"p999_ns", 0.999}, {"max_ns", 1.0}})
		if (auto v = quantile(q))
			s[name] = *v;
	return s;
}

}  // namespace odfb
