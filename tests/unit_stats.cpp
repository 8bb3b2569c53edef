#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "compare/compare.h"
#include "run/workload.h"
#include "run/runner.h"
#include "base/stats.h"

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
	ASSERT_TRUE(s.ci95);
	EXPECT_DOUBLE_EQ((*s.ci95)[0], 2);
	EXPECT_DOUBLE_EQ((*s.ci95)[1], 9);
	EXPECT_EQ(s.ci95_reason, "");
	EXPECT_EQ(s.outliers, 0u);
}

TEST(Stats, MedianCiRanksMatchBinomialTables)
{
	using R = std::optional<std::array<size_t, 2>>;
	// P(Bin(20,.5) <= 5) = 21700/2^20 = 0.0207 <= 0.025 < P(<= 6): x(6)..x(15)
	EXPECT_EQ(median_ci_ranks(20), (R{{5, 14}}));
	EXPECT_EQ(median_ci_ranks(10), (R{{1, 8}}));
	// P(Bin(6,.5) = 0) = 1/64 <= 0.025: x(1)..x(6)
	EXPECT_EQ(median_ci_ranks(6), (R{{0, 5}}));
	// Too few for 95%: [min, max] covers 1 - 2/2^n, 94% at n=5, 0 at n=1
	EXPECT_EQ(median_ci_ranks(5), std::nullopt);
	EXPECT_EQ(median_ci_ranks(1), std::nullopt);
	EXPECT_EQ(median_ci_ranks(0), std::nullopt);
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
	EXPECT_FALSE(s.ci95);  // [42, 42] would claim certainty from one sample
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
	EXPECT_EQ(median_ci_ranks(10, 0.0125), (std::optional<std::array<size_t, 2>>{{1, 8}}));
	std::vector<double> fork = {19, 10, 12, 11, 13, 15, 14, 16, 18, 17};  // median 14.5, CI [11, 18]
	std::vector<double> odf = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};            // median 5.5, CI [2, 9]
	auto s = speedup(fork, odf, false);
	ASSERT_TRUE(s.value && s.ci);
	EXPECT_DOUBLE_EQ(*s.value, 14.5 / 5.5);
	EXPECT_DOUBLE_EQ((*s.ci)[0], 11.0 / 9.0);
	EXPECT_DOUBLE_EQ((*s.ci)[1], 18.0 / 2.0);
	EXPECT_TRUE(s.significant);
	// A rate: higher is better, so the factor is ODF/fork.
	auto r = speedup(odf, fork, true);
	ASSERT_TRUE(r.value && r.ci);
	EXPECT_DOUBLE_EQ(*r.value, 14.5 / 5.5);
	EXPECT_DOUBLE_EQ((*r.ci)[0], 11.0 / 9.0);
	EXPECT_DOUBLE_EQ((*r.ci)[1], 18.0 / 2.0);
	EXPECT_TRUE(r.significant);
}

TEST(Speedup, OverlappingSamplesAreNotSignificant)
{
	std::vector<double> a = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, b = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
	auto s = speedup(a, b, false);
	ASSERT_TRUE(s.value && s.ci);
	EXPECT_DOUBLE_EQ(*s.value, 5.5 / 6.5);
	EXPECT_DOUBLE_EQ((*s.ci)[0], 2.0 / 10.0);
	EXPECT_DOUBLE_EQ((*s.ci)[1], 9.0 / 3.0);
	EXPECT_FALSE(s.significant);
	auto none = speedup({}, b, false);  // nothing to compare
	EXPECT_FALSE(none.value);
	EXPECT_FALSE(none.ci);
	EXPECT_FALSE(none.significant);
}

