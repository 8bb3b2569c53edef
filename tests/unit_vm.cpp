#include <gtest/gtest.h>

#include <fstream>
#include <sys/stat.h>

#include "vm/cpio.h"
#include "vm/vm.h"

using namespace odfb;

TEST(Cpio, RoundTripKeepsNamesModesDataAndDevices)
{
	CpioWriter w;
	w.dir("bin");
	w.file("bin/x", std::string("abc\0def", 7), 0755);  // odd length: padding
	w.symlink("bin/sh", "busybox");
	w.chardev("dev/console", 5, 1);
	w.file("empty", "");
	auto e = read_cpio(w.finish());
	ASSERT_EQ(e.size(), 5u);
	EXPECT_EQ(e[0].name, "bin");
	EXPECT_TRUE(S_ISDIR(e[0].mode));
	EXPECT_EQ(e[1].data, std::string("abc\0def", 7));
	EXPECT_EQ(e[1].mode, S_IFREG | 0755u);
	EXPECT_TRUE(S_ISLNK(e[2].mode));
	EXPECT_EQ(e[2].data, "busybox");
	EXPECT_TRUE(S_ISCHR(e[3].mode));
	EXPECT_EQ(e[3].rdev_major, 5u);
	EXPECT_EQ(e[3].rdev_minor, 1u);
	EXPECT_EQ(e[4].data, "");
}

TEST(Cpio, TruncatedOrForeignArchivesAreRejected)
{
	CpioWriter w;
	w.file("results/r.json", std::string(1000, 'x'));
	std::string a = w.finish();
	EXPECT_THROW(read_cpio(a.substr(0, 500)), std::runtime_error);         // mid-file
	EXPECT_THROW(read_cpio(a.substr(0, a.size() - 130)), std::runtime_error);  // trailer cut off
	EXPECT_THROW(read_cpio("not an archive at all, but long enough to hold a header.................................................."),
		     std::runtime_error);
	EXPECT_THROW(read_cpio(""), std::runtime_error);
}

TEST(Cpio, ReadsBusyboxStyleDotSlashNames)
{
	CpioWriter w;
	w.dir(".");
	w.file("./rc", "0\n");
	auto e = read_cpio(w.finish());
	ASSERT_EQ(e.size(), 1u);  // "." itself is dropped
	EXPECT_EQ(e[0].name, "rc");
}

TEST(VmInit, ArgumentsAreShellQuoted)
{
	std::string s = guest_init_script({"run", "--params", "{\"a\": \"it's\"}", "$(reboot)"}, 70);
	EXPECT_NE(s.find("timeout -s TERM 70 /bin/odfbench 'run' '--params' '{\"a\": \"it'\\''s\"}' '$(reboot)'"), std::string::npos) << s;
	EXPECT_NE(s.find("cpio -o -H newc > /dev/ttyS1"), std::string::npos);
	EXPECT_NE(s.find("poweroff -f"), std::string::npos);
}

class AccelTest : public ::testing::Test {
protected:
	std::string cpuinfo(const std::string &flags)
	{
		std::string p = ::testing::TempDir() + "/cpuinfo";
		std::ofstream(p) << "processor\t: 0\nflags\t\t: fpu " << flags << " sse2\n";
		return p;
	}
};

TEST_F(AccelTest, TcgWhenAskedOrWhenTheCpuLacksVirtualization)
{
	EXPECT_EQ(choose_accelerator("tcg").name, "tcg");
	auto a = choose_accelerator("auto", cpuinfo("hypervisor"));
	EXPECT_EQ(a.name, "tcg");
	EXPECT_FALSE(a.reason.empty());
	EXPECT_THROW(choose_accelerator("kvm", cpuinfo("hypervisor")), std::invalid_argument);
	EXPECT_THROW(choose_accelerator("xen"), std::invalid_argument);
}

TEST_F(AccelTest, KvmOnlyWithAWorkingDevAndVmxOrSvm)
{
	struct stat st;
	bool dev = stat("/dev/kvm", &st) == 0;
	auto a = choose_accelerator("auto", cpuinfo("vmx"));
	if (!dev) {
		EXPECT_EQ(a.name, "tcg");
		EXPECT_NE(a.reason.find("/dev/kvm"), std::string::npos);
	} else {
		// /dev/kvm exists: with vmx in cpuinfo the answer hinges on the ioctl alone.
		EXPECT_TRUE(a.name == "kvm" || a.reason.find("API version") != std::string::npos) << a.reason;
	}
}

