// `odfbench check`: semantic tests of fork, run under classic fork and under
// ODF, each in its own sacrificial process tree with a timeout.  A check is
// one function in checks/, registered with ODFBENCH_CHECK; it forks only
// through CheckCtx, which records whether each child really was ODF.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>
#include <nlohmann/json_fwd.hpp>

#include "odf/detect.h"
#include "run/mode.h"
#include "run/trial_env.h"

namespace odfb {

struct Verdict {
	std::string status;  // pass | fail | unsupported
	std::string detail;  // what differed, or why unsupported
};
inline Verdict pass(std::string note = "") { return {"pass", std::move(note)}; }  // note: what was exercised
inline Verdict fail(std::string what) { return {"fail", std::move(what)}; }
inline Verdict unsupported(std::string why) { return {"unsupported", std::move(why)}; }

class CheckCtx {
public:
	CheckCtx(Mode mode, const OdfInfo &odf, std::function<pid_t()> fork_fn);
	~CheckCtx();
	Mode mode() const { return mode_; }
	const OdfInfo &odf() const { return *odf_; }
	bool in_vm() const;  // inside `odfbench vm`, where host-wide knobs may be turned

	// Forks (the mode's way) a child that runs `fn` and exits; returns its
	// verdict.  A child killed by a signal is a failure naming the signal.
	std::string in_child(const std::function<std::string()> &fn);
	// The raw fork, for checks that manage their own children.  The child
	// must call child_started() first thing.
	pid_t fork_raw();
	void child_started();
	// How many children were forked, and how many of them ran with ODF on.
	uint64_t forks() const;
	uint64_t odf_forks() const;

private:
	Mode mode_;
	const OdfInfo *odf_;
	std::function<pid_t()> fork_fn_;
	uint64_t *counters_ = nullptr;  // MAP_SHARED: children count themselves
};

using CheckFn = std::function<Verdict(CheckCtx &)>;

struct CheckDef {
	std::string name, group, description;
	CheckFn fn;
	// An ODF interface check: shown as n/a under fork; under odf its runner
	// starts with ODF off and the check switches it itself.
	bool odf_only = false;
	// Machine-wide state the check needs (check/host_setup.h: kNeedSwap,
	// kNeedKhugepaged), set up by odfbench around the check and undone after
	// it; when it cannot be had, the check is unsupported with the reason.
	std::vector<std::string> needs = {};
};

bool register_check(CheckDef def);
const std::vector<CheckDef> &all_checks();

struct CheckOptions {
	std::vector<Mode> modes{Mode::Fork, Mode::Odf};
	int timeout_s = 30;
	std::string only;  // run only checks whose name contains this
	std::optional<std::vector<size_t>> cells;  // and of those only these indices into all_checks()
	std::string stream_path;  // ODFBENCH_STREAM: each verdict as it comes (result_stream.h)
	bool progress = true;
	// Called after every verdict with the document so far and the check in
	// progress, so an interrupted or killed run still leaves its verdicts.
	std::function<void(const nlohmann::json &doc, const nlohmann::json &current)> checkpoint;
};

// Indices into all_checks() that --only selects: an exact name alone, else
// every check whose name contains it ("" selects all).
std::vector<size_t> select_checks(const std::string &only);

// Runs every check under every mode; never throws for a failing check.
nlohmann::json run_checks(const OdfInfo &odf, const CheckOptions &opts);
std::string checks_markdown(const nlohmann::json &doc);
// Any verdict that is a failure (fail, crashed, hung, error, kernel-crash), a
// kernel warning during a check, or a document that did not complete: the
// command exits 1.
bool checks_failed(const nlohmann::json &doc);
std::string checks_text(const nlohmann::json &doc);

// Page-pattern helpers shared by the checks: page i of a region holds
// (tag << 32 | i) in its first and last word.
void fill_pages(char *p, uint64_t bytes, uint32_t tag);
// "" if every page holds the tag, else where it first does not.
std::string verify_pages(const char *p, uint64_t bytes, uint32_t tag);

}  // namespace odfb

#define ODFBENCH_CHECK_CAT2(a, b) a##b
#define ODFBENCH_CHECK_CAT(a, b) ODFBENCH_CHECK_CAT2(a, b)
#define ODFBENCH_CHECK(...)                                                                               \
	namespace {                                                                                       \
	[[maybe_unused]] const bool ODFBENCH_CHECK_CAT(odfbench_check_, __LINE__) = ::odfb::register_check(__VA_ARGS__); \
	}