// Issue #18.  Expected ranks computed independently with exact integer
// arithmetic (/usr/bin/python3):
//   from math import comb
//   def ranks(n, num, den):  # tail = num/den; largest j with sum_{k<j} C(n,k) <= tail 2^n
//       j, s = 0, 0
//       for k in range(n):
//           s += comb(n, k)
//           if s * den > num * 2**n: break
//           j = k + 1
//       return None if j == 0 else (j - 1, n - j)
//   [ranks(n, 1, 40) for n in (1, 3, 5, 6, 7, 20, 1075, 5000)]   # tail 0.025
//   [ranks(n, 1, 80) for n in (1, 3, 5, 6, 7, 20, 1075, 5000)]   # tail 0.0125
// (The same exact check agrees with median_ci_ranks's log-space sum for every
// n up to 6000 at both tails.)
TEST(Stats, MedianCiRanksHandComputed)
{
	using R = std::optional<std::array<size_t, 2>>;
	// 95%: none below n = 6, where [min, max] covers 1 - 2/2^6 = 96.9%.
	EXPECT_EQ(median_ci_ranks(1, 0.025), std::nullopt);  // [x, x]: coverage 0
	EXPECT_EQ(median_ci_ranks(3, 0.025), std::nullopt);  // [min, max]: 75%
	EXPECT_EQ(median_ci_ranks(5, 0.025), std::nullopt);  // [min, max]: 93.75%
	EXPECT_EQ(median_ci_ranks(6, 0.025), (R{{0, 5}}));
	EXPECT_EQ(median_ci_ranks(7, 0.025), (R{{0, 6}}));
	EXPECT_EQ(median_ci_ranks(20, 0.025), (R{{5, 14}}));
	// 2^-1075 underflows a double: the old code returned {1074, 0}, max to min.
	EXPECT_EQ(median_ci_ranks(1075, 0.025), (R{{504, 570}}));
	EXPECT_EQ(median_ci_ranks(5000, 0.025), (R{{2430, 2569}}));
	// 97.5% per median, as the speedup uses: none below n = 7.
	EXPECT_EQ(median_ci_ranks(1, 0.0125), std::nullopt);
	EXPECT_EQ(median_ci_ranks(3, 0.0125), std::nullopt);
	EXPECT_EQ(median_ci_ranks(5, 0.0125), std::nullopt);
	EXPECT_EQ(median_ci_ranks(6, 0.0125), std::nullopt);  // 1/64 = 0.0156 > 0.0125
	EXPECT_EQ(median_ci_ranks(7, 0.0125), (R{{0, 6}}));   // 1/128 = 0.0078
	EXPECT_EQ(median_ci_ranks(20, 0.0125), (R{{4, 15}}));
	EXPECT_EQ(median_ci_ranks(1075, 0.0125), (R{{500, 574}}));
	EXPECT_EQ(median_ci_ranks(5000, 0.0125), (R{{2420, 2579}}));
	EXPECT_THROW(median_ci_ranks(10, 0.5), std::invalid_argument);
	EXPECT_THROW(median_ci_ranks(10, 0), std::invalid_argument);
}

TEST(Stats, MinimumNForAMedianInterval)
{
	// smallest n with 2^-n <= tail: 2^-6 = 0.0156 <= 0.025 < 2^-5; 2^-7 <= 0.0125 < 2^-6
	EXPECT_EQ(min_n_for_median_ci(0.025), 6u);
	EXPECT_EQ(min_n_for_median_ci(0.0125), 7u);
	for (double tail : {0.025, 0.0125, 0.005}) {
		size_t m = min_n_for_median_ci(tail);
		EXPECT_FALSE(median_ci_ranks(m - 1, tail)) << tail;
		EXPECT_TRUE(median_ci_ranks(m, tail)) << tail;
	}
}

TEST(Stats, SmallSampleHasNoCiInJson)
{
	auto s = summarize({3, 1, 2});
	EXPECT_FALSE(s.ci95);
	auto j = to_json(s);
	ASSERT_TRUE(j.contains("ci95"));
	EXPECT_TRUE(j["ci95"].is_null());
	EXPECT_EQ(j["ci95_reason"], "n=3 is below 6, the smallest n with a 95% distribution-free interval of the median");
	EXPECT_DOUBLE_EQ(j["median"].get<double>(), 2);
	// n = 6: the whole range, now with >= 95% coverage (96.9%), and no reason.
	auto j6 = to_json(summarize({6, 5, 4, 3, 2, 1}));
	EXPECT_EQ(j6["ci95"], nlohmann::json::parse("[1.0, 6.0]"));
	EXPECT_FALSE(j6.contains("ci95_reason"));
}

