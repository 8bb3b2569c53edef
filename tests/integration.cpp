// Integration tests on the running kernel, each against an independent source.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <nlohmann/json.hpp>

#include "run/fork_trial.h"
#include "odf/detect.h"
#include "probe/probes.h"
#include "record/results_file.h"
#include "run/runner.h"
#include "run/spec.h"
#include "base/sysinfo.h"

using namespace odfb;

namespace {
// Root and BPF are the point of these tests: under CI a missing privilege is a
// failure, never a silent skip.
#define REQUIRE_BPF()                                                                     \
	do {                                                                              \
		std::string why;                                                          \
		if (!have_bpf_privileges(why)) {                                          \
			if (getenv("CI"))                                                 \
				FAIL() << "CI=true but no BPF privileges: " << why;       \
			GTEST_SKIP() << why;                                              \
		}                                                                         \
	} while (0)

std::unique_ptr<Probes> open_probes(const OdfInfo &odf)
{
	auto p = Probes::open(odf);
	for (const char *tp : {"sched_process_fork", "clone_syscall", "page_fault_user"})
		EXPECT_TRUE(p->attached(tp)) << tp << " did not attach: every kernel this suite supports has it";
	return p;
}

std::set<std::string> our_program_names()
{
	std::set<std::string> n = {"fork_btf", "fork_raw", "enter_raw", "exit_raw", "fault_btf", "fault_raw"};
	for (const char *sc : {"clone", "clone3", "fork", "vfork", "tfork"}) {
		n.insert(std::string("enter_") + sc);
		n.insert(std::string("exit_") + sc);
	}
	return n;
}

// Ids of loaded BPF programs with one of our names, from the kernel's own list.
std::set<__u32> our_program_ids()
{
	auto names = our_program_names();
	std::set<__u32> ids;
	__u32 id = 0;
	while (bpf_prog_get_next_id(id, &id) == 0) {
		int fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			continue;
		bpf_prog_info info{};
		__u32 len = sizeof(info);
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && names.count(info.name))
			ids.insert(id);
		close(fd);
	}
	return ids;
}
}  // namespace