TEST(ElfStatic, TellsStaticFromDynamic)
{
	std::string why;
	EXPECT_FALSE(elf_is_static("/bin/true", why));  // Debian's coreutils are dynamic
	EXPECT_NE(why.find("dynamically linked"), std::string::npos);
	EXPECT_FALSE(elf_is_static("/etc/passwd", why));
	EXPECT_NE(why.find("not an ELF"), std::string::npos);
	EXPECT_FALSE(elf_is_static("/nonexistent", why));
}

#include "vm/stream.h"

namespace {
std::string ev(const nlohmann::json &j) { return "ODFBENCH-EVENT " + j.dump() + "\n"; }
nlohmann::json header(std::vector<int> cells)
{
	nlohmann::json planned = nlohmann::json::array();
	for (int c : cells)
		planned.push_back({{"cell", c}, {"experiment", 0}, {"workload", "fork-latency"}, {"size", "16M"}, {"size_bytes", 16 << 20}, {"mode", "fork"}});
	return {{"event", "header"}, {"output", "x.json"}, {"planned", planned},
		{"doc", {{"run", {{"status", "interrupted"}, {"kernel", {{"release", "6.0.6"}}}, {"odf", {{"variant", "patchset-6.0"}}},
				  {"environment", {{"vm", {{"boot", 0}}}}},
				  {"spec", {{"experiments", {{{"params", {{"who", "child"}}}}}}}},
				  {"selection", {{"planned", planned}}}}},
			 {"results", nlohmann::json::array()}}}};
}
nlohmann::json result(int cell, std::vector<double> fork_ns)
{
	nlohmann::json t = nlohmann::json::array();
	for (double v : fork_ns)
		t.push_back({{"fork_ns", v}});
	return {{"cell", cell}, {"workload", "fork-latency"}, {"mode", "fork"}, {"status", "ok"},
		{"params", {{"size", "16M"}, {"size_bytes", 16 << 20}}},
		{"metrics", {{{"name", "fork_ns"}, {"unit", "ns"}, {"better", "lower"}, {"headline", true}}}}, {"trials", t}};
}
}  // namespace

TEST(VmStream, TornLinesAndNoiseAreIgnored)
{
	std::string text = "garbage\n" + ev(header({0, 1, 2})) + ev({{"event", "cell-start"}, {"cell", 0}}) +
			   ev({{"event", "cell"}, {"result", result(0, {1, 2})}}) + ev({{"event", "cell-start"}, {"cell", 1}}) +
			   "ODFBENCH-EVENT {\"event\":\"cell\",\"result\":{\"cell\":1,\"tri";  // the guest died mid-write
	auto s = parse_stream(text);
	EXPECT_EQ(s.output, "x.json");
	EXPECT_EQ(s.planned.size(), 3u);
	EXPECT_EQ(s.results.size(), 1u);
	ASSERT_TRUE(s.running);
	EXPECT_EQ(*s.running, 1u);
	EXPECT_TRUE(s.finish.is_null());
}

TEST(VmStream, CrashThenResumeMergesToEveryCellOnce)
{
	// boot 0: cell 0 done, crash in cell 1; boot 1 (--cells 2-3): cell 2 done, then the VM times out in 3.
	auto b0 = parse_stream(ev(header({0, 1, 2, 3})) + ev({{"event", "cell-start"}, {"cell", 0}}) +
			       ev({{"event", "cell"}, {"result", result(0, {5})}}) + ev({{"event", "cell-start"}, {"cell", 1}}));
	std::vector<StreamedRun> boots = {b0};
	std::vector<BootRecord> recs = {{0, "patchset-6.0.6", "kernel-crash", "crashed", {"[ 1.0] BUG: Bad page map in process redis-server", "trace"}, 9, nullptr}};
	EXPECT_EQ(remaining_cells(boots, recs), (std::vector<size_t>{2, 3}));  // the crashed cell is a finding: not rerun
	boots.push_back(parse_stream(ev(header({2, 3})) + ev({{"event", "cell-start"}, {"cell", 2}}) +
				     ev({{"event", "cell"}, {"result", result(2, {7})}}) + ev({{"event", "cell-start"}, {"cell", 3}})));
	recs.push_back({1, "patchset-6.0.6", "silent", "the guest went silent", {}, 99, nullptr});
	EXPECT_EQ(remaining_cells(boots, recs), (std::vector<size_t>{3}));
	auto doc = merge_boots(boots, recs, false);
	ASSERT_EQ(doc["results"].size(), 4u);
	std::vector<std::string> st;
	for (auto &r : doc["results"])
		st.push_back(r["status"]);
	EXPECT_EQ(st, (std::vector<std::string>{"ok", "kernel-crash", "ok", "error"}));
	EXPECT_EQ(doc["results"][0]["boot"], 0);
	EXPECT_EQ(doc["results"][2]["boot"], 1);
	EXPECT_NE(doc["results"][1]["reason"].get<std::string>().find("BUG: Bad page map"), std::string::npos);
	EXPECT_EQ(doc["results"][1]["console"].size(), 2u);
	EXPECT_EQ(doc["results"][1]["params"]["who"], "child");  // the experiment's params, for compare and the figures
	EXPECT_NE(doc["results"][3]["reason"].get<std::string>().find("boot 1 ended during this cell"), std::string::npos);
	EXPECT_EQ(doc["run"]["status"], "failed");  // a cell lost to a silent guest is an error, not a finding
	EXPECT_EQ(doc["run"]["boots"].size(), 2u);
}