TEST(Stats, LargeSampleIntervalIsOrdered)
{
	// 1..n shuffled: x_(k) = k, so the interval is ranks + 1 (ranks above).
	for (auto [n, lo, hi] : {std::tuple<size_t, double, double>{1075, 505, 571}, {5000, 2431, 2570}}) {
		std::vector<double> v;
		for (size_t i = 0; i < n; ++i)
			v.push_back(static_cast<double>((i * 7919) % n + 1));  // a permutation of 1..n (7919 is prime)
		auto s = summarize(v);
		ASSERT_TRUE(s.ci95) << n;
		EXPECT_DOUBLE_EQ((*s.ci95)[0], lo) << n;
		EXPECT_DOUBLE_EQ((*s.ci95)[1], hi) << n;
		EXPECT_LE((*s.ci95)[0], s.median);
		EXPECT_GE((*s.ci95)[1], s.median);
	}
}

TEST(Speedup, TooFewSamplesHaveNoIntervalAndAreNeverSignificant)
{
	// Far apart, but n = 5 (and n = 6) are below 7 per side for 97.5%.
	std::vector<double> fork5 = {100, 101, 102, 103, 104}, odf5 = {1, 2, 3, 4, 5};
	auto s = speedup(fork5, odf5, false);
	ASSERT_TRUE(s.value);
	EXPECT_DOUBLE_EQ(*s.value, 102.0 / 3.0);
	EXPECT_FALSE(s.ci);
	EXPECT_FALSE(s.significant);
	EXPECT_EQ(s.ci_reason, "n=5 and n=5 are below 7, the smallest n per side with a 97.5% distribution-free interval of each median");
	auto j = to_json(s);
	EXPECT_TRUE(j["ci95"].is_null());
	EXPECT_FALSE(j["significant"].get<bool>());
	EXPECT_TRUE(j.contains("ci95_reason"));
	// One side long enough, the other at 6 (enough for 95%, not for 97.5%).
	std::vector<double> fork10 = {100, 101, 102, 103, 104, 105, 106, 107, 108, 109}, odf6 = {1, 2, 3, 4, 5, 6};
	auto t = speedup(fork10, odf6, false);
	EXPECT_FALSE(t.ci);
	EXPECT_FALSE(t.significant);
	EXPECT_EQ(t.ci_reason, "n=6 is below 7, the smallest n per side with a 97.5% distribution-free interval of each median");
	// n = 7 per side: ranks (0, 6), the whole range: [100/7, 106/1].
	std::vector<double> fork7 = {100, 101, 102, 103, 104, 105, 106}, odf7 = {1, 2, 3, 4, 5, 6, 7};
	auto u = speedup(fork7, odf7, false);
	ASSERT_TRUE(u.ci);
	EXPECT_DOUBLE_EQ((*u.ci)[0], 100.0 / 7.0);
	EXPECT_DOUBLE_EQ((*u.ci)[1], 106.0);
	EXPECT_TRUE(u.significant);
}

TEST(Speedup, ZeroDenominatorMedianIsUndefined)
{
	std::vector<double> fork = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, zeros(10, 0.0);
	auto s = speedup(fork, zeros, false);  // fork / 0
	EXPECT_FALSE(s.value);
	EXPECT_FALSE(s.ci);
	EXPECT_FALSE(s.significant);
	EXPECT_EQ(s.value_reason, "the denominator's median is 0");
	auto j = to_json(s);
	EXPECT_TRUE(j["value"].is_null());
	EXPECT_TRUE(j["ci95"].is_null());
	EXPECT_FALSE(j["significant"].get<bool>());
	// A rate whose fork side is 0 (say, a fuzzer that never ran): ODF/fork.
	auto r = speedup(zeros, fork, true);
	EXPECT_FALSE(r.value);
	EXPECT_FALSE(r.significant);
	// ODF at 0 for a rate is a real (0x) result, not undefined.
	auto z = speedup(fork, zeros, true);
	ASSERT_TRUE(z.value);
	EXPECT_DOUBLE_EQ(*z.value, 0);
}

TEST(Speedup, UnboundedUpperEnd)
{
	// The denominator's interval [x(2), x(9)] reaches 0, its median does not.
	std::vector<double> fork = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, odf = {0, 0, 1, 1, 1, 1, 1, 1, 2, 2};
	auto s = speedup(fork, odf, false);
	ASSERT_TRUE(s.value && s.ci);
	EXPECT_DOUBLE_EQ(*s.value, 14.5);
	EXPECT_DOUBLE_EQ((*s.ci)[0], 11.0 / 2.0);
	EXPECT_TRUE(std::isinf((*s.ci)[1]));
	EXPECT_TRUE(s.significant);
	auto j = to_json(s);
	EXPECT_DOUBLE_EQ(j["ci95"][0].get<double>(), 5.5);
	EXPECT_TRUE(j["ci95"][1].is_null());
	EXPECT_TRUE(j.contains("ci95_note"));
}