TEST(Integration, FaultCountMatchesPagesTouchedAndGetrusage)
{
	REQUIRE_BPF();
	OdfInfo odf = detect_odf();
	auto probes = open_probes(odf);
	ASSERT_TRUE(probes->attached("page_fault_user"));
	ProcTable procs(probes->procs_fd());

	const size_t pages = 8192;  // 32 MiB
	long psz = sysconf(_SC_PAGESIZE);
	char *m = static_cast<char *>(mmap(nullptr, pages * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	ASSERT_NE(m, MAP_FAILED);
	madvise(m, pages * psz, MADV_NOHUGEPAGE);  // one fault per 4 KiB page

	struct rusage r0, r1;
	procs.track(getpid());
	getrusage(RUSAGE_SELF, &r0);
	for (size_t i = 0; i < pages; ++i)
		m[i * psz] = 1;
	getrusage(RUSAGE_SELF, &r1);
	auto st = procs.read(getpid());
	procs.forget(getpid());
	munmap(m, pages * psz);
	ASSERT_TRUE(st.has_value());

	double bpf = static_cast<double>(st->faults_user);
	double ru = static_cast<double>((r1.ru_minflt - r0.ru_minflt) + (r1.ru_majflt - r0.ru_majflt));
	EXPECT_NEAR(bpf, static_cast<double>(pages), 0.01 * pages) << "BPF counted " << bpf << " faults for " << pages << " pages";
	EXPECT_NEAR(bpf, ru, 0.01 * ru) << "BPF " << bpf << " vs getrusage " << ru;
}

TEST(Integration, UntrackedProcessesCountNothing)
{
	REQUIRE_BPF();
	OdfInfo odf = detect_odf();
	auto probes = open_probes(odf);
	ProcTable procs(probes->procs_fd());
	// Nobody tracked: touching memory here must leave the map empty.
	std::vector<char> v(16 << 20, 1);
	EXPECT_EQ(procs.size(), 0u);
	EXPECT_EQ(v[12345], 1);
}

// Runs a spec for real on this kernel, into a fresh temp dir; returns the
// exit code and the results document.
int run_for_test(const std::filesystem::path &dir, const char *spec_json, nlohmann::json &doc, OdfInfo *odf_out = nullptr,
		 const char *fault_probe = "auto")
{
	std::filesystem::create_directories(dir);
	auto spec = parse_spec(nlohmann::json::parse(spec_json));
	OdfInfo odf = detect_odf();
	auto probes = Probes::open(odf);
	ResultsFile out((dir / "r.json").string());
	RunOptions o;
	o.progress = false;
	o.fault_probe = fault_probe;
	int rc = run_spec(spec, expand_cells(spec), odf, *probes, out, o);
	doc = nlohmann::json::parse(std::ifstream(out.path()));
	if (odf_out)
		*odf_out = odf;
	return rc;
}

class ForkLatencyRun : public ::testing::Test {
protected:
	static void SetUpTestSuite()
	{
		std::string why;
		if (!have_bpf_privileges(why))
			return;
		dir_ = std::filesystem::temp_directory_path() / ("odfb-it-" + std::to_string(getpid()));
		OdfInfo odf;
		// --fault-probe on: these tests check the fault probe against getrusage.
		rc_ = run_for_test(dir_, R"({"workload":"fork-latency","sizes":["256M"],"modes":["fork","odf","odf-procfs"],"reps":8,"warmup":1})",
				   doc_, &odf, "on");
		variant_ = variant_name(odf.variant);
	}
	static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }
	const nlohmann::json *cell(const std::string &mode)
	{
		for (auto &r : doc_["results"])
			if (r["mode"] == mode)
				return &r;
		return nullptr;
	}
	static inline std::filesystem::path dir_;
	static inline int rc_ = -1;
	static inline nlohmann::json doc_;
	static inline std::string variant_;
};

TEST_F(ForkLatencyRun, ChildGetsEveryRegionTableInForkMode)
{
	REQUIRE_BPF();
	ASSERT_EQ(rc_, 0) << doc_.dump(1);
	auto *r = cell("fork");
	ASSERT_TRUE(r);
	ASSERT_EQ((*r)["status"], "ok") << (*r)["reason"];
	ASSERT_EQ((*r)["trials"].size(), 8u);
	// 256 MiB / 2 MiB per table * 4 KiB = 512 KiB of PTE tables at least.
	for (auto &t : (*r)["trials"]) {
		EXPECT_GE(t["child_pgtables_bytes"].get<uint64_t>(), 512u * 1024);
		EXPECT_FALSE(t["odf_verified"].get<bool>());
		EXPECT_FALSE(t["sharing_observed"].get<bool>());
	}
}

// mm->flags is read through two CO-RE flavors (unsigned long up to 6.16, a
// bitmap struct after); this kernel exercises one, the vm_guest test's Debian
// 6.1 the other.  Ground truth: bits 0-1 are the dumpable mode, which a plain
// process inherits from us (prctl PR_GET_DUMPABLE).
TEST_F(ForkLatencyRun, ChildMmFlagsCarryTheDumpableMode)
{
	REQUIRE_BPF();
	auto *r = cell("fork");
	ASSERT_TRUE(r);
	int dumpable = prctl(PR_GET_DUMPABLE);
	ASSERT_GT(dumpable, 0);
	for (auto &t : (*r)["trials"]) {
		ASSERT_TRUE(t.contains("child_mm_flags")) << t;
		EXPECT_EQ(t["child_mm_flags"].get<uint64_t>() & 3, static_cast<uint64_t>(dumpable)) << t;
	}
}

TEST_F(ForkLatencyRun, ParentPgtablesMatchVmPTE)
{
	REQUIRE_BPF();
	auto *r = cell("fork");
	ASSERT_TRUE(r);
	// VmPTE in /proc/<pid>/status is mm->pgtables_bytes >> 10, read by a different path.
	int64_t vmpte = (*r)["setup"]["vm_pte_kb_before_enable"].get<int64_t>() * 1024;
	for (auto &t : (*r)["trials"]) {
		int64_t bpf = t["parent_pgtables_bytes"].get<int64_t>();
		EXPECT_NEAR(bpf, vmpte, 4 * 4096) << "BPF " << bpf << " vs VmPTE " << vmpte;
	}
}

TEST_F(ForkLatencyRun, KernelCloneTimeFitsInsideUserForkTime)
{
	REQUIRE_BPF();
	auto *r = cell("fork");
	ASSERT_TRUE(r);
	for (auto &t : (*r)["trials"]) {
		ASSERT_TRUE(t.contains("clone_kernel_ns"));
		EXPECT_GT(t["clone_kernel_ns"].get<uint64_t>(), 0u);
		EXPECT_LE(t["clone_kernel_ns"].get<uint64_t>(), t["fork_ns"].get<uint64_t>());
	}
}

TEST_F(ForkLatencyRun, TrialFaultsAgreeWithGetrusage)
{
	REQUIRE_BPF();
	auto *r = cell("fork");
	ASSERT_TRUE(r);
	for (auto &t : (*r)["trials"]) {
		// The child takes every fault in user mode; getrusage of the reaped child sees the same ones
		// (plus any it took in kernel mode, e.g. copying to its stack).
		auto bpf = t["child_faults"].get<int64_t>(), ru = t["rusage_child_minflt"].get<int64_t>();
		EXPECT_GT(bpf, 0);
		EXPECT_LE(bpf, ru);
		EXPECT_GE(bpf, ru - 4);
	}
}

// --fault-probe auto: the fault probe is live only in cells of workloads that
// measure fault counts; elsewhere the metrics are missing, with the reason.
TEST(Integration, FaultProbeAutoAttachesOnlyForFaultCountingWorkloads)
{
	REQUIRE_BPF();
	auto dir = std::filesystem::temp_directory_path() / ("odfb-fp-" + std::to_string(getpid()));
	nlohmann::json doc;
	int rc = run_for_test(dir, R"({"experiments": [
		{"workload":"fork-latency","sizes":["16M"],"modes":["fork"],"reps":2,"warmup":0},
		{"workload":"post-fork-access","sizes":["16M"],"modes":["fork"],"reps":2,"warmup":0,
		 "params":{"who":"child","fraction":1.0,"op":"write"}},
		{"workload":"fork-latency","sizes":["16M"],"modes":["fork"],"reps":2,"warmup":0}]})",
			      doc);
	std::filesystem::remove_all(dir);
	ASSERT_EQ(rc, 0);
	EXPECT_EQ(doc["run"]["fault_probe"], "auto");
	auto &res = doc["results"];
	ASSERT_EQ(res.size(), 3u);
	for (size_t i : {0u, 2u}) {  // fork-latency, before and after the switch back
		EXPECT_FALSE(res[i]["fault_probe"].get<bool>());
		for (auto &t : res[i]["trials"])
			EXPECT_FALSE(t.contains("child_faults")) << t;
		auto m = res[i]["setup"]["missing_metrics"];
		ASSERT_TRUE(m.contains("child_faults")) << res[i]["setup"];
		EXPECT_NE(m["child_faults"].get<std::string>().find("--fault-probe"), std::string::npos);
	}
	EXPECT_TRUE(res[1]["fault_probe"].get<bool>());
	uint64_t pages = 16ull * 1024 * 1024 / 4096;
	for (auto &t : res[1]["trials"])
		EXPECT_GE(t["child_faults"].get<uint64_t>(), pages);  // one per written page, and the probe was live
}

