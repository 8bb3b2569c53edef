#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runner.h"
#include "stats.h"

using namespace odfb;

TEST(Stats, SummaryOfOneToTen)
{
	auto s = summarize({10, 1, 9, 2, 8, 3, 7, 4, 6, 5});
	EXPECT_EQ(s.n, 10u);
	EXPECT_DOUBLE_EQ(s.min, 1);
	EXPECT_DOUBLE_EQ(s.max, 10);
	EXPECT_DOUBLE_EQ(s.median, 5.5);
	EXPECT_DOUBLE_EQ(s.mean, 5.5);
	EXPECT_NEAR(s.stddev, 3.0276503540974917, 1e-12);  // sample stddev
	EXPECT_NEAR(s.p99, 9.91, 1e-12);                   // 1 + 0.99 * 9
	// n=10: binomial ranks x(2)..x(9), coverage 97.9%
	EXPECT_DOUBLE_EQ(s.ci95[0], 2);
	EXPECT_DOUBLE_EQ(s.ci95[1], 9);
	EXPECT_EQ(s.outliers, 0u);
}

TEST(Stats, MedianCiRanksMatchBinomialTables)
{
	// P(Bin(20,.5) <= 5) = 21700/2^20 = 0.0207 <= 0.025 < P(<= 6): x(6)..x(15)
	EXPECT_EQ(median_ci_ranks(20), (std::array<size_t, 2>{5, 14}));
	EXPECT_EQ(median_ci_ranks(10), (std::array<size_t, 2>{1, 8}));
	// P(Bin(6,.5) = 0) = 1/64 <= 0.025: x(1)..x(6)
	EXPECT_EQ(median_ci_ranks(6), (std::array<size_t, 2>{0, 5}));
	// Too few for any coverage guarantee below the extremes
	EXPECT_EQ(median_ci_ranks(5), (std::array<size_t, 2>{0, 4}));
	EXPECT_EQ(median_ci_ranks(1), (std::array<size_t, 2>{0, 0}));
}

TEST(Stats, OutlierByModifiedZScore)
{
	// median 12.5, MAD 1.5: 100 has |z| = 0.6745*87.5/1.5 = 39.3; 10 has 1.12
	auto s = summarize({10, 11, 12, 13, 14, 100});
	EXPECT_EQ(s.outliers, 1u);
	EXPECT_DOUBLE_EQ(s.median, 12.5);
}

TEST(Stats, EmptyAndSingle)
{
	EXPECT_EQ(summarize({}).n, 0u);
	auto s = summarize({42});
	EXPECT_DOUBLE_EQ(s.median, 42);
	EXPECT_DOUBLE_EQ(s.stddev, 0);
	EXPECT_DOUBLE_EQ(s.ci95[0], 42);
}

TEST(Stats, SummarizeTrialsTakesNumbersOnly)
{
	auto trials = nlohmann::json::parse(R"([{"fork_ns": 10, "odf_verified": false, "x": "s"},
	                                         {"fork_ns": 30, "odf_verified": true}])");
	auto s = summarize_trials(trials);
	ASSERT_TRUE(s.contains("fork_ns"));
	EXPECT_FALSE(s.contains("odf_verified"));
	EXPECT_FALSE(s.contains("x"));
	EXPECT_DOUBLE_EQ(s["fork_ns"]["median"].get<double>(), 20);
	EXPECT_EQ(s["fork_ns"]["n"].get<int>(), 2);
}

// compare's speedup against values worked out by hand (see the comments).
TEST(Speedup, HandComputedInterval)
{
	// n = 10, 1.25% per tail: P(Bin(10, .5) <= 1) = 11/1024 = 0.0107 <= 0.0125 <
	// P(<= 2) = 56/1024, so j = 2: the CI is [x(2), x(9)], 0-based ranks 1 and 8.
	EXPECT_EQ(median_ci_ranks(10, 0.0125), (std::array<size_t, 2>{1, 8}));
	std::vector<double> fork = {19, 10, 12, 11, 13, 15, 14, 16, 18, 17};  // median 14.5, CI [11, 18]
	std::vector<double> odf = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};            // median 5.5, CI [2, 9]
	auto s = speedup(fork, odf, false);
	EXPECT_DOUBLE_EQ(s.value, 14.5 / 5.5);
	EXPECT_DOUBLE_EQ(s.lo, 11.0 / 9.0);
	EXPECT_DOUBLE_EQ(s.hi, 18.0 / 2.0);
	EXPECT_TRUE(s.significant);
	// A rate: higher is better, so the factor is ODF/fork.
	auto r = speedup(odf, fork, true);
	EXPECT_DOUBLE_EQ(r.value, 14.5 / 5.5);
	EXPECT_DOUBLE_EQ(r.lo, 11.0 / 9.0);
	EXPECT_DOUBLE_EQ(r.hi, 18.0 / 2.0);
}

TEST(Speedup, OverlappingSamplesAreNotSignificant)
{
	std::vector<double> a = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, b = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
	auto s = speedup(a, b, false);
	EXPECT_DOUBLE_EQ(s.value, 5.5 / 6.5);
	EXPECT_DOUBLE_EQ(s.lo, 2.0 / 10.0);
	EXPECT_DOUBLE_EQ(s.hi, 9.0 / 3.0);
	EXPECT_FALSE(s.significant);
	EXPECT_EQ(speedup({}, b, false).value, 0);  // nothing to compare
}