// compare on small synthetic results documents.
namespace {

nlohmann::json fork_cell(const std::string &mode, const std::vector<double> &values, const std::string &metric = "fork_ns")
{
	nlohmann::json trials = nlohmann::json::array();
	for (double v : values)
		trials.push_back({{metric, v}, {"odf_verified", mode != "fork"}});
	nlohmann::json metrics = nlohmann::json::array({{{"name", "fork_ns"}, {"unit", "ns"}, {"better", "lower"}, {"headline", true}},
						 {{"name", "clone_kernel_ns"}, {"unit", "ns"}, {"better", "lower"}, {"headline", false}}});
	return {{"workload", "fork-latency"}, {"params", {{"size", "1G"}, {"size_bytes", 1 << 30}}}, {"mode", mode},
		{"status", "ok"},           {"reason", ""},                                       {"trials", trials},
		{"metrics", metrics}};
}

nlohmann::json results_doc(const nlohmann::json &vm, const nlohmann::json &host, const nlohmann::json &results)
{
	return {{"run",
		 {{"status", "complete"},
		  {"kernel", {{"release", "6.0.6"}}},
		  {"odf", {{"variant", "patchset-6.0"}}},
		  {"host", host},
		  {"environment", {{"vm", vm}}}}},
		{"results", results}};
}

std::vector<double> around(double x, int n = 10)
{
	std::vector<double> v;
	for (int i = 0; i < n; ++i)
		v.push_back(x * (1 + 0.01 * (i - (n - 1) / 2.0)));  // median x
	return v;
}

const nlohmann::json kPhysical = {{"cpu_model", "AMD EPYC"}, {"cpus_online", 8}, {"mem_total_bytes", 25276514304}};

nlohmann::json tcg_doc(double fork_ns, uint64_t mem = 6219952128)
{
	nlohmann::json vm = {{"accelerator", "tcg"}, {"host", kPhysical}};
	nlohmann::json guest = {{"cpu_model", "QEMU TCG CPU version 2.5+"}, {"cpus_online", 2}, {"mem_total_bytes", mem}};
	return results_doc(vm, guest, nlohmann::json::array({fork_cell("fork", around(fork_ns))}));
}

}  // namespace

TEST(Compare, WithinRunNeedsTheSameMetricOnBothSides)
{
	// The ODF cell's trials carry no fork_ns, so its headline is clone_kernel_ns:
	// a ratio of fork_ns to clone_kernel_ns would be meaningless.
	auto doc = results_doc(nullptr, kPhysical,
			       nlohmann::json::array({fork_cell("fork", around(7e6)), fork_cell("odf", around(1e5), "clone_kernel_ns"),
						      fork_cell("odf-procfs", around(1e5))}));
	auto c = compare_runs({"a.json"}, {doc});
	ASSERT_EQ(c["within"].size(), 2u);
	const auto &bad = c["within"][0]["mode"] == "odf" ? c["within"][0] : c["within"][1];
	const auto &good = c["within"][0]["mode"] == "odf" ? c["within"][1] : c["within"][0];
	EXPECT_FALSE(bad.contains("speedup"));
	EXPECT_EQ(bad["unavailable"], "different headline metrics (fork: fork_ns, odf: clone_kernel_ns)");
	ASSERT_TRUE(good.contains("speedup"));
	EXPECT_NEAR(good["speedup"]["value"].get<double>(), 70, 1e-9);
	EXPECT_TRUE(good["speedup"]["significant"].get<bool>());
	EXPECT_NE(compare_markdown(c).find("different headline metrics"), std::string::npos);
}