TEST_F(ForkLatencyRun, OdfModesAreNeverFaked)
{
	REQUIRE_BPF();
	for (const char *m : {"odf", "odf-procfs"}) {
		auto *r = cell(m);
		ASSERT_TRUE(r) << m;
		if (variant_ == "none") {
			EXPECT_EQ((*r)["status"], "unavailable") << m;
			EXPECT_TRUE((*r)["trials"].empty()) << m;
			EXPECT_NE((*r)["reason"].get<std::string>().find("no ODF"), std::string::npos);
		} else if ((*r)["status"] == "ok") {
			for (auto &t : (*r)["trials"])
				EXPECT_TRUE(t["odf_verified"].get<bool>()) << m;
		}
	}
}

TEST(Integration, ProbesLeaveNothingBehind)
{
	REQUIRE_BPF();
	auto before = our_program_ids();  // may hold other runs' programs
	std::set<__u32> mine;
	{
		OdfInfo odf = detect_odf();
		auto probes = open_probes(odf);
		for (auto id : our_program_ids())
			if (!before.count(id))
				mine.insert(id);
		EXPECT_GE(mine.size(), 3u);
	}
	// The kernel frees detached tracing programs after an RCU grace period.
	auto still = [&] {
		size_t n = 0;
		auto now = our_program_ids();
		for (auto id : mine)
			n += now.count(id);
		return n;
	};
	for (int i = 0; i < 100 && still() != 0; ++i)
		usleep(50000);
	EXPECT_EQ(still(), 0u);
}