TEST(VmStream, AbPoolsTrialsAndKeepsBootMedians)
{
	auto slot = [&](int boot, std::vector<double> v) {
		auto s = parse_stream(ev(header({0})) + ev({{"event", "cell"}, {"result", result(0, v)}}) +
				      ev({{"event", "finish"}, {"run", {{"status", "complete"}, {"wall_ns", 1}, {"finished", "t"}}}}));
		return merge_boots({s}, {{boot, "k", "finished", "finished", {}, 1, nullptr}}, false);
	};
	auto doc = merge_ab({{"vanilla-6.0.6", slot(0, {10, 12, 11})}, {"patchset-6.0.6", slot(1, {20, 22})},
			     {"vanilla-6.0.6", slot(2, {13, 14, 15})}, {"patchset-6.0.6", slot(3, {30})}});
	ASSERT_EQ(doc["results"].size(), 2u);
	const auto &a = doc["results"][0];
	EXPECT_EQ(a["kernel"], "vanilla-6.0.6");
	EXPECT_EQ(a["trials"].size(), 6u);
	EXPECT_EQ(a["trials"][3]["boot"], 2);
	ASSERT_EQ(a["boots"].size(), 2u);
	EXPECT_EQ(a["boots"][0]["median"], 11.0);
	EXPECT_EQ(a["boots"][1]["median"], 14.0);
	EXPECT_EQ(a["summary"]["fork_ns"]["n"], 6);
	EXPECT_EQ(doc["results"][1]["boots"][1]["median"], 30.0);
	EXPECT_EQ(doc["run"]["ab"]["kernels"], nlohmann::json({"vanilla-6.0.6", "patchset-6.0.6"}));
	EXPECT_EQ(doc["run"]["ab"]["order"].size(), 4u);
	EXPECT_EQ(doc["run"]["status"], "complete");
}

TEST(VmStream, CheckCrashKeepsEarlierModesAndNamesTheCrashedOne)
{
	nlohmann::json planned = {{{"cell", 3}, {"name", "mremap"}}, {{"cell", 7}, {"name", "multithreaded-fork"}}};
	nlohmann::json hdr = {{"event", "header"}, {"output", ""}, {"planned", planned},
			      {"doc", {{"kind", "odfbench-check"}, {"modes", {"fork", "odf"}}, {"checks", nlohmann::json::array()}}}};
	nlohmann::json mremap = {{"cell", 3}, {"name", "mremap"}, {"results", {{"fork", {{"status", "pass"}}}}}};
	// The fork verdict of mremap arrived; the kernel crashed under odf.
	auto b0 = parse_stream(ev(hdr) + ev({{"event", "cell-start"}, {"cell", 3}, {"mode", "fork"}}) + ev({{"event", "cell"}, {"result", mremap}}) +
			       ev({{"event", "cell-start"}, {"cell", 3}, {"mode", "odf"}}));
	EXPECT_EQ(b0.running_mode, "odf");
	std::vector<BootRecord> recs = {{0, "patchset-6.0.6", "kernel-crash", "crashed", {"[ 2.0] BUG: unable to handle page fault"}, 5, nullptr}};
	EXPECT_EQ(remaining_cells({b0}, recs), (std::vector<size_t>{7}));
	nlohmann::json mt = {{"cell", 7}, {"name", "multithreaded-fork"}, {"results", {{"fork", {{"status", "pass"}}}, {"odf", {{"status", "fail"}}}}}};
	auto b1 = parse_stream(ev(hdr) + ev({{"event", "cell"}, {"result", mt}}) + ev({{"event", "finish"}, {"run", {{"status", "complete"}}}}));
	recs.push_back({1, "patchset-6.0.6", "finished", "finished", {}, 5, nullptr});
	auto doc = merge_check_boots({b0, b1}, recs, false);
	ASSERT_EQ(doc["checks"].size(), 2u);
	const auto &c = doc["checks"][0];
	EXPECT_EQ(c["results"]["fork"]["status"], "pass");  // kept from before the crash
	EXPECT_EQ(c["results"]["odf"]["status"], "kernel-crash");
	EXPECT_EQ(c["results"]["odf"]["console"].size(), 1u);
	EXPECT_EQ(c["boot"], 0);
	EXPECT_EQ(doc["checks"][1]["boot"], 1);
	EXPECT_EQ(doc["boots"].size(), 2u);
}