TEST(Compare, RunEnvironment)
{
	auto tcg = run_environment(tcg_doc(1));
	EXPECT_EQ(tcg["accelerator"], "tcg");
	EXPECT_EQ(tcg["cpus_online"], 2);
	EXPECT_EQ(tcg["machine_cpu_model"], "AMD EPYC");
	EXPECT_EQ(tcg["cpu_model"], "QEMU TCG CPU version 2.5+");
	auto host = run_environment(results_doc(nullptr, kPhysical, nlohmann::json::array()));
	EXPECT_EQ(host["accelerator"], "host");
	EXPECT_EQ(host["machine_cpu_model"], "AMD EPYC");
	// An older file with no run.environment at all ran on the host.
	auto old = results_doc(nullptr, kPhysical, nlohmann::json::array());
	old["run"].erase("environment");
	EXPECT_EQ(run_environment(old)["accelerator"], "host");
	EXPECT_TRUE(environment_differences(host, run_environment(old)).empty());
	// MemTotal differs by 11 MB between two kernels in the same 6 GiB VM: the same machine.
	EXPECT_TRUE(environment_differences(tcg, run_environment(tcg_doc(1, 6231236608))).empty());
	auto d = environment_differences(tcg, host);
	ASSERT_EQ(d.size(), 4u);
	EXPECT_EQ(d[0], "accelerator: QEMU tcg vs host (no VM)");
	EXPECT_EQ(d[1], "CPUs: 2 vs 8");
	EXPECT_EQ(d[2], "CPU model: QEMU TCG CPU version 2.5+ vs AMD EPYC");
	EXPECT_EQ(d[3], "memory: 5.8 GiB vs 23.5 GiB");
	// Two VMs with the same guest CPU on different machines.
	auto other = tcg_doc(1);
	other["run"]["environment"]["vm"]["host"]["cpu_model"] = "Intel Xeon";
	auto d2 = environment_differences(tcg, run_environment(other));
	ASSERT_EQ(d2.size(), 1u);
	EXPECT_EQ(d2[0], "machine: AMD EPYC vs Intel Xeon");
}

TEST(Compare, AcrossRunsInDifferentEnvironmentsIsNoKernelEffect)
{
	// Seen: "1G fork 75.4 ms vs 7.25 ms, 10.40x *" between QEMU TCG and the host.
	auto tcg = tcg_doc(75.4e6);
	auto host = results_doc(nullptr, kPhysical, nlohmann::json::array({fork_cell("fork", around(7.25e6))}));
	auto tcg2 = tcg_doc(60e6, 6231236608);  // another kernel in the same VM setup
	auto c = compare_runs({"tcg.json", "host.json", "tcg2.json"}, {tcg, host, tcg2});
	ASSERT_EQ(c["runs"].size(), 3u);
	EXPECT_EQ(c["runs"][1]["environment_differs"].size(), 4u);
	EXPECT_TRUE(c["runs"][2]["environment_differs"].empty());
	ASSERT_EQ(c["across"].size(), 2u);
	const auto &vs_host = c["across"][0]["run"] == 1 ? c["across"][0] : c["across"][1];
	const auto &vs_tcg = c["across"][0]["run"] == 1 ? c["across"][1] : c["across"][0];
	// The interval excludes 1 by far, but it is the machine, not the kernel.
	ASSERT_TRUE(vs_host["speedup"]["ci95"].is_array());
	EXPECT_GT(vs_host["speedup"]["ci95"][0].get<double>(), 1);
	EXPECT_FALSE(vs_host["speedup"]["significant"].get<bool>());
	ASSERT_TRUE(vs_host.contains("environment_differs"));
	EXPECT_EQ(vs_host["environment_differs"][0], "accelerator: QEMU tcg vs host (no VM)");
	// Same environment: a kernel comparison, marked as usual.
	EXPECT_FALSE(vs_tcg.contains("environment_differs"));
	EXPECT_TRUE(vs_tcg["speedup"]["significant"].get<bool>());

	// The terminal leaves out what is not a kernel comparison, in one line that says so.
	std::string text = compare_text(c);
	EXPECT_EQ(text.find("7.25 ms"), std::string::npos) << text;
	EXPECT_NE(text.find("across runs: 1 ratio of run 1 against run 0 left out: the runs differ in accelerator: QEMU tcg vs host (no VM)"),
		  std::string::npos)
		<< text;
	EXPECT_NE(text.find("60 ms"), std::string::npos) << text;
	for (const std::string &out : {compare_markdown(c)}) {
		std::string host_line, tcg_line;
		size_t at = out.find("across runs");
		ASSERT_NE(at, std::string::npos);
		std::string across = out.substr(at);
		for (size_t p = 0, e; (e = across.find('\n', p)) != std::string::npos; p = e + 1) {
			std::string line = across.substr(p, e - p);
			if (line.find("7.25 ms") != std::string::npos)
				host_line = line;
			if (line.find("60 ms") != std::string::npos)
				tcg_line = line;
		}
		EXPECT_NE(host_line.find("10.40x"), std::string::npos) << host_line;
		EXPECT_NE(host_line.find("not a kernel comparison: runs differ in accelerator: QEMU tcg vs host (no VM)"), std::string::npos)
			<< host_line;
		EXPECT_EQ(host_line.find(" *"), std::string::npos) << host_line;
		EXPECT_NE(tcg_line.find(" *"), std::string::npos) << tcg_line;
		EXPECT_EQ(tcg_line.find("not a kernel comparison"), std::string::npos) << tcg_line;
		EXPECT_NE(out.find("environment differs from run 0"), std::string::npos);
	}
}