TEST(Integration, ForcedFallbacksStillAttach)
{
	REQUIRE_BPF();
	OdfInfo odf = detect_odf();
	ProbeOptions o;
	o.allow_tp_btf = false;
	auto probes = Probes::open(odf, o);
	for (const auto &s : probes->report())
		if (s.name == "sched_process_fork" || s.name == "page_fault_user" || s.name == "clone_syscall") {
			EXPECT_TRUE(s.attached) << s.name << ": " << s.reason;
			EXPECT_EQ(s.program_type, "raw_tp") << s.name;
		}
}

// post-fork-access against arithmetic: every written page faults exactly once
// per writer, a read of a present page never does, and getrusage agrees.
class PostForkAccessRun : public ::testing::Test {
protected:
	static void SetUpTestSuite()
	{
		std::string why;
		if (!have_bpf_privileges(why))
			return;
		dir_ = std::filesystem::temp_directory_path() / ("odfb-pfa-" + std::to_string(getpid()));
		rc_ = run_for_test(dir_, R"({"experiments": [
			{"workload":"post-fork-access","sizes":["64M"],"modes":["fork"],"reps":3,"warmup":1,
			 "params":{"who":"both","fraction":0.5,"pattern":"random","op":"write"}},
			{"workload":"post-fork-access","sizes":["64M"],"modes":["fork"],"reps":3,"warmup":1,
			 "params":{"who":"child","fraction":1.0,"pattern":"seq","op":"read"}}]})",
				   doc_);
	}
	static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }
	static inline std::filesystem::path dir_;
	static inline int rc_ = -1;
	static inline nlohmann::json doc_;
};

TEST_F(PostForkAccessRun, EveryWrittenPageFaultsOncePerWriter)
{
	REQUIRE_BPF();
	ASSERT_EQ(rc_, 0) << doc_.dump(1);
	auto &r = doc_["results"][0];
	ASSERT_EQ(r["status"], "ok") << r["reason"];
	uint64_t pages = 64ull * 1024 * 1024 / 4096 / 2;
	ASSERT_EQ(r["setup"]["pages_touched"].get<uint64_t>(), pages);
	for (auto &t : r["trials"]) {
		for (const char *who : {"child", "parent"}) {
			auto bpf = t[std::string(who) + "_faults"].get<uint64_t>();
			auto ru = t[std::string(who) + "_minflt"].get<uint64_t>();
			EXPECT_GE(bpf, pages) << who;
			EXPECT_LE(bpf, pages + 8) << who;  // a few stack/libc pages
			EXPECT_NEAR(static_cast<double>(bpf), static_cast<double>(ru), 4) << who;
		}
		EXPECT_EQ(t["total_ns"].get<uint64_t>(),
			  t["fork_ns"].get<uint64_t>() + t["child_access_ns"].get<uint64_t>() + t["parent_access_ns"].get<uint64_t>());
	}
}

TEST_F(PostForkAccessRun, ReadingPresentPagesTakesNoPerPageFaults)
{
	REQUIRE_BPF();
	auto &r = doc_["results"][1];
	ASSERT_EQ(r["status"], "ok") << r["reason"];
	uint64_t pages = 64ull * 1024 * 1024 / 4096;
	for (auto &t : r["trials"]) {
		// A few on the child's own stack and libc data, never one per page read.
		EXPECT_LE(t["child_faults"].get<uint64_t>(), pages / 100);
		EXPECT_FALSE(t.contains("parent_faults"));
	}
}

