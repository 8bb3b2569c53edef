// An open-loop load generator: requests start at fixed intended times, from a
// fixed-rate schedule, whatever the server does, and each request's latency is
// measured from its intended start (as wrk2 does).  A server that stalls for
// 100 ms therefore shows every request scheduled during the stall as late, not
// one slow sample (closed-loop clients' "coordinated omission").
//
// N connections, one thread each.  The schedule is global: request `seq` is
// due at t0 + seq * interval (interval = 1 s / rate), and connection c issues
// requests c, c + N, c + 2N, ... in order, one at a time.  A connection that is
// behind (its previous request is not answered yet when the next is due) sends
// the next one at once and catches up; how far behind it was is kept per
// sample (`lag_ns`), so a client that cannot keep up shows, rather than hides.
//
// Nothing here knows what a request is: the caller's `Connect` makes, in each
// connection's thread, the function that performs one request.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace odfb {

struct OpenLoopSample {
	uint64_t seq = 0;          // index in the schedule, over all connections
	uint64_t intended_ns = 0;  // intended start (now_ns() clock: CLOCK_MONOTONIC)
	uint64_t latency_ns = 0;   // answer (or failure) time - intended start
	uint64_t lag_ns = 0;       // actual send time - intended start
	bool ok = false;           // answered; false: failed
};

struct OpenLoopConfig {
	double rate_per_s = 4000;        // all connections together
	unsigned connections = 4;        // one thread (and one Request) each
	size_t max_samples = 1'000'000;  // samples kept, all connections together
	// After stop(): a connection still this far behind gives up on the rest
	// (they count as scheduled but not sent, which problems() reports).
	uint64_t drain_limit_ns = 60'000'000'000ull;
};

struct OpenLoopTotals {
	uint64_t scheduled = 0;  // requests due before the end of the schedule
	uint64_t sent = 0, answered = 0, failed = 0;
	uint64_t stored = 0;      // samples kept (all of them unless max_samples was reached)
	uint64_t max_gap_ns = 0;  // largest interval between consecutive intended starts among the samples
	std::string first_error;  // of the first failed request
};

class OpenLoop {
public:
	// One request; only its connection's thread calls it.  true: answered;
	// false or an exception: failed (the exception's message is kept).
	using Request = std::function<bool()>;
	// Called once per connection, in that connection's thread, before the
	// schedule starts: set up its state (a socket, say) and return its
	// Request.  An exception makes start() throw.
	using Connect = std::function<Request(unsigned conn)>;

	OpenLoop(const OpenLoopConfig &cfg, Connect connect);
	~OpenLoop();  // stops (at once) and joins
	OpenLoop(const OpenLoop &) = delete;
	OpenLoop &operator=(const OpenLoop &) = delete;

	// Connects every connection, then starts the schedule `lead_ns` later;
	// returns t0, the first intended start.  Throws std::runtime_error when a
	// connection cannot be made (after stopping the others).
	uint64_t start(uint64_t lead_ns = 2'000'000);
	// Ends the schedule at `end_ns`: every request due before it is issued and
	// answered (a connection that is behind catches up first, up to
	// drain_limit_ns), none due at or after it.  Blocks until every connection
	// is done.  `end_ns` may lie in the future.
	void stop(uint64_t end_ns);

	uint64_t t0() const { return t0_; }
	double interval_ns() const { return interval_ns_; }  // between consecutive intended starts
	uint64_t intended(uint64_t seq) const;
	// After stop(): the samples in schedule order, the totals, and what the
	// cross-checks found wrong (empty when they held): sent == answered +
	// failed; every scheduled request has its sample (no gap in the series
	// longer than the schedule's interval).
	const std::vector<OpenLoopSample> &samples() const { return samples_; }
	const OpenLoopTotals &totals() const { return totals_; }
	std::vector<std::string> problems() const;

private:
	struct Conn {
		std::thread thread;
		std::vector<OpenLoopSample> samples;
		uint64_t sent = 0, answered = 0, failed = 0, dropped = 0;
		std::string first_error, connect_error;
		uint64_t first_error_at = UINT64_MAX;
	};
	void run(unsigned c);
	void join_all();

	OpenLoopConfig cfg_;
	Connect connect_;
	double interval_ns_ = 0;
	uint64_t t0_ = 0, end_ns_ = 0;
	std::vector<Conn> conns_;
	std::atomic<uint64_t> end_{UINT64_MAX};
	std::atomic<uint64_t> go_{0};  // t0 once the schedule may start; UINT64_MAX: abort
	std::atomic<unsigned> ready_{0};
	std::vector<OpenLoopSample> samples_;
	OpenLoopTotals totals_;
	bool stopped_ = false;
};

// Latency statistics of the samples `keep` selects.  Percentiles are nearest
// rank over the answered requests (p999 of fewer than 1000 is the maximum).
struct LatencyStats {
	uint64_t requests = 0, answered = 0, failed = 0;
	uint64_t p50_ns = 0, p99_ns = 0, p999_ns = 0, max_ns = 0;
	uint64_t max_lag_ns = 0;  // how far the client was behind schedule, at worst
};
LatencyStats latency_stats(const std::vector<OpenLoopSample> &samples, const std::function<bool(const OpenLoopSample &)> &keep);
// Writes <prefix>_requests, _failed, _p50_ns, _p99_ns, _p999_ns, _max_ns, _behind_ns into t.
void put_latency_stats(nlohmann::json &t, const std::string &prefix, const LatencyStats &s);

// Whether the server carried the load, judged outside the event under study
// (a snapshot): before it, nine requests in ten went out within limit_ns of
// their schedule; and in the last half of the time after it, the same again
// (the event's backlog drained).  A load that fails this measured a growing
// queue, not the event; a few late requests (a scheduling hiccup) do not fail it.
struct LoadCarried {
	bool kept_up = true;
	uint64_t before_behind_ns = 0, recovered_behind_ns = 0;  // the 90th percentile of lateness
	uint64_t before_p99_ns = 0;
	uint64_t recovery_requests = 0;  // requests in the last half of the after window
	std::string why;                 // when !kept_up: the numbers that show it
};
LoadCarried load_carried(const std::vector<OpenLoopSample> &samples, uint64_t event_start_ns, uint64_t event_end_ns,
			 uint64_t schedule_end_ns, double rate_per_s, uint64_t limit_ns, const std::string &event = "the event");

// The q-quantile (nearest rank) of how late the selected requests went out; 0 if none.
uint64_t lag_quantile(const std::vector<OpenLoopSample> &samples, double q, const std::function<bool(const OpenLoopSample &)> &keep);

// Sleeps until now_ns() reaches t_ns (CLOCK_MONOTONIC, absolute).
void sleep_until_ns(uint64_t t_ns);

// The latency time series in bins of `bin_ns` by intended start:
// [[bin start - origin_ns, worst latency in the bin, requests in the bin], ...],
// empty bins left out.
nlohmann::json latency_series(const std::vector<OpenLoopSample> &samples, uint64_t origin_ns, uint64_t bin_ns);

}  // namespace odfb