TEST(Compare, TerminalGivesTheOdfAnswerFirstAndWhatWasNotMeasuredOnceAReason)
{
	// The host: 3 ODF modes unavailable for the same reason, and a strategy measured.
	auto cell = [](const std::string &mode, const std::string &size, const std::vector<double> &v) {
		auto r = fork_cell(mode, v);
		r["params"]["size"] = size;
		return r;
	};
	auto unavailable = [&](const std::string &mode, const std::string &size) {
		auto r = cell(mode, size, {});
		r["status"] = "unavailable";
		r["reason"] = "kernel has no ODF";
		r["trials"] = nlohmann::json::array();
		r["summary"] = nlohmann::json::object();
		return r;
	};
	auto doc = results_doc(nullptr, kPhysical,
			       nlohmann::json::array({cell("fork", "64M", around(7e6)), unavailable("odf", "64M"), unavailable("odf-procfs", "64M"),
						      cell("thp", "64M", around(1e6)), cell("fork", "1G", around(9e7)), unavailable("odf", "1G")}));
	auto c = compare_runs({"host.json"}, {doc});
	std::string text = compare_text(c);
	EXPECT_NE(text.find("fork vs ODF: no cell measured both"), std::string::npos) << text;
	EXPECT_NE(text.find("fork vs other strategies (not ODF):"), std::string::npos) << text;
	size_t at = text.find("not measured, one line per reason:\n");
	ASSERT_NE(at, std::string::npos) << text;
	std::string rest = text.substr(at);
	EXPECT_NE(rest.find("  run 0: kernel has no ODF (3 comparisons: fork-latency 64M odf, fork-latency 64M odf-procfs, fork-latency 1G odf)"),
		  std::string::npos)
		<< text;
	EXPECT_EQ(rest.find("kernel has no ODF", rest.find("kernel has no ODF") + 1), std::string::npos) << text;  // once
	EXPECT_EQ(text.find("not measured: "), std::string::npos) << text;  // no row per cell
	// A strategy row is never under the ODF header.
	EXPECT_LT(text.find("fork vs ODF"), text.find("fork vs other strategies"));
	EXPECT_GT(text.find(" thp "), text.find("fork vs other strategies")) << text;
}

TEST(Compare, SmallSamplesShowNoInterval)
{
	auto doc = results_doc(nullptr, kPhysical,
			       nlohmann::json::array({fork_cell("fork", around(7e6, 3)), fork_cell("odf", around(1e5, 3))}));
	auto c = compare_runs({"a.json"}, {doc});
	ASSERT_EQ(c["within"].size(), 1u);
	const auto &r = c["within"][0];
	EXPECT_TRUE(r["fork"]["ci95"].is_null());
	EXPECT_TRUE(r["fork"].contains("ci95_reason"));
	EXPECT_TRUE(r["speedup"]["ci95"].is_null());
	EXPECT_FALSE(r["speedup"]["significant"].get<bool>());
	EXPECT_EQ(r["speedup"]["ci95_reason"],
		  "n=3 and n=3 are below 7, the smallest n per side with a 97.5% distribution-free interval of each median");
	EXPECT_NE(compare_markdown(c).find("| 70.00x [no 95% CI] |"), std::string::npos) << compare_markdown(c);
}

TEST(Compare, ZeroMedianSpeedupIsUndefined)
{
	auto doc = results_doc(nullptr, kPhysical,
			       nlohmann::json::array({fork_cell("fork", around(7e6)), fork_cell("odf", std::vector<double>(10, 0.0))}));
	auto c = compare_runs({"a.json"}, {doc});
	ASSERT_EQ(c["within"].size(), 1u);
	const auto &s = c["within"][0]["speedup"];
	EXPECT_TRUE(s["value"].is_null());  // was 0: a number that reads as "ODF is infinitely worse"
	EXPECT_FALSE(s["significant"].get<bool>());
	EXPECT_NE(compare_markdown(c).find("| undefined (the denominator's median is 0) |"), std::string::npos) << compare_markdown(c);
	EXPECT_NE(compare_text(c).find("undefined (the denominator's median is 0)"), std::string::npos);
}

