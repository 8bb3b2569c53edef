// Kernel lines: which end a boot and which are findings on a cell; the
// /dev/kmsg reader against the real log of this kernel.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/kmsg.h"

using namespace odfb;

TEST(KernelLines, WarningsSeenOnTheOdfKernelAreFindingsNotCrashes)
{
	// Lines the 6.0.6 patch set printed (docs/odf-findings.md), stamp and all.
	EXPECT_EQ(classify_kernel_line("[   12.345678] BUG: Bad rss-counter state mm:00000000a1b2c3d4 type:MM_ANONPAGES val:4"),
		  KernelLine::Warning);
	EXPECT_EQ(classify_kernel_line("BUG: non-zero pgtables_bytes on freeing mm: 16384"), KernelLine::Warning);
	EXPECT_EQ(classify_kernel_line("[    3.1] BUG: Bad page map in process odfbench  pte:8000000105a0c225 pmd:00000000"),
		  KernelLine::Warning);
	// A corrupted PTE read as a swap entry (seen in the 6.0.6 guest's check matrix).
	EXPECT_EQ(classify_kernel_line("[   75.050541] get_swap_device: Bad swap file entry 3ffffffffffff"), KernelLine::Warning);
	EXPECT_EQ(classify_kernel_line("[    9.106000] mm/pgtable-generic.c:51: bad pmd (____ptrval____)(0000000101f19065)"),
		  KernelLine::Warning);
	EXPECT_EQ(classify_kernel_line("[    9.0] WARNING: CPU: 1 PID: 212 at mm/memory.c:1234 copy_pte_range+0x1/0x2"),
		  KernelLine::Warning);
}

TEST(KernelLines, OopsesPanicsLockupsAndStallsAreFatal)
{
	for (const char *l : {"[    3.786746] general protection fault, probably for non-canonical address 0x8000000104ef385d: 0000 [#1] SMP NOPTI",
			      "BUG: kernel NULL pointer dereference, address: 0000000000000008",
			      "BUG: unable to handle page fault for address: ffff888000000000", "Oops: 0000 [#1] SMP",
			      "Kernel panic - not syncing: Fatal exception", "kernel BUG at mm/memory.c:100!",
			      "[  50.1] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [khugepaged:30]",
			      "[  60.2] rcu: INFO: rcu_preempt self-detected stall on CPU", "rcu: INFO: rcu_sched detected stalls on CPUs/tasks:"})
		EXPECT_EQ(classify_kernel_line(l), KernelLine::Fatal) << l;
}

TEST(KernelLines, OrdinaryLinesAndLookalikesAreNothing)
{
	for (const char *l : {"audit: type=1400 audit(0.0:2): apparmor=\"STATUS\"", "random: crng init done",
			      "odfbench: the word BUG: inside a sentence", "reboot: Power down"})
		EXPECT_EQ(classify_kernel_line(l), KernelLine::Other) << l;
	auto found = kernel_problem_lines({"random: crng init done", "BUG: Bad rss-counter state mm:1 type:MM_ANONPAGES val:4",
					   "Oops: 0000 [#1] SMP"});
	ASSERT_EQ(found.size(), 2u);
	EXPECT_EQ(found[1], "Oops: 0000 [#1] SMP");
}

TEST(KmsgReader, SeesWhatIsLoggedAfterItOpensAndNothingBefore)
{
	int w = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (w < 0 || geteuid() != 0)
		GTEST_SKIP() << "/dev/kmsg is not writable here (not root)";
	std::string before = fmt::format("odfbench-kmsg-test before {}\n", getpid());
	std::string after = fmt::format("odfbench-kmsg-test after {}\n", getpid());
	ASSERT_GT(write(w, before.data(), before.size()), 0);
	KmsgReader r;
	ASSERT_TRUE(r.ok());
	ASSERT_GT(write(w, after.data(), after.size()), 0);
	close(w);
	auto lines = drain_settled(r, 30, 1000);
	bool saw_before = false, saw_after = false;
	for (const auto &l : lines) {
		saw_before |= l + "\n" == before;
		saw_after |= l + "\n" == after;
	}
	EXPECT_TRUE(saw_after);
	EXPECT_FALSE(saw_before);
}
