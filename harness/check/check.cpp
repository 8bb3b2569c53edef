#include "base/version.h"
#include "check/check.h"

#include <algorithm>
#include <memory>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "odf/switch.h"
#include "record/result_stream.h"
#include "base/kmsg.h"
#include "check/host_setup.h"
#include "base/supervise.h"
#include "base/sysinfo.h"
#include "odf/tfork_guard.h"

namespace odfb {

namespace {

std::vector<CheckDef> &registry()
{
	static std::vector<CheckDef> r;
	return r;
}

std::string signal_name(int sig)
{
	const char *abbrev = sigabbrev_np(sig);
	return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

// Kernel log records that appear while a check runs (/dev/kmsg, from its end).
class KernelLog {
public:
	KernelLog()
	{
		fd_ = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd_ >= 0)
			lseek(fd_, 0, SEEK_END);
	}
	~KernelLog()
	{
		if (fd_ >= 0)
			close(fd_);
	}
	bool available() const { return fd_ >= 0; }
	std::vector<std::string> drain()
	{
		std::vector<std::string> lines;
		char buf[8192];
		for (;;) {
			ssize_t n = read(fd_, buf, sizeof(buf) - 1);
			if (n < 0 && errno == EPIPE)  // overwritten records: skip on
				continue;
			if (n <= 0)
				break;
			std::string rec(buf, static_cast<size_t>(n));
			auto semi = rec.find(';');
			std::string msg = semi == std::string::npos ? rec : rec.substr(semi + 1);
			if (auto nl = msg.find('\n'); nl != std::string::npos)
				msg.resize(nl);
			if (lines.size() < 200)
				lines.push_back(msg);
		}
		return lines;
	}

private:
	int fd_ = -1;
};

void write_all(int fd, const std::string &s)
{
	size_t off = 0;
	while (off < s.size()) {
		ssize_t n = write(fd, s.data() + off, s.size() - off);
		if (n <= 0)
			return;
		off += static_cast<size_t>(n);
	}
}

std::string read_all(int fd)
{
	std::string s;
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			s.append(buf, static_cast<size_t>(n));
	return s;
}

std::string g_crash_note;  // in the check's runner: a child that died by a signal

[[noreturn]] void check_runner(const CheckDef &def, Mode mode, const OdfInfo &odf, int out_fd)
{
	signal(SIGPIPE, SIG_IGN);  // a child that is gone reads as EOF/EPIPE, not a kill
	nlohmann::json r;
	try {
		TrialEnv env;
		env.mode = mode;
		env.odf = &odf;
		env.fork_fn = [] { return fork(); };
		if (mode == Mode::Odf && !def.odf_only)
			r["enable"] = enable_in_process(env);
		else if (mode == Mode::OdfProcfs)
			throw std::logic_error("check runs fork and odf modes only");
		CheckCtx ctx(mode, odf, env.fork_fn);
		Verdict v = def.fn(ctx);
		r["status"] = v.status;
		r["detail"] = v.detail;
		r["forks"] = ctx.forks();
		r["odf_forks"] = ctx.odf_forks();
		if (!g_crash_note.empty() && v.status != "pass") {
			r["status"] = "crashed";
			r["detail"] = g_crash_note + (v.detail.empty() ? "" : "; " + v.detail);
		}
	} catch (const std::exception &e) {
		r["status"] = "error";
		r["detail"] = e.what();
	}
	write_all(out_fd, r.dump());
	_exit(0);
}

long kernel_taint()
{
	FILE *f = fopen("/proc/sys/kernel/tainted", "r");
	long t = -1;
	if (f) {
		if (fscanf(f, "%ld", &t) != 1)
			t = -1;
		fclose(f);
	}
	return t;
}

nlohmann::json run_one(const CheckDef &def, Mode mode, const OdfInfo &odf, int timeout_s)
{
	KernelLog klog;
	long taint_before = kernel_taint();
	uint64_t t0 = now_ns();
	SupervisedGroup group([&](int out_fd) { check_runner(def, mode, odf, out_fd); });
	std::string out;
	bool hung = false;
	for (;;) {
		if (interrupted())
			break;
		if ((now_ns() - t0) / 1e9 > timeout_s) {
			hung = true;
			break;
		}
		if (group.poll_output(out, 200) == SupervisedGroup::Output::Closed)
			break;
	}
	// The check's whole group goes, children stuck in a hung check included.
	// A process stuck in the kernel (after an oops, say) ignores SIGKILL:
	// wait 10 s at most, then call the kernel wedged.
	bool reaped = group.stop(0, 10000);
	int status = group.status();

	nlohmann::json r;
	if (!reaped) {
		r = {{"status", hung ? "hung" : "crashed"},
		     {"detail", fmt::format("{}; its processes survive SIGKILL (stuck in the kernel): the kernel is wedged",
					    hung ? fmt::format("no verdict within {} s", timeout_s) : "no clean exit")},
		     {"wedged", true}};
	} else if (hung) {
		r = {{"status", "hung"}, {"detail", fmt::format("no verdict within {} s; its process tree was killed", timeout_s)}};
	} else if (interrupted()) {
		r = {{"status", "error"}, {"detail", "interrupted"}};
	} else if (WIFSIGNALED(status) && out.empty()) {
		r = {{"status", "crashed"}, {"detail", fmt::format("the check's process died by {}", signal_name(WTERMSIG(status)))}};
	} else {
		try {
			r = nlohmann::json::parse(out);
		} catch (const std::exception &) {
			r = {{"status", "crashed"}, {"detail", fmt::format("no verdict: the check's process ended with status {:#x}", status)}};
		}
	}
	// Never report an ODF result that was not ODF.
	if (mode == Mode::Odf && !def.odf_only && (r["status"] == "pass" || r["status"] == "fail")) {
		uint64_t forks = r.value("forks", 0ull), odf_forks = r.value("odf_forks", 0ull);
		if (forks == 0 || odf_forks != forks) {
			r["detail"] = fmt::format("ODF was requested but {} of {} children ran with ODF on; the verdict was \"{}\"{}",
						  odf_forks, forks, r["status"].get<std::string>(),
						  r["detail"].get<std::string>().empty() ? "" : ": " + r["detail"].get<std::string>());
			r["status"] = "error";
		}
	}
	r["seconds"] = (now_ns() - t0) / 1e9;
	long taint_after = kernel_taint();
	r["kernel_taint"] = {{"before", taint_before}, {"after", taint_after}};
	if (taint_after != taint_before)
		r["kernel_tainted_here"] = true;  // an oops, BUG or warning during this check
	r["dmesg"] = klog.available() ? nlohmann::json(klog.drain()) : nlohmann::json("unavailable: /dev/kmsg unreadable");
	return r;
}

}  // namespace

CheckCtx::CheckCtx(Mode mode, const OdfInfo &odf, std::function<pid_t()> fork_fn)
	: mode_(mode), odf_(&odf), fork_fn_(std::move(fork_fn))
{
	void *p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		throw std::runtime_error(fmt::format("mmap of the counter page: {}", strerror(errno)));
	counters_ = static_cast<uint64_t *>(p);
}

CheckCtx::~CheckCtx()
{
	if (counters_)
		munmap(counters_, 4096);
}

bool CheckCtx::in_vm() const { return getenv("ODFBENCH_VM_INFO") != nullptr; }

pid_t CheckCtx::fork_raw() { return fork_fn_(); }

void CheckCtx::child_started()
{
	__atomic_add_fetch(&counters_[0], 1, __ATOMIC_SEQ_CST);
	if (read_use_odf(getpid()) == "1")
		__atomic_add_fetch(&counters_[1], 1, __ATOMIC_SEQ_CST);
}

uint64_t CheckCtx::forks() const { return __atomic_load_n(&counters_[0], __ATOMIC_SEQ_CST); }
uint64_t CheckCtx::odf_forks() const { return __atomic_load_n(&counters_[1], __ATOMIC_SEQ_CST); }

std::string CheckCtx::in_child(const std::function<std::string()> &fn)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return fmt::format("pipe: {}", strerror(errno));
	pid_t pid = fork_raw();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return fmt::format("fork: {}", strerror(errno));
	}
	if (pid == 0) {
		close(pfd[0]);
		child_started();
		std::string v;
		try {
			v = fn();
		} catch (const std::exception &e) {
			v = fmt::format("exception in the child: {}", e.what());
		}
		write_all(pfd[1], v.empty() ? std::string("ok") : v);
		_exit(0);
	}
	close(pfd[1]);
	std::string v = read_all(pfd[0]);
	close(pfd[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	if (WIFSIGNALED(status)) {
		g_crash_note = fmt::format("a child died by {}", signal_name(WTERMSIG(status)));
		return g_crash_note;
	}
	if (v.empty())
		return fmt::format("the child exited with status {} and no verdict", WEXITSTATUS(status));
	return v == "ok" ? "" : v;
}

bool register_check(CheckDef def)
{
	registry().push_back(std::move(def));
	return true;
}

const std::vector<CheckDef> &all_checks()
{
	auto &r = registry();
	// Plain semantics first; the checks most likely to wedge a buggy kernel
	// (khugepaged, concurrency) last, so one kernel oops costs as few verdicts as possible.
	auto rank = [](const std::string &g) {
		static const std::vector<std::string> order = {"isolation",     "sharing", "vma-ops",    "features",    "thp-states",
								 "swap",          "pinning", "soft-dirty", "userfaultfd", "remote-writes",
								 "odf-interface", "khugepaged", "concurrency"};
		auto it = std::find(order.begin(), order.end(), g);
		return it == order.end() ? -1 : static_cast<int>(it - order.begin());
	};
	std::stable_sort(r.begin(), r.end(), [&](const CheckDef &a, const CheckDef &b) {
		return a.group != b.group ? rank(a.group) < rank(b.group) : a.name < b.name;
	});
	return r;
}

void fill_pages(char *p, uint64_t bytes, uint32_t tag)
{
	long page = sysconf(_SC_PAGESIZE);
	for (uint64_t off = 0, i = 0; off < bytes; off += page, ++i) {
		uint64_t v = (static_cast<uint64_t>(tag) << 32) | i;
		memcpy(p + off, &v, 8);
		memcpy(p + off + page - 8, &v, 8);
	}
}

std::string verify_pages(const char *p, uint64_t bytes, uint32_t tag)
{
	long page = sysconf(_SC_PAGESIZE);
	for (uint64_t off = 0, i = 0; off < bytes; off += page, ++i) {
		uint64_t want = (static_cast<uint64_t>(tag) << 32) | i, a, b;
		memcpy(&a, p + off, 8);
		memcpy(&b, p + off + page - 8, 8);
		if (a != want || b != want)
			return fmt::format("page {} holds {:#x}/{:#x}, expected {:#x}", i, a, b, want);
	}
	return "";
}

nlohmann::json run_checks(const OdfInfo &odf, const CheckOptions &opts)
{
	nlohmann::json doc = {{"kind", "odfbench-check"},
			      {"tool", {{"name", "odfbench"}, {"version", kVersion}, {"git", kGitDescribe}}},
			      {"started", utc_timestamp()},
			      {"kernel", {{"release", kernel_release()}, {"btf", kernel_btf_present()}}},
			      {"odf", odf_json(odf)},
			      {"host", host_json()},
			      {"environment", {{"vm", vm_environment()}}},
			      {"modes", nlohmann::json::array()},
			      {"first_taint", nullptr},  // the check during which the kernel first got tainted
			      {"checks", nlohmann::json::array()}};
	for (auto m : opts.modes)
		doc["modes"].push_back(mode_name(m));
	std::vector<const CheckDef *> chosen;
	std::vector<size_t> index;
	nlohmann::json planned = nlohmann::json::array();
	for (size_t k : select_checks(opts.only))
		if (!opts.cells || std::binary_search(opts.cells->begin(), opts.cells->end(), k)) {
			chosen.push_back(&all_checks()[k]);
			index.push_back(k);
			planned.push_back({{"cell", k}, {"name", all_checks()[k].name}, {"group", all_checks()[k].group},
					   {"description", all_checks()[k].description}});
		}
	ResultStream stream(opts.stream_path);
	stream.send({{"event", "header"}, {"output", ""}, {"planned", planned}, {"doc", doc}});
	if (auto undone = undo_stale_host_setup(); !undone.empty())
		doc["host_setup_undone"] = undone;  // a killed odfbench's swap device or khugepaged knobs
	KmsgReader kmsg;
	int settle_ms = getenv("ODFBENCH_VM_INFO") ? 300 : 60;  // a guest under TCG frees an mm later
	bool tty = opts.progress && isatty(2);
	size_t i = 0;
	std::string wedged;  // the check after which the kernel stopped killing processes
	// In a guest, a check that drew kernel warnings or tainted the kernel ends
	// the boot: the checks after it run in a fresh one (odfbench vm boots it),
	// so no verdict comes from a kernel an earlier check had damaged.  On a
	// real machine the run goes on, and first_taint says from where.
	bool in_guest = getenv("ODFBENCH_VM_INFO") != nullptr;
	std::string damaged;  // the check after which this guest's kernel is not fresh
	for (const auto *d : chosen) {
		size_t cell = index[i];
		++i;
		nlohmann::json c = {{"cell", cell}, {"name", d->name}, {"group", d->group}, {"description", d->description}, {"results", nlohmann::json::object()}};
		// Set up once the check will really run (a kernel without ODF skips its odf mode), undone when it is done.
		std::unique_ptr<HostSetup> setup;
		for (auto m : opts.modes) {
			std::string mn = mode_name(m);
			if (interrupted()) {
				c["results"][mn] = {{"status", "error"}, {"detail", "interrupted"}};
				continue;
			}
			if (is_odf_mode(m) && odf.variant == OdfVariant::None) {
				c["results"][mn] = {{"status", "unavailable"},
						    {"detail", fmt::format("kernel {} has no ODF", kernel_release())}};
				continue;
			}
			if (m == Mode::Fork && d->odf_only) {
				c["results"][mn] = {{"status", "n/a"}, {"detail", "an ODF interface check"}};
				continue;
			}
			if (!wedged.empty()) {
				c["results"][mn] = {{"status", "skipped"}, {"detail", fmt::format("{}: the kernel is wedged since {}", kNeedsFreshKernel, wedged)}};
				continue;
			}
			if (!damaged.empty()) {
				c["results"][mn] = {{"status", "skipped"},
						    {"detail", fmt::format("{}: the kernel reported problems during {}", kNeedsFreshKernel, damaged)}};
				continue;
			}
			if (!d->needs.empty() && !setup) {
				setup = std::make_unique<HostSetup>(d->needs);
				c["host_setup"] = setup->json();
			}
			if (setup && !setup->unavailable().empty()) {
				c["results"][mn] = {{"status", "unsupported"}, {"detail", setup->unavailable()}};
				continue;
			}
			if (tty)
				fmt::print(stderr, "\r\033[K[{}/{}] {} ({})", i, chosen.size(), d->name, mn);
			kmsg.drain();  // what came before this check is not its own
			stream.send({{"event", "cell-start"}, {"cell", cell}, {"mode", mn}});
			c["results"][mn] = run_one(*d, m, odf, opts.timeout_s);
			// The check's processes are reaped; an mm is checked when freed, a
			// moment later: the lines from now until the log is quiet are this check's.
			if (auto lines = kernel_problem_lines(drain_settled(kmsg, settle_ms, 3000)); !lines.empty()) {
				bool fatal = false;
				for (const auto &l : lines)
					fatal |= classify_kernel_line(l) == KernelLine::Fatal;
				c["results"][mn]["kernel_lines"] = lines;
				c["results"][mn]["kernel_verdict"] = fatal ? "fatal" : "warnings";
			}
			stream.send({{"event", "cell"}, {"result", c}});  // after each verdict: a crash in the next mode keeps this one
			if (c["results"][mn].value("wedged", false))
				wedged = fmt::format("{} ({})", d->name, mn);
			else if (in_guest && (c["results"][mn].contains("kernel_verdict") || c["results"][mn].value("kernel_tainted_here", false)))
				damaged = fmt::format("{} ({})", d->name, mn);
			if (opts.checkpoint)
				opts.checkpoint(doc, c);
		}
		setup.reset();  // undone before the next check: no check sees another's setup
		if (tty)
			fmt::print(stderr, "\r\033[K");
		for (auto &[m, r] : c["results"].items())
			if (r.value("kernel_tainted_here", false) && doc["first_taint"].is_null())
				doc["first_taint"] = fmt::format("{} ({})", d->name, m);
		stream.send({{"event", "cell"}, {"result", c}});  // whole: with the modes that were not run
		doc["checks"].push_back(c);
	}
	doc["finished"] = utc_timestamp();
	doc["status"] = interrupted() ? "interrupted" : "complete";
	if (!wedged.empty())
		doc["wedged_at"] = wedged;
	stream.send({{"event", "finish"}, {"run", {{"finished", doc["finished"]}, {"status", doc["status"]}}}});
	return doc;
}

bool checks_failed(const nlohmann::json &doc)
{
	bool bad = doc.value("status", "") != "complete";
	for (const auto &c : doc["checks"])
		for (const auto &[mode, r] : c["results"].items()) {
			std::string st = r.value("status", "");
			bad |= st == "fail" || st == "crashed" || st == "hung" || st == "error" || st == "kernel-crash";
			bad |= r.contains("kernel_verdict");  // the kernel found bad state while the check ran
		}
	return bad;
}

std::vector<size_t> select_checks(const std::string &only)
{
	const auto &all = all_checks();
	for (size_t k = 0; k < all.size(); ++k)
		if (all[k].name == only)
			return {k};
	std::vector<size_t> out;
	for (size_t k = 0; k < all.size(); ++k)
		if (only.empty() || all[k].name.find(only) != std::string::npos)
			out.push_back(k);
	return out;
}

}  // namespace odfb
