// Redis over its unix socket, for redis-snapshot: a control connection, one
// load connection (GET/SET of the filled dataset, checked), and the rate ramp
// that finds a load the server carries.  hiredis does the protocol.
#pragma once
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <nlohmann/json.hpp>

namespace odfb {

// Every key of the filled dataset holds this many bytes (DEBUG POPULATE).
constexpr int kRedisValueBytes = 1024;

class Redis {
public:
	explicit Redis(const std::string &socket) : socket_(socket) {}
	~Redis()
	{
		if (c_)
			redisFree(c_);
	}
	bool connect()
	{
		if (c_)
			redisFree(c_);
		c_ = redisConnectUnix(socket_.c_str());
		return c_ && !c_->err;
	}
	// The reply as text (status, string, or integer); throws on an error reply.
	std::string cmd(const std::vector<std::string> &args)
	{
		std::vector<const char *> argv;
		std::vector<size_t> lens;
		for (const auto &a : args) {
			argv.push_back(a.c_str());
			lens.push_back(a.size());
		}
		auto *r = static_cast<redisReply *>(redisCommandArgv(c_, static_cast<int>(argv.size()), argv.data(), lens.data()));
		if (!r)
			throw std::runtime_error(fmt::format("redis {}: {}", args[0], c_->errstr));
		std::string out;
		if (r->type == REDIS_REPLY_ERROR) {
			std::string e(r->str, r->len);
			freeReplyObject(r);
			throw std::runtime_error(fmt::format("redis {}: {}", args[0], e));
		}
		if (r->type == REDIS_REPLY_INTEGER)
			out = std::to_string(r->integer);
		else if (r->str)
			out.assign(r->str, r->len);
		freeReplyObject(r);
		return out;
	}
	// A field of INFO <section>, or "".
	std::string info(const std::string &section, const std::string &field)
	{
		std::string s = cmd({"INFO", section});
		auto at = s.find(field + ":");
		if (at == std::string::npos)
			return "";
		auto end = s.find_first_of("\r\n", at);
		return s.substr(at + field.size() + 1, end - at - field.size() - 1);
	}

private:
	std::string socket_;
	redisContext *c_ = nullptr;
};

// One load connection: its own hiredis context, used only by its own thread.
// GET or SET (a fraction `write_fraction` of the requests) of a random key of
// the filled dataset (key:0 .. key:<keys-1>, kRedisValueBytes each).
class LoadConn {
public:
	LoadConn(std::string socket, uint64_t keys, double write_fraction, uint64_t seed)
		: socket_(std::move(socket)), keys_(keys), write_fraction_(write_fraction), rng_(seed), value_(kRedisValueBytes, 'w')
	{
	}
	~LoadConn()
	{
		if (c_)
			redisFree(c_);
	}
	LoadConn(const LoadConn &) = delete;
	LoadConn &operator=(const LoadConn &) = delete;
	void connect()
	{
		if (c_)
			redisFree(c_);
		c_ = redisConnectUnix(socket_.c_str());
		if (!c_ || c_->err) {
			std::string e = c_ ? c_->errstr : "out of memory";
			if (c_)
				redisFree(c_);
			c_ = nullptr;
			throw std::runtime_error(fmt::format("cannot connect to redis on {}: {}", socket_, e));
		}
		struct timeval tv = {60, 0};  // a request stuck this long fails instead of hanging the trial
		redisSetTimeout(c_, tv);
	}
	// One request; throws (a failed request) with what went wrong.
	bool request()
	{
		if (!c_)
			connect();  // after a connection error
		bool write = coin_(rng_) < write_fraction_;
		char key[32];
		int kl = snprintf(key, sizeof key, "key:%llu", static_cast<unsigned long long>(rng_() % keys_));
		const char *argv[3] = {write ? "SET" : "GET", key, value_.data()};
		size_t lens[3] = {3, static_cast<size_t>(kl), value_.size()};
		(write ? sets_ : gets_)++;
		auto *r = static_cast<redisReply *>(redisCommandArgv(c_, write ? 3 : 2, argv, lens));
		if (!r) {
			std::string e = c_->errstr;
			redisFree(c_);
			c_ = nullptr;
			throw std::runtime_error(fmt::format("{} {}: {}", argv[0], key, e));
		}
		std::string bad;
		if (r->type == REDIS_REPLY_ERROR)
			bad = std::string(r->str, r->len);
		else if (write && !(r->type == REDIS_REPLY_STATUS && std::string_view(r->str, r->len) == "OK"))
			bad = "reply is not OK";
		else if (!write && r->type != REDIS_REPLY_STRING)
			bad = "no such key (the filled dataset lost it)";
		else if (!write && r->len != kRedisValueBytes)
			bad = fmt::format("value of {} bytes, not {}", r->len, kRedisValueBytes);
		freeReplyObject(r);
		if (!bad.empty())
			throw std::runtime_error(fmt::format("{} {}: {}", argv[0], key, bad));
		return true;
	}
	uint64_t gets() const { return gets_; }
	uint64_t sets() const { return sets_; }

private:
	std::string socket_;
	uint64_t keys_;
	double write_fraction_;
	std::mt19937_64 rng_;
	std::uniform_real_distribution<double> coin_{0.0, 1.0};
	std::string value_;
	redisContext *c_ = nullptr;
	uint64_t gets_ = 0, sets_ = 0;
};

// An open-loop rate ramp: the load at each rate for probe_ms, from the highest
// down, until one is carried (nine requests in ten sent within limit_ns of
// schedule, none failed).  Returns [[rate, p90 lateness ns, carried], ...].
// A closed-loop probe was tried first and overstated what a TCG guest carries
// open loop by 4x (the open loop's timed wake-ups cost more than the requests).
nlohmann::json rate_ramp(const std::string &socket, uint64_t keys, double write_fraction, unsigned connections,
			 const std::vector<double> &rates, int probe_ms, uint64_t limit_ns);

}  // namespace odfb
