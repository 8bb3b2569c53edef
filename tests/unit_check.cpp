// The check runner's verdict classes, proven with checks registered only in
// this test binary: a check that fails, hangs, crashes, or whose child crashes
// must be reported as such, never as a pass.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "../checks/cow_util.h"
#include "check/check.h"
#include "check/host_setup.h"
#include "base/kmsg.h"

using namespace odfb;

ODFBENCH_CHECK({"t-pass", "test", "passes", [](CheckCtx &ctx) { return ctx.in_child([] { return std::string(); }).empty() ? pass() : fail("x"); }})
ODFBENCH_CHECK({"t-fail", "test", "fails", [](CheckCtx &) { return fail("the pages differed"); }})
ODFBENCH_CHECK({"t-hang", "test", "hangs", [](CheckCtx &) {
			for (;;)
				pause();
			return pass();
		}})
ODFBENCH_CHECK({"t-crash", "test", "crashes itself", [](CheckCtx &) {
			raise(SIGSEGV);
			return pass();
		}})
ODFBENCH_CHECK({"t-child-crash", "test", "its child crashes", [](CheckCtx &ctx) {
			std::string f = ctx.in_child([]() -> std::string { abort(); });
			return f.empty() ? pass() : fail(f);
		}})
// The shared frame must notice a child whose view differs from what it expects.
ODFBENCH_CHECK({"t-frame-detects", "test", "op_after_fork sees a wrong page", [](CheckCtx &ctx) {
			checks::Region r(4 * checks::kWindow);
			return checks::op_after_fork(
				ctx, r,
				[](checks::Region &r) {
					checks::set_page(r.p(), 700, 3);  // not what child_tag below expects
					return std::string();
				},
				[](uint64_t) { return 1; });
		}})

// The kernel log: a line the kernel prints while a check's processes go
// (written here to /dev/kmsg, as the kernel would when a child's mm is
// freed) is that check's finding, not the next one's.
const std::string g_tag = "odfbench-unit-check-" + std::to_string(getpid());  // the test process's pid, inherited
const std::string &injected_tag() { return g_tag; }
ODFBENCH_CHECK({"t-kmsg-warning", "test", "its child's exit logs a kernel warning", [](CheckCtx &ctx) {
			std::string f = ctx.in_child([] {
				std::string line = "BUG: Bad rss-counter state mm:" + injected_tag() + " type:MM_ANONPAGES val:4\n";
				int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
				if (fd >= 0) {
					(void)!write(fd, line.data(), line.size());
					close(fd);
				}
				return std::string();
			});
			return f.empty() ? pass() : fail(f);
		}})
// The both-sides frame must notice a page that differs from what it expects.
ODFBENCH_CHECK({"t-both-sides-detects", "test", "write_both_sides sees a wrong page", [](CheckCtx &ctx) {
			checks::Region r(checks::kWindow);
			checks::set_page(r.p(), 9, 3);
			Verdict v = checks::write_both_sides(ctx, {{r.p(), r.pages(), [](uint64_t) { return 1; }}});
			r.release();
			return v;
		}})

namespace {
nlohmann::json run_all()
{
	static nlohmann::json doc = [] {
		CheckOptions o;
		o.modes = {Mode::Fork, Mode::Odf};
		o.timeout_s = 2;
		o.progress = false;
		return run_checks(detect_odf(), o);
	}();
	return doc;
}
const nlohmann::json &result(const std::string &name, const std::string &mode = "fork")
{
	static nlohmann::json doc = run_all();
	for (const auto &c : doc["checks"])
		if (c["name"] == name)
			return c["results"][mode];
	throw std::runtime_error("no check " + name);
}
}  // namespace

TEST(CheckRunner, VerdictClasses)
{
	EXPECT_EQ(result("t-pass")["status"], "pass");
	EXPECT_EQ(result("t-pass")["forks"], 1);
	EXPECT_EQ(result("t-fail")["status"], "fail");
	EXPECT_EQ(result("t-fail")["detail"], "the pages differed");
	EXPECT_EQ(result("t-hang")["status"], "hung");
	EXPECT_EQ(result("t-crash")["status"], "crashed");
	EXPECT_NE(result("t-crash")["detail"].get<std::string>().find("SIGSEGV"), std::string::npos);
	EXPECT_EQ(result("t-child-crash")["status"], "crashed");
	EXPECT_NE(result("t-child-crash")["detail"].get<std::string>().find("SIGABRT"), std::string::npos);
	EXPECT_EQ(result("t-frame-detects")["status"], "fail");
	EXPECT_NE(result("t-frame-detects")["detail"].get<std::string>().find("page 700"), std::string::npos);
}

TEST(CheckRunner, HungChecksLeaveNoProcesses)
{
	EXPECT_EQ(result("t-hang")["status"], "hung");
	// The runner's whole group was killed: nothing of ours is left to reap or run.
	EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
	EXPECT_EQ(errno, ECHILD);
}

TEST(CheckRunner, OdfColumnIsNeverFaked)
{
	auto odf = detect_odf();
	const auto &r = result("t-pass", "odf");
	if (odf.variant == OdfVariant::None) {
		EXPECT_EQ(r["status"], "unavailable");
	} else {
		// The child really ran with ODF on, or the verdict is not reported as one.
		EXPECT_TRUE(r["status"] == "error" || r["odf_forks"] == r["forks"]) << r.dump();
	}
}

TEST(CheckRunner, MarkdownTableHasEveryCheck)
{
	std::string md = checks_markdown(run_all());
	EXPECT_NE(md.find("| check | group | fork | odf |"), std::string::npos);
	EXPECT_NE(md.find("| t-fail | test | **fail** |"), std::string::npos) << md;
	EXPECT_NE(md.find("| t-pass | test | pass |"), std::string::npos) << md;
}