// clone(CLONE_THREAD) is not a fork: the clone counter counts processes only.
TEST(Integration, ThreadCreationIsNotCountedAsAFork)
{
	REQUIRE_BPF();
	auto probes = open_probes(detect_odf());
	ASSERT_TRUE(probes->attached("clone_syscall"));
	ProcTable procs(probes->procs_fd());
	procs.track(getpid());
	std::thread([] {}).join();
	std::thread([] {}).join();
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	ASSERT_GT(pid, 0);
	waitpid(pid, nullptr, 0);
	auto st = procs.read(getpid());
	procs.clear();
	ASSERT_TRUE(st);
	EXPECT_EQ(st->clones, 1u) << "two threads and one fork";
	EXPECT_EQ(st->thread_clones, 2u);
	EXPECT_GT(st->clone_ns_last, 0u);
	EXPECT_EQ(st->unmatched_returns, 0u);
}

// A clone that returns after its process was tracked mid-call has no entry
// timestamp: every return probe counts it as unmatched and counts no call.
// A vfork parent stays inside the syscall until its child exits: track it there.
TEST(Integration, ReturnWithoutEntryIsCountedNotTimed)
{
	REQUIRE_BPF();
	auto probes = open_probes(detect_odf());
	ASSERT_TRUE(probes->attached("clone_syscall"));
	ProcTable procs(probes->procs_fd());
	int ready[2], gate[2], done[2];
	ASSERT_EQ(pipe(ready), 0);
	ASSERT_EQ(pipe(gate), 0);
	ASSERT_EQ(pipe(done), 0);
	pid_t p = fork();  // untracked: nothing of ours is in the map yet
	if (p == 0) {
		pid_t c = vfork();
		if (c == 0) {  // the parent is suspended inside vfork while this runs
			char x = 'r';
			(void)!write(ready[1], &x, 1);
			(void)!read(gate[0], &x, 1);
			_exit(0);
		}
		waitpid(c, nullptr, 0);
		char x = 'd';
		(void)!write(done[1], &x, 1);
		pause();
		_exit(0);
	}
	ASSERT_GT(p, 0);
	char x;
	ASSERT_EQ(read(ready[0], &x, 1), 1);
	procs.track(p);  // p is inside vfork now
	ASSERT_EQ(write(gate[1], "g", 1), 1);
	ASSERT_EQ(read(done[0], &x, 1), 1);
	auto st = procs.read(p);
	kill(p, SIGKILL);
	waitpid(p, nullptr, 0);
	procs.clear();
	for (int fd : {ready[0], ready[1], gate[0], gate[1], done[0], done[1]})
		close(fd);
	ASSERT_TRUE(st);
	EXPECT_EQ(st->unmatched_returns, 1u);
	EXPECT_EQ(st->clones, 0u);
	EXPECT_EQ(st->clone_ns_total, 0u);
}