// A results file from a build with a workload this one does not have: the
// cells' own metric descriptors give the headline, its unit and direction.
TEST(Compare, UnknownWorkloadIsReadFromItsDescriptors)
{
	auto cell = [](const std::string &mode, const std::vector<double> &v) {
		nlohmann::json trials = nlohmann::json::array();
		for (double x : v)
			trials.push_back({{"ops_per_s", x}, {"p99_us", 5.0}, {"odf_verified", mode != "fork"}});
		return nlohmann::json{{"workload", "someone-elses-workload"},
				      {"params", {{"size", "4G"}, {"size_bytes", 4ull << 30}}},
				      {"mode", mode},
				      {"status", "ok"},
				      {"reason", ""},
				      {"trials", trials},
				      {"metrics", {{{"name", "ops_per_s"}, {"unit", "1/s"}, {"better", "higher"}, {"headline", true}},
						   {{"name", "p99_us"}, {"unit", "us"}, {"better", "lower"}, {"headline", false}}}}};
	};
	ASSERT_EQ(make_workload("someone-elses-workload"), nullptr);
	auto doc = results_doc(nullptr, kPhysical, nlohmann::json::array({cell("fork", around(1000)), cell("odf", around(3000))}));
	auto c = compare_runs({"a.json"}, {doc});
	ASSERT_EQ(c["within"].size(), 1u);
	const auto &row = c["within"][0];
	EXPECT_EQ(row["metric"], "ops_per_s");
	EXPECT_EQ(row["unit"], "1/s");
	EXPECT_TRUE(row["higher_is_better"].get<bool>());
	ASSERT_TRUE(row.contains("speedup"));
	EXPECT_NEAR(row["speedup"]["value"].get<double>(), 3.0, 1e-9);  // a rate: ODF / fork
	EXPECT_TRUE(row["speedup"]["significant"].get<bool>());
}

// Kernel A/B with the boot as the unit.  Ground truth by hand: boot medians
// 10,11,12 vs 20,22,24 are exactly 2x apart per boot, so the ratio of
// geometric means is 2 and the log-spreads are equal.
TEST(BootRatio, ValueIntervalAndTooFewBoots)
{
	auto r = boot_ratio({10, 11, 12}, {20, 22, 24});
	ASSERT_TRUE(r.value);
	EXPECT_NEAR(*r.value, 2.0, 1e-12);
	ASSERT_TRUE(r.ci);
	EXPECT_LT((*r.ci)[0], 2.0);
	EXPECT_GT((*r.ci)[1], 2.0);
	EXPECT_TRUE(r.significant);  // spread ~9% per boot, effect 100%
	// Welch by hand: log sd s of {10,11,12} = 0.0909..; se = sqrt(2 s^2 / 3); df = 4, t = 2.776
	double l[] = {std::log(10.0), std::log(11.0), std::log(12.0)};
	double m = (l[0] + l[1] + l[2]) / 3, v = 0;
	for (double x : l)
		v += (x - m) * (x - m);
	v /= 2;
	double half = 2.776 * std::sqrt(2 * v / 3);
	EXPECT_NEAR((*r.ci)[0], 2.0 * std::exp(-half), 1e-9);
	EXPECT_NEAR((*r.ci)[1], 2.0 * std::exp(half), 1e-9);
	EXPECT_NEAR(r.df, 4.0, 1e-9);
	// Boot-to-boot spread as large as the effect: not significant.
	auto noisy = boot_ratio({33.6, 43.7, 35.0}, {38.0, 47.0, 36.5});
	ASSERT_TRUE(noisy.ci);
	EXPECT_FALSE(noisy.significant);
	// Two boots per kernel: a value, no interval, and the reason says why.
	auto two = boot_ratio({10, 12}, {20, 24});
	EXPECT_TRUE(two.value);
	EXPECT_FALSE(two.ci);
	EXPECT_NE(two.reason.find("at least 3"), std::string::npos);
	EXPECT_FALSE(boot_ratio({}, {1, 2, 3}).value);
	EXPECT_FALSE(boot_ratio({0, 1, 2}, {1, 2, 3}).value);
	EXPECT_EQ(to_json(r)["boots"], nlohmann::json({3, 3}));
}

