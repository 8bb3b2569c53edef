// The open-loop client against a fake server whose stall we control: every
// request scheduled during a stall must come back late (no coordinated
// omission), and the cross-checks must hold or name what broke.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "run/open_loop.h"
#include "base/sysinfo.h"

using namespace odfb;

namespace {
// A server that answers at once, except during [stall_from, stall_to).
struct StallingServer {
	std::atomic<uint64_t> stall_from{UINT64_MAX}, stall_to{0};
	bool serve() const
	{
		uint64_t now = now_ns();
		if (now >= stall_from && now < stall_to)
			sleep_until_ns(stall_to);
		return true;
	}
};
}  // namespace

TEST(OpenLoop, StallDelaysEveryRequestScheduledInIt)
{
	StallingServer srv;
	OpenLoopConfig cfg;
	cfg.rate_per_s = 1000;  // one request per ms
	cfg.connections = 1;
	OpenLoop load(cfg, [&](unsigned) { return [&] { return srv.serve(); }; });
	uint64_t t0 = load.start();
	// A 50 ms stall starting 100 ms in: a closed-loop client would record one
	// slow request; at 1000/s about 50 were due during it.
	srv.stall_to = t0 + 150'000'000;
	srv.stall_from = t0 + 100'000'000;
	load.stop(t0 + 300'000'000);
	EXPECT_TRUE(load.problems().empty()) << load.problems().front();
	const auto &tot = load.totals();
	EXPECT_EQ(tot.sent, tot.answered + tot.failed);
	EXPECT_EQ(tot.scheduled, 300u);
	EXPECT_EQ(tot.stored, tot.scheduled);
	auto during = latency_stats(load.samples(), [&](const OpenLoopSample &s) {
		return s.intended_ns >= t0 + 100'000'000 && s.intended_ns < t0 + 150'000'000;
	});
	EXPECT_EQ(during.requests, 50u);
	// The request due at the stall's start waited the whole stall; the median
	// one about half of it (ground truth: stall end - intended start).
	EXPECT_GE(during.max_ns, 45'000'000u);
	EXPECT_GE(during.p50_ns, 20'000'000u);
	size_t slow = 0;
	for (const auto &s : load.samples())
		slow += s.latency_ns >= 1'000'000;
	EXPECT_GE(slow, 40u) << "requests delayed by the stall";
}

TEST(OpenLoop, FailedRequestsAreCountedAndNamed)
{
	OpenLoopConfig cfg;
	cfg.rate_per_s = 2000;
	cfg.connections = 2;
	std::atomic<int> n{0};
	OpenLoop load(cfg, [&](unsigned) {
		return [&]() -> bool {
			if (++n % 10 == 0)
				throw std::runtime_error("server said no");
			return true;
		};
	});
	uint64_t t0 = load.start();
	load.stop(t0 + 50'000'000);
	const auto &tot = load.totals();
	EXPECT_EQ(tot.scheduled, 100u);
	EXPECT_EQ(tot.sent, tot.answered + tot.failed);
	EXPECT_EQ(tot.failed, 10u);
	EXPECT_EQ(tot.first_error, "server said no");
}

TEST(OpenLoop, SampleCapIsReportedNotHidden)
{
	OpenLoopConfig cfg;
	cfg.rate_per_s = 10000;
	cfg.connections = 1;
	cfg.max_samples = 100;
	OpenLoop load(cfg, [&](unsigned) { return [] { return true; }; });
	uint64_t t0 = load.start();
	load.stop(t0 + 50'000'000);  // 500 due, 100 kept
	EXPECT_EQ(load.totals().scheduled, 500u);
	EXPECT_FALSE(load.problems().empty());
}