// A child whose pid was an earlier tracked process's starts from zero.
// ns_last_pid picks the pid the next fork gets (retried: other processes on
// the machine may take it first).
TEST(Integration, ReusedPidStartsFromZero)
{
	REQUIRE_BPF();
	if (access("/proc/sys/kernel/ns_last_pid", W_OK) != 0)
		GTEST_SKIP() << "no writable /proc/sys/kernel/ns_last_pid (CONFIG_CHECKPOINT_RESTORE off)";
	auto probes = open_probes(detect_odf());
	ProcTable procs(probes->procs_fd());
	procs.track(getpid());
	int pid_max = 32768;
	std::ifstream("/proc/sys/kernel/pid_max") >> pid_max;
	pid_t want = 0, got = -1;
	for (int attempt = 0; attempt < 50 && got != want; ++attempt) {
		want = pid_max / 2 + attempt * 97;
		__u32 key = static_cast<__u32>(want);
		proc_stats stale{};
		stale.faults_user = 1'000'000;
		stale.clones = 5;
		stale.forks = 7;
		ASSERT_EQ(bpf_map_update_elem(probes->procs_fd(), &key, &stale, BPF_ANY), 0);
		{
			std::ofstream f("/proc/sys/kernel/ns_last_pid");
			f << want - 1;
		}
		int gate[2];
		ASSERT_EQ(pipe(gate), 0);
		got = fork();
		if (got == 0) {
			char c;
			close(gate[1]);
			(void)!read(gate[0], &c, 1);
			_exit(0);
		}
		close(gate[0]);
		if (got == want) {
			auto st = procs.read(got);
			ASSERT_TRUE(st);
			// The child may already have taken a fault or two of its own; it has
			// not cloned or forked.
			EXPECT_LT(st->faults_user, 1000u) << "a stale record survived the fork";
			EXPECT_EQ(st->clones, 0u);
			EXPECT_EQ(st->forks, 0u);
			EXPECT_EQ(st->parent_tgid, static_cast<__u32>(getpid()));
		}
		close(gate[1]);
		waitpid(got, nullptr, 0);
		procs.forget(want);
	}
	procs.clear();
	EXPECT_EQ(got, want) << "could not get the chosen pid in 50 attempts";
}

// The runner empties the map around every cell: nothing of an earlier cell,
// nor the runner's own record, reaches the next one or outlives the run.
TEST(Integration, RunnerLeavesNoRecordBehind)
{
	REQUIRE_BPF();
	auto dir = std::filesystem::temp_directory_path() / ("odfb-clear-" + std::to_string(getpid()));
	std::filesystem::create_directories(dir);
	OdfInfo odf = detect_odf();
	auto probes = Probes::open(odf);
	ProcTable procs(probes->procs_fd());
	procs.track(424242);  // a stale record from "an earlier cell"
	auto spec = parse_spec(nlohmann::json::parse(R"({"workload":"fork-latency","sizes":["16M"],"modes":["fork"],"reps":2,"warmup":0})"));
	ResultsFile out((dir / "r.json").string());
	RunOptions o;
	o.progress = false;
	int rc = run_spec(spec, expand_cells(spec), odf, *probes, out, o);
	size_t left = procs.size();
	std::filesystem::remove_all(dir);
	EXPECT_EQ(rc, 0);
	EXPECT_EQ(left, 0u);
}

// "Not tracked" is never a measured zero: a missing record yields no metric
// and a named entry in the trial's untracked list.
TEST(Integration, MissingRecordIsAbsentNotZero)
{
	REQUIRE_BPF();
	OdfInfo odf = detect_odf();
	auto probes = open_probes(odf);
	TrialEnv env;
	env.odf = &odf;
	env.procs = ProcTable(probes->procs_fd());
	for (const auto &s : probes->report())
		env.probe_attached[s.name] = s.attached;
	nlohmann::json t;
	auto ps = read_record(t, env, 424243, "parent");
	EXPECT_FALSE(ps);
	auto cs = read_record(t, env, 424244, "child", Record::Child);
	EXPECT_FALSE(cs);
	ASSERT_TRUE(t.contains("untracked"));
	EXPECT_EQ(t["untracked"], nlohmann::json({"parent 424243", "child 424244"}));
	record_fork_evidence(t, env, nullptr, 424244, 256u << 20);
	record_copy_counters(t, env, nullptr, nullptr);
	EXPECT_FALSE(t["odf_verified"].get<bool>());
	EXPECT_FALSE(t.contains("child_pgtables_bytes"));
	EXPECT_FALSE(t.contains("copy_page_range_calls"));
}

// A full map refuses a process; track() says so instead of leaving it silently uncounted.
TEST(Integration, TrackingIntoAFullMapThrows)
{
	REQUIRE_BPF();
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "odfb_tiny", sizeof(__u32), sizeof(proc_stats), 1, nullptr);
	ASSERT_GE(fd, 0);
	ProcTable t(fd);
	EXPECT_NO_THROW(t.track(1));
	EXPECT_THROW(t.track(2), std::runtime_error);
	EXPECT_THROW(t.track(0), std::runtime_error);
	close(fd);
}