// Shard files of one spec are one evaluation for compare; shards of another
// spec or kernel stay apart, and a missing shard is said.
TEST(Compare, ShardFilesMergeIntoOneRun)
{
	auto shard = [](const char *which, int cell, const char *release) {
		nlohmann::json d = {{"run", {{"status", "complete"}, {"kernel", {{"release", release}}}, {"odf", {{"variant", "none"}}},
					     {"host", {{"cpu_model", "x"}}}, {"spec", {{"name", "s"}}},
					     {"selection", {{"shard", which}, {"cells", std::to_string(cell)}, {"total_cells", 3}}}}},
				    {"results", {{{"cell", cell}, {"workload", "fork-latency"}}}}};
		return d;
	};
	auto out = merge_shards({"a.json", "b.json", "c.json", "d.json"},
				{shard("2/3", 1, "6.18"), shard("1/3", 0, "6.18"), shard("1/3", 0, "6.1"), {{"run", nlohmann::json::object()}, {"results", nlohmann::json::array()}}});
	ASSERT_EQ(out.size(), 3u);
	const auto &m = out[0].second;
	ASSERT_EQ(m["results"].size(), 2u);
	EXPECT_EQ(m["results"][0]["cell"], 0);  // cell order, whatever the file order
	EXPECT_EQ(m["results"][1]["cell"], 1);
	EXPECT_EQ(m["run"]["shards"].size(), 2u);
	EXPECT_EQ(m["run"]["shards_missing"], "2 of 3 shards given; shard 3/3 missing (cells 2)");
	EXPECT_EQ(m["run"]["shards_missing_detail"][0]["cells"], nlohmann::json({2}));
	EXPECT_EQ(out[1].second["run"]["kernel"]["release"], "6.1");  // another kernel: its own run
	EXPECT_FALSE(out[2].second["run"].contains("shards"));        // not a shard: untouched
}

// A cancelled task leaves a partial file; its rerun a complete one.  Given
// both, the merge keeps the complete one and says which it dropped; given
// only the partial one, it names the cells that have no result.
TEST(Compare, ShardRerunReplacesTheCancelledTask)
{
	auto shard = [](const char *which, std::vector<int> cells, const char *status, const char *started) {
		nlohmann::json rs = nlohmann::json::array();
		for (int c : cells)
			rs.push_back({{"cell", c}, {"workload", "fork-latency"}});
		// each shard's spec names its own output file (seen: the merge kept them apart)
		return nlohmann::json{{"run", {{"status", status}, {"started", started}, {"kernel", {{"release", "6.18"}}},
					       {"odf", {{"variant", "none"}}}, {"host", nlohmann::json::object()},
					       {"spec", {{"name", "s"}, {"output", std::string(which) + started}}},
					       {"selection", {{"shard", which}, {"total_cells", 5}}}}},
				      {"results", rs}};
	};
	auto partial = shard("2/2", {1}, "interrupted", "2026-12-05T10:00:00Z");
	auto rerun = shard("2/2", {1, 3}, "complete", "2026-12-05T09:00:00Z");  // complete wins even if older
	auto one = shard("1/2", {0, 2, 4}, "complete", "2026-12-05T10:00:00Z");
	auto both = merge_shards({"one.json", "partial.json", "rerun.json"}, {one, partial, rerun});
	ASSERT_EQ(both.size(), 1u);
	const auto &m = both[0].second;
	EXPECT_EQ(m["results"].size(), 5u);
	for (int c = 0; c < 5; ++c)
		EXPECT_EQ(m["results"][c]["cell"], c);  // every cell exactly once
	EXPECT_FALSE(m["run"].contains("shards_missing"));
	EXPECT_EQ(m["run"]["status"], "complete");
	ASSERT_EQ(m["run"]["shards_replaced"].size(), 1u);
	EXPECT_EQ(m["run"]["shards_replaced"][0]["dropped"], "partial.json");
	auto cut = merge_shards({"one.json", "partial.json"}, {one, partial})[0].second;
	EXPECT_EQ(cut["run"]["shards_missing"], "2 of 2 shards given; shard 2/2 incomplete (cells 3)");
	EXPECT_EQ(cut["run"]["status"], "interrupted");
}
