#include "run/open_loop.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <ctime>
#include <stdexcept>
#include <sys/prctl.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/sysinfo.h"

namespace odfb {

void sleep_until_ns(uint64_t t_ns)
{
	struct timespec ts;
	ts.tv_sec = static_cast<time_t>(t_ns / 1'000'000'000ull);
	ts.tv_nsec = static_cast<long>(t_ns % 1'000'000'000ull);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
	}
}

OpenLoop::OpenLoop(const OpenLoopConfig &cfg, Connect connect) : cfg_(cfg), connect_(std::move(connect))
{
	if (!(cfg_.rate_per_s > 0) || !std::isfinite(cfg_.rate_per_s))
		throw std::invalid_argument("open loop: rate must be > 0");
	if (cfg_.connections < 1)
		throw std::invalid_argument("open loop: at least one connection");
	interval_ns_ = 1e9 / cfg_.rate_per_s;
	conns_.resize(cfg_.connections);
}

OpenLoop::~OpenLoop()
{
	if (!stopped_) {
		end_.store(0);                 // nothing more is due
		go_.store(UINT64_MAX);         // threads still waiting to start: abort
		go_.notify_all();
		join_all();
	}
}

uint64_t OpenLoop::intended(uint64_t seq) const
{
	return t0_ + static_cast<uint64_t>(std::llround(static_cast<double>(seq) * interval_ns_));
}

void OpenLoop::join_all()
{
	for (auto &c : conns_)
		if (c.thread.joinable())
			c.thread.join();
}

uint64_t OpenLoop::start(uint64_t lead_ns)
{
	if (conns_.front().thread.joinable() || stopped_)
		throw std::logic_error("open loop: started twice");
	for (unsigned c = 0; c < cfg_.connections; ++c)
		conns_[c].thread = std::thread([this, c] { run(c); });
	for (unsigned r; (r = ready_.load()) < cfg_.connections;)
		ready_.wait(r);
	for (unsigned c = 0; c < cfg_.connections; ++c)
		if (!conns_[c].connect_error.empty()) {
			go_.store(UINT64_MAX);
			go_.notify_all();
			join_all();
			stopped_ = true;
			throw std::runtime_error(fmt::format("load connection {}: {}", c, conns_[c].connect_error));
		}
	t0_ = now_ns() + lead_ns;
	go_.store(t0_);
	go_.notify_all();
	return t0_;
}

void OpenLoop::run(unsigned c)
{
	prctl(PR_SET_TIMERSLACK, 1UL);  // wake at the intended time, not up to 50 us after it
	Conn &me = conns_[c];
	Request req;
	try {
		req = connect_(c);
		if (!req)
			me.connect_error = "no request function";
	} catch (const std::exception &e) {
		me.connect_error = e.what();
	}
	ready_.fetch_add(1);
	ready_.notify_all();
	uint64_t go;
	while ((go = go_.load()) == 0)
		go_.wait(0);
	if (go == UINT64_MAX || !me.connect_error.empty())
		return;
	const unsigned n = cfg_.connections;
	const size_t cap = std::max<size_t>(1, cfg_.max_samples / n);
	me.samples.reserve(std::min<size_t>(cap, 1 << 16));
	for (uint64_t seq = c;; seq += n) {
		uint64_t due = intended(seq);
		if (due >= end_.load())
			break;
		sleep_until_ns(due);
		uint64_t end = end_.load();
		if (due >= end)
			break;
		uint64_t send = now_ns();
		if (end != UINT64_MAX && send - due > cfg_.drain_limit_ns)
			break;  // hopelessly behind after stop(): problems() reports the unsent rest
		++me.sent;
		bool ok = false;
		std::string err;
		try {
			ok = req();
			if (!ok)
				err = "request failed";
		} catch (const std::exception &e) {
			err = e.what();
		}
		uint64_t done = now_ns();
		if (ok) {
			++me.answered;
		} else {
			++me.failed;
			if (me.first_error.empty()) {
				me.first_error = err;
				me.first_error_at = done;
			}
		}
		if (me.samples.size() < cap)
			me.samples.push_back({seq, due, done - due, send - due, ok});
		else
			++me.dropped;
	}
}

void OpenLoop::stop(uint64_t end_ns)
{
	if (stopped_)
		return;
	// A schedule end in the past would disown requests already sent.
	end_ns_ = std::max(end_ns, now_ns());
	end_.store(end_ns_);
	join_all();
	stopped_ = true;

	size_t total = 0;
	for (const auto &c : conns_)
		total += c.samples.size();
	samples_.clear();
	samples_.reserve(total);
	uint64_t first_error_at = UINT64_MAX;
	totals_ = {};
	for (auto &c : conns_) {
		samples_.insert(samples_.end(), c.samples.begin(), c.samples.end());
		std::vector<OpenLoopSample>().swap(c.samples);
		totals_.sent += c.sent;
		totals_.answered += c.answered;
		totals_.failed += c.failed;
		if (c.first_error_at < first_error_at) {
			first_error_at = c.first_error_at;
			totals_.first_error = c.first_error;
		}
	}
	std::sort(samples_.begin(), samples_.end(), [](const auto &a, const auto &b) { return a.seq < b.seq; });
	totals_.stored = samples_.size();
	// Requests due before the end: the first seq whose intended start is not.
	uint64_t s = end_ns_ > t0_ ? static_cast<uint64_t>(static_cast<double>(end_ns_ - t0_) / interval_ns_) : 0;
	while (s > 0 && intended(s - 1) >= end_ns_)
		--s;
	while (intended(s) < end_ns_)
		++s;
	totals_.scheduled = s;
	for (size_t i = 1; i < samples_.size(); ++i)
		totals_.max_gap_ns = std::max(totals_.max_gap_ns, samples_[i].intended_ns - samples_[i - 1].intended_ns);
}

std::vector<std::string> OpenLoop::problems() const
{
	std::vector<std::string> p;
	if (!stopped_) {
		p.push_back("the load was never stopped");
		return p;
	}
	const auto &t = totals_;
	if (t.sent != t.answered + t.failed)
		p.push_back(fmt::format("requests sent {} != answered {} + failed {}", t.sent, t.answered, t.failed));
	if (t.sent != t.scheduled)
		p.push_back(fmt::format("{} requests sent of {} scheduled: a connection gave up catching up (more than {} s behind)", t.sent,
					t.scheduled, cfg_.drain_limit_ns / 1'000'000'000ull));
	if (t.stored != t.sent)
		p.push_back(fmt::format("{} of {} requests have no sample: max_samples ({}) reached", t.sent - t.stored, t.sent, cfg_.max_samples));
	// Every scheduled request has its sample: seq 0, 1, ..., scheduled - 1.
	for (size_t i = 0; i < samples_.size(); ++i)
		if (samples_[i].seq != i) {
			p.push_back(fmt::format("the series has a gap: request {} (due {:.3f} ms after the start) has no sample", i,
						(static_cast<double>(intended(i)) - static_cast<double>(t0_)) / 1e6));
			break;
		}
	if (samples_.size() < t.scheduled && (samples_.empty() || samples_.back().seq + 1 < t.scheduled))
		p.push_back(fmt::format("the series ends early: {} samples of {} scheduled requests", samples_.size(), t.scheduled));
	if (static_cast<double>(t.max_gap_ns) > std::ceil(interval_ns_))
		p.push_back(fmt::format("the series has a gap of {} ns between intended starts (schedule interval {:.0f} ns)", t.max_gap_ns,
					interval_ns_));
	return p;
}

namespace {
// The q-quantile of sorted, non-empty values, by nearest rank.
uint64_t nearest_rank(const std::vector<uint64_t> &sorted, double q)
{
	auto r = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
	return sorted[std::clamp<size_t>(r, 1, sorted.size()) - 1];
}
}  // namespace

LatencyStats latency_stats(const std::vector<OpenLoopSample> &samples, const std::function<bool(const OpenLoopSample &)> &keep)
{
	LatencyStats s;
	std::vector<uint64_t> lat;
	for (const auto &x : samples) {
		if (!keep(x))
			continue;
		++s.requests;
		s.max_lag_ns = std::max(s.max_lag_ns, x.lag_ns);
		if (x.ok)
			lat.push_back(x.latency_ns);
		else
			++s.failed;
	}
	s.answered = lat.size();
	if (lat.empty())
		return s;
	std::sort(lat.begin(), lat.end());
	s.p50_ns = nearest_rank(lat, 0.5);
	s.p99_ns = nearest_rank(lat, 0.99);
	s.p999_ns = nearest_rank(lat, 0.999);
	s.max_ns = lat.back();
	return s;
}

uint64_t lag_quantile(const std::vector<OpenLoopSample> &samples, double q, const std::function<bool(const OpenLoopSample &)> &keep)
{
	std::vector<uint64_t> lag;
	for (const auto &x : samples)
		if (keep(x))
			lag.push_back(x.lag_ns);
	if (lag.empty())
		return 0;
	std::sort(lag.begin(), lag.end());
	return nearest_rank(lag, q);
}

LoadCarried load_carried(const std::vector<OpenLoopSample> &samples, uint64_t event_start_ns, uint64_t event_end_ns,
			 uint64_t schedule_end_ns, double rate_per_s, uint64_t limit_ns, const std::string &event)
{
	LoadCarried c;
	auto in_before = [&](const OpenLoopSample &x) {
		return x.intended_ns < event_start_ns && x.intended_ns + x.latency_ns <= event_start_ns;
	};
	uint64_t recovery_from = event_end_ns + (schedule_end_ns > event_end_ns ? (schedule_end_ns - event_end_ns) / 2 : 0);
	auto in_recovery = [&](const OpenLoopSample &x) { return x.intended_ns >= recovery_from; };
	auto before = latency_stats(samples, in_before);
	auto recovery = latency_stats(samples, in_recovery);
	// The 90th percentile of how late requests went out: a queue makes most of
	// them late, a scheduling hiccup (frequent under TCG) only a few.
	c.before_behind_ns = lag_quantile(samples, 0.9, in_before);
	c.before_p99_ns = before.p99_ns;
	c.recovered_behind_ns = lag_quantile(samples, 0.9, in_recovery);
	c.recovery_requests = recovery.requests;
	auto ms = [](uint64_t ns) { return fmt::format("{:.1f} ms", static_cast<double>(ns) / 1e6); };
	std::vector<std::string> why;
	if (before.answered == 0)
		why.push_back(fmt::format("no request was answered before {}", event));
	else if (c.before_behind_ns > limit_ns)
		why.push_back(fmt::format("before {} one request in ten went out {} or more behind schedule (at worst {}; p99 latency {})",
					  event, ms(c.before_behind_ns), ms(before.max_lag_ns), ms(before.p99_ns)));
	if (recovery.requests == 0)
		why.push_back(fmt::format("no request was due in the last half of the time after {}", event));
	else if (c.recovered_behind_ns > limit_ns)
		why.push_back(fmt::format("in the last half of the time after {} one request in ten was still {} or more behind (at worst {})",
					  event, ms(c.recovered_behind_ns), ms(recovery.max_lag_ns)));
	if (!why.empty()) {
		c.kept_up = false;
		std::string all;
		for (const auto &w : why)
			all += (all.empty() ? "" : ", ") + w;
		c.why = fmt::format("the load was not carried at {:.0f} requests/s (limit {}): {}; its latencies measure a queue, not {}",
				    rate_per_s, ms(limit_ns), all, event);
	}
	return c;
}

void put_latency_stats(nlohmann::json &t, const std::string &prefix, const LatencyStats &s)
{
	t[prefix + "_requests"] = s.requests;
	t[prefix + "_failed"] = s.failed;
	t[prefix + "_behind_ns"] = s.max_lag_ns;
	if (!s.answered)
		return;  // no latency rather than a latency of 0
	t[prefix + "_p50_ns"] = s.p50_ns;
	t[prefix + "_p99_ns"] = s.p99_ns;
	t[prefix + "_p999_ns"] = s.p999_ns;
	t[prefix + "_max_ns"] = s.max_ns;
}

nlohmann::json latency_series(const std::vector<OpenLoopSample> &samples, uint64_t origin_ns, uint64_t bin_ns)
{
	nlohmann::json out = nlohmann::json::array();
	if (bin_ns == 0)
		throw std::invalid_argument("latency_series: bin width 0");
	auto bin_of = [&](uint64_t t) {
		int64_t d = static_cast<int64_t>(t) - static_cast<int64_t>(origin_ns);
		int64_t b = static_cast<int64_t>(bin_ns);
		return d >= 0 ? d / b : -((-d + b - 1) / b);  // floor
	};
	bool open = false;
	int64_t bin = 0;
	uint64_t worst = 0, count = 0;
	auto flush = [&] {
		if (open)
			out.push_back({bin * static_cast<int64_t>(bin_ns), worst, count});
	};
	for (const auto &s : samples) {  // in schedule order, so bins come in order
		int64_t b = bin_of(s.intended_ns);
		if (!open || b != bin) {
			flush();
			open = true;
			bin = b;
			worst = 0;
			count = 0;
		}
		worst = std::max(worst, s.latency_ns);
		++count;
	}
	flush();
	return out;
}

}  // namespace odfb