TEST(CheckRunner, BothSidesFrameDetectsAWrongPage)
{
	EXPECT_EQ(result("t-both-sides-detects")["status"], "fail");
	EXPECT_NE(result("t-both-sides-detects")["detail"].get<std::string>().find("page 9"), std::string::npos)
		<< result("t-both-sides-detects").dump();
}

TEST(CheckRunner, KernelWarningLandsOnItsCheckAndModeOnly)
{
	if (geteuid() != 0 || access("/dev/kmsg", W_OK) != 0)
		GTEST_SKIP() << "/dev/kmsg is not writable here (not root)";
	const auto &r = result("t-kmsg-warning");
	// A warning is a finding: the check keeps its verdict.
	EXPECT_EQ(r["status"], "pass") << r.dump();
	EXPECT_EQ(r.value("kernel_verdict", ""), "warnings") << r.dump();
	bool mine = false;
	for (const auto &l : r.value("kernel_lines", nlohmann::json::array()))
		mine |= l.get<std::string>().find(injected_tag()) != std::string::npos;
	EXPECT_TRUE(mine) << r.dump();
	// No other check, and no other mode, got the line.
	for (const auto &c : run_all()["checks"])
		for (const auto &[mode, other] : c["results"].items()) {
			if (c["name"] == "t-kmsg-warning" && mode == "fork")
				continue;
			EXPECT_EQ(other.dump().find(injected_tag()), std::string::npos) << c["name"] << " " << mode;
		}
}

// In a guest, the check after one that drew a kernel warning does not run on
// that kernel: it is skipped with the reason odfbench vm reads as "boot again".
TEST(CheckRunner, InAGuestAWarningEndsTheBoot)
{
	if (geteuid() != 0 || access("/dev/kmsg", W_OK) != 0)
		GTEST_SKIP() << "/dev/kmsg is not writable here (not root)";
	auto index_of = [](const std::string &name) {
		for (size_t k = 0; k < all_checks().size(); ++k)
			if (all_checks()[k].name == name)
				return k;
		throw std::runtime_error("no check " + name);
	};
	char info[] = "/tmp/odfbench-vm-info-XXXXXX";
	int fd = mkstemp(info);
	ASSERT_GE(fd, 0);
	(void)!write(fd, "{}", 2);
	close(fd);
	setenv("ODFBENCH_VM_INFO", info, 1);
	CheckOptions o;
	o.modes = {Mode::Fork};
	o.timeout_s = 5;
	o.progress = false;
	o.cells = std::vector<size_t>{index_of("t-kmsg-warning"), index_of("t-pass")};  // in that order (checks are sorted by name)
	std::sort(o.cells->begin(), o.cells->end());
	nlohmann::json doc = run_checks(detect_odf(), o);
	unsetenv("ODFBENCH_VM_INFO");
	unlink(info);
	ASSERT_EQ(doc["checks"].size(), 2u) << doc.dump();
	const auto &warned = doc["checks"][0]["results"]["fork"];
	const auto &next = doc["checks"][1]["results"]["fork"];
	EXPECT_EQ(doc["checks"][0]["name"], "t-kmsg-warning");
	EXPECT_EQ(warned.value("kernel_verdict", ""), "warnings") << warned.dump();
	EXPECT_EQ(next["status"], "skipped") << next.dump();
	EXPECT_EQ(next.value("detail", "").rfind(kNeedsFreshKernel, 0), 0u) << next.dump();
	EXPECT_NE(next.value("detail", "").find("t-kmsg-warning (fork)"), std::string::npos) << next.dump();
	EXPECT_EQ(doc["checks"][1]["name"], "t-pass");
	// Outside a guest the check after the warning runs.
	EXPECT_EQ(result("t-pass")["status"], "pass");
}

// Machine-wide settings a check needs are undone even when odfbench was
// killed: the journal written before each change is replayed at the next start.
TEST(HostSetup, StaleJournalIsUndone)
{
	char dir[] = "/tmp/odfbench-setup-test-XXXXXX";
	ASSERT_NE(mkdtemp(dir), nullptr);
	std::string knob = std::string(dir) + "/knob", journal_dir = dir;
	{
		std::ofstream(knob) << "10";
	}
	setenv("ODFBENCH_STATE_DIR", dir, 1);
	{
		std::ofstream(host_setup_journal_path())
			<< nlohmann::json{{"pid", 1}, {"undo", {{{"op", "write"}, {"path", knob}, {"value", "10000"}}}}}.dump();
	}
	std::string said = undo_stale_host_setup();
	std::ifstream in(knob);
	std::string v;
	in >> v;
	EXPECT_EQ(v, "10000");
	EXPECT_NE(said.find("pid 1"), std::string::npos) << said;
	EXPECT_FALSE(std::filesystem::exists(host_setup_journal_path()));
	EXPECT_EQ(undo_stale_host_setup(), "");  // nothing left to undo
	unsetenv("ODFBENCH_STATE_DIR");
	std::filesystem::remove_all(journal_dir);
}

TEST(HostSetup, UnknownNeedIsRefused) { EXPECT_THROW(HostSetup({"hugetlb"}), std::invalid_argument); }

TEST(HostSetup, SwapHeaderIsMkswapsLayout)
{
	auto h = swap_header(64ull << 20, 4096);
	ASSERT_EQ(h.size(), 4096u);
	EXPECT_EQ(std::string(h.data() + 4096 - 10, 10), "SWAPSPACE2");
	uint32_t version, last_page;
	memcpy(&version, h.data() + 1024, 4);
	memcpy(&last_page, h.data() + 1028, 4);
	EXPECT_EQ(version, 1u);
	EXPECT_EQ(last_page, (64u << 20) / 4096 - 1);
}