// A check that crashed the kernel in its first mode has no verdict of its
// own to carry its group and description: they come from the guest's plan.
TEST(VmStream, CheckCrashedInItsFirstModeKeepsItsGroup)
{
	nlohmann::json planned = {{{"cell", 2}, {"name", "thp-pmd-mapped"}, {"group", "thp-states"}, {"description", "a PMD-mapped THP"}}};
	nlohmann::json hdr = {{"event", "header"}, {"output", ""}, {"planned", planned},
			      {"doc", {{"kind", "odfbench-check"}, {"modes", {"fork", "odf"}}, {"checks", nlohmann::json::array()}}}};
	auto b0 = parse_stream(ev(hdr) + ev({{"event", "cell-start"}, {"cell", 2}, {"mode", "fork"}}));
	std::vector<BootRecord> recs = {{0, "patchset-6.0.6", "kernel-crash", "crashed", {"[ 2.0] general protection fault"}, 5, nullptr}};
	auto doc = merge_check_boots({b0}, recs, false);
	ASSERT_EQ(doc["checks"].size(), 1u);
	const auto &c = doc["checks"][0];
	EXPECT_EQ(c["group"], "thp-states") << c.dump();
	EXPECT_EQ(c["description"], "a PMD-mapped THP");
	EXPECT_EQ(c["results"]["fork"]["status"], "kernel-crash");
	EXPECT_EQ(c["results"]["odf"]["status"], "skipped");
}

TEST(VmStream, CrashSoonAfterACellStartsMayBelongToTheOneBefore)
{
	EXPECT_DOUBLE_EQ(console_time("[   69.678890] BUG: Bad rss-counter state"), 69.67889);
	EXPECT_EQ(console_time("BUG: no timestamp"), -1);
	EXPECT_DOUBLE_EQ(console_time("[11/14] thp (fork)[    5.759513] BUG: Bad rss-counter state"), 5.759513);
	auto b0 = parse_stream(ev(header({0, 1})) + ev({{"event", "cell-start"}, {"cell", 0}, {"t", 60.0}}) +
			       ev({{"event", "cell"}, {"result", result(0, {5})}, {"t", 69.5}}) + ev({{"event", "cell-start"}, {"cell", 1}, {"t", 69.6}}));
	std::vector<BootRecord> recs = {{0, "k", "kernel-crash", "crashed", {"[   69.678890] BUG: Bad rss-counter state mm:0 type:MM_ANONPAGES val:512"}, 9, nullptr}};
	auto doc = merge_boots({b0}, recs, false);
	const auto &r = doc["results"][1];
	EXPECT_EQ(r["status"], "kernel-crash");
	EXPECT_NEAR(r["crash_after_cell_start_s"].get<double>(), 0.07889, 1e-6);
	EXPECT_EQ(r["crash_may_belong_to_cell"], 0);
	EXPECT_NE(r["reason"].get<std::string>().find("teardown of cell 0"), std::string::npos);
	// Late in a cell: no such caution.
	auto b1 = parse_stream(ev(header({0, 1})) + ev({{"event", "cell"}, {"result", result(0, {5})}, {"t", 10.0}}) +
			       ev({{"event", "cell-start"}, {"cell", 1}, {"t", 10.1}}));
	recs[0].console = {"[   40.000000] BUG: unable to handle page fault"};
	auto late = merge_boots({b1}, recs, false)["results"][1];
	EXPECT_FALSE(late.contains("crash_may_belong_to_cell"));
	EXPECT_NEAR(late["crash_after_cell_start_s"].get<double>(), 29.9, 1e-9);
}

TEST(ConsoleWatch, OnlyFatalKernelLinesEndABoot)
{
	// A bad rss counter printed as the last cell's child mm is freed is a
	// finding for that cell (the guest pins it); the boot goes on.
	EXPECT_FALSE(is_kernel_crash_line("[    5.1] BUG: Bad rss-counter state mm:0000000012345678 type:MM_ANONPAGES val:4"));
	EXPECT_FALSE(is_kernel_crash_line("[    5.1] BUG: non-zero pgtables_bytes on freeing mm: 16384"));
	EXPECT_TRUE(is_kernel_crash_line("[    3.7] general protection fault, probably for non-canonical address 0x80: 0000 [#1] SMP NOPTI"));
	EXPECT_TRUE(is_kernel_crash_line("[   30.0] watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [khugepaged:31]"));
}
