// The histogram scheme the probes and the harness share (bpf/odfbench.h):
// contiguous buckets, the stated error bound, and quantiles against exact ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "base/histogram.h"

extern "C" {
#include <linux/types.h>
#include "odfbench.h"
}

using namespace odfb;

TEST(Histogram, BucketsTileTheRangeWithoutGapsOrOverlap)
{
	uint64_t expect_lo = 0;
	for (uint32_t i = 0; i < ODFB_HIST_BUCKETS; ++i) {
		auto [lo, hi] = Histogram::bounds(i);
		ASSERT_EQ(lo, expect_lo) << "bucket " << i;
		ASSERT_GT(hi, lo);
		ASSERT_EQ(Histogram::bucket_of(lo), i);
		ASSERT_EQ(Histogram::bucket_of(hi - 1), i);
		if (i >= ODFB_HIST_SUB) {  // the stated width: at most 1/16 of the lower bound
			ASSERT_LE(static_cast<double>(hi - lo), static_cast<double>(lo) / ODFB_HIST_SUB);
		}
		expect_lo = hi;
	}
	EXPECT_EQ(Histogram::bounds(ODFB_HIST_BUCKETS - 1).second, 1ull << (ODFB_HIST_MAX_EXP + 1));
	EXPECT_EQ(Histogram::bucket_of(~0ull), ODFB_HIST_BUCKETS - 1u);
}

TEST(Histogram, QuantilesAreWithinTheStatedErrorOfExactOnes)
{
	std::mt19937_64 rng(7);
	std::lognormal_distribution<double> d(9.0, 1.5);  // ns: a fault-like spread, 100 ns .. 10 ms
	std::vector<uint64_t> v;
	Histogram h;
	for (int i = 0; i < 100000; ++i) {
		uint64_t x = static_cast<uint64_t>(d(rng));
		v.push_back(x);
		h.add(x);
	}
	std::sort(v.begin(), v.end());
	for (double q : {0.5, 0.9, 0.99, 0.999, 1.0}) {
		size_t rank = static_cast<size_t>(std::ceil(q * v.size()));
		double exact = static_cast<double>(v[rank - 1]);
		double est = *h.quantile(q);
		EXPECT_LE(std::abs(est - exact), exact * kHistRelativeError + 0.5) << "q=" << q << " exact " << exact << " est " << est;
	}
	uint64_t sum = 0;
	for (auto x : v)
		sum += x;
	EXPECT_EQ(h.sum_ns, sum);
	EXPECT_EQ(h.count, v.size());
	EXPECT_EQ(h.bucket_total(), v.size());
}

TEST(Histogram, JsonRoundTripAndMerge)
{
	Histogram a, b;
	for (uint64_t x : {3ull, 15ull, 16ull, 1000ull, 123456789ull})
		a.add(x);
	b.add(1000, 4);
	auto back = Histogram::from_json(a.to_json());
	EXPECT_EQ(back.count, a.count);
	EXPECT_EQ(back.sum_ns, a.sum_ns);
	EXPECT_EQ(back.buckets, a.buckets);
	back.merge(b);
	EXPECT_EQ(back.count, 9u);
	EXPECT_EQ(back.buckets[Histogram::bucket_of(1000)], 5u);
	EXPECT_EQ(*back.quantile(0.5), (992.0 + 1024.0) / 2);  // 1000 is in [992, 1024)
	EXPECT_EQ(*a.quantile(0.2), 3.0);                        // exact below 16 ns
	auto s = back.summary();
	EXPECT_EQ(s["count"], 9);
	EXPECT_FALSE(Histogram{}.quantile(0.5).has_value());
	EXPECT_FALSE(Histogram{}.summary().contains("p99_ns"));
}

TEST(Histogram, RejectsBucketsOfAnotherScheme)
{
	EXPECT_THROW(Histogram::from_json({{"count", 1}, {"sum_ns", 1000}, {"buckets", {{1000, 1100, 1}}}}), std::invalid_argument);
	EXPECT_THROW(Histogram::from_json({{"count", 1}}), std::invalid_argument);
}
