// Strategies as modes, and the THP/mTHP knobs set for a cell and restored,
// on a fake sysfs tree (ODFBENCH_THP_SYSFS) with a private state directory.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "run/folio.h"
#include "run/mode.h"
#include "run/strategy.h"

using namespace odfb;
namespace fs = std::filesystem;

TEST(Mode, EveryNameRoundTrips)
{
	for (auto m : all_modes())
		EXPECT_EQ(parse_mode(mode_name(m)), m) << mode_name(m);
	EXPECT_EQ(mode_folio_kb(Mode::Thp), 2048u);
	EXPECT_EQ(mode_folio_kb(Mode::Mthp16K), 16u);
	EXPECT_EQ(mode_folio_kb(Mode::Mthp1M), 1024u);
	EXPECT_EQ(mode_folio_kb(Mode::Fork), 0u);
	EXPECT_EQ(mode_folio_kb(Mode::UffdWp), 0u);
	EXPECT_TRUE(is_odf_mode(Mode::OdfProcfs));
	EXPECT_FALSE(is_odf_mode(Mode::Thp));
	EXPECT_THROW(parse_mode("mthp-3K"), std::invalid_argument);
}

namespace {
struct FakeSysfs {
	fs::path root;
	FakeSysfs()
	{
		root = fs::temp_directory_path() / fmt_name();
		fs::create_directories(root / "state");
		write(root / "enabled", "always [madvise] never");
		for (const char *kb : {"16", "64", "2048"}) {
			fs::create_directories(root / ("hugepages-" + std::string(kb) + "kB") / "stats");
			write(root / ("hugepages-" + std::string(kb) + "kB") / "enabled",
			      std::string(kb) == "2048" ? "always [inherit] madvise never" : "always inherit madvise [never]");
			write(root / ("hugepages-" + std::string(kb) + "kB") / "stats" / "anon_fault_alloc", "7");
		}
		fs::create_directories(root / "hugepages-8kB");  // shmem only: no `enabled`, not offered
		setenv("ODFBENCH_THP_SYSFS", root.c_str(), 1);
		setenv("ODFBENCH_STATE_DIR", (root / "state").c_str(), 1);
	}
	~FakeSysfs()
	{
		unsetenv("ODFBENCH_THP_SYSFS");
		unsetenv("ODFBENCH_STATE_DIR");
		fs::remove_all(root);
	}
	static std::string fmt_name() { return "odfbench-fake-thp-" + std::to_string(getpid()); }
	static void write(const fs::path &p, const std::string &s) { std::ofstream(p) << s << "\n"; }
	std::string read(const std::string &rel) const
	{
		std::ifstream in(root / rel);
		std::string s;
		std::getline(in, s);
		return s;
	}
};
}  // namespace

TEST(FolioSetting, OffersSizesWithAnEnabledKnobAndReadsStats)
{
	FakeSysfs f;
	EXPECT_EQ(folio_sizes_offered(), (std::vector<unsigned>{16, 64, 2048}));
	EXPECT_EQ(folio_stats(64).at("anon_fault_alloc"), 7u);
	EXPECT_TRUE(folio_stats(32).empty());
	EXPECT_EQ(strategy_unavailable(Mode::Mthp64K), "");
	EXPECT_NE(strategy_unavailable(Mode::Mthp32K).find("hugepages-32kB"), std::string::npos);
}

TEST(FolioSetting, SetsOnlyTheCellsSizeAndRestoresEveryKnob)
{
	FakeSysfs f;
	{
		FolioSetting s(Mode::Mthp64K);
		EXPECT_EQ(f.read("hugepages-64kB/enabled"), "madvise");
		EXPECT_EQ(f.read("hugepages-16kB/enabled"), "never");
		EXPECT_EQ(f.read("hugepages-2048kB/enabled"), "never");
		EXPECT_TRUE(fs::exists(folio_state_path()));
		EXPECT_EQ(s.json()["folio_kb"], 64);
	}
	EXPECT_EQ(f.read("hugepages-64kB/enabled"), "never");
	EXPECT_EQ(f.read("hugepages-16kB/enabled"), "never");
	EXPECT_EQ(f.read("hugepages-2048kB/enabled"), "inherit");
	EXPECT_EQ(f.read("enabled"), "madvise");
	EXPECT_FALSE(fs::exists(folio_state_path()));
	// Modes without folios touch nothing.
	FolioSetting none(Mode::Fork);
	EXPECT_TRUE(none.json().is_null());
	EXPECT_EQ(f.read("hugepages-2048kB/enabled"), "inherit");
}

TEST(FolioSetting, ARunThatDiedIsRestoredAtTheNextStart)
{
	FakeSysfs f;
	pid_t pid = fork();
	if (pid == 0) {
		new FolioSetting(Mode::Thp);  // never destroyed: the process dies with the knobs set
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(f.read("hugepages-2048kB/enabled"), "madvise");
	EXPECT_EQ(f.read("hugepages-16kB/enabled"), "never");
	ASSERT_TRUE(fs::exists(folio_state_path()));
	std::string what = restore_stale_folio_setting();
	EXPECT_NE(what.find("restored"), std::string::npos) << what;
	EXPECT_EQ(f.read("hugepages-2048kB/enabled"), "inherit");
	EXPECT_FALSE(fs::exists(folio_state_path()));
	EXPECT_EQ(restore_stale_folio_setting(), "");  // nothing left to do
}

TEST(FolioSetting, ALiveRunsSettingIsNotTakenForStale)
{
	FakeSysfs f;
	FolioSetting s(Mode::Mthp16K);
	// This process holds the lock; a POSIX lock does not conflict with its
	// own owner, so ask from another process, as a second odfbench would.
	pid_t pid = fork();
	if (pid == 0)
		_exit(restore_stale_folio_setting().empty() ? 0 : 1);
	int st = 0;
	waitpid(pid, &st, 0);
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	EXPECT_EQ(f.read("hugepages-16kB/enabled"), "madvise");
}

TEST(FolioCensus, FourKilobytePagesHaveNoLargeFolio)
{
	// A region on 4K pages: every sampled block is exact at 4K, none large.
	void *p = aligned_alloc(2 << 20, 2 << 20);
	ASSERT_NE(p, nullptr);
	madvise(p, 2 << 20, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < (2u << 20); i += 4096)
		static_cast<char *>(p)[i] = 1;
	auto c = folio_census(p, 2 << 20, 4);
	if (!c.available)
		GTEST_SKIP() << c.why;
	EXPECT_EQ(c.pages_in_large_folio, 0u);
	EXPECT_EQ(c.blocks_exact, c.blocks_sampled);
	EXPECT_GT(c.blocks_sampled, 0u);
	free(p);
}
