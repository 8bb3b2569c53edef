// Kernel recipes: the configuration check, cache keys, the committed variants.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kernel/recipe.h"

using namespace odfb;

namespace {
std::string read(const std::string &p)
{
	std::ifstream in(p);
	std::ostringstream s;
	s << in.rdbuf();
	return s.str();
}
const std::string kKernels = std::string(ODFBENCH_SOURCE_DIR) + "/kernels";
}  // namespace

TEST(Kconfig, ParsesSetUnsetAndIgnoresComments)
{
	auto m = parse_kconfig("# a comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"str\"\nCONFIG_HZ=250\r\nnoise\n");
	ASSERT_EQ(m.size(), 4u);
	EXPECT_EQ(m["CONFIG_A"], "y");
	EXPECT_EQ(m["CONFIG_B"], "n");
	EXPECT_EQ(m["CONFIG_C"], "\"str\"");
	EXPECT_EQ(m["CONFIG_HZ"], "250");
}

TEST(Kconfig, LaterFragmentWinsAndMissesAreNamed)
{
	// common asks THP on, the paper fragment turns it off: off must win.
	std::string common = "CONFIG_BPF=y\nCONFIG_TRANSPARENT_HUGEPAGE=y\nCONFIG_MEM_SOFT_DIRTY=y\n";
	std::string paper = "# CONFIG_TRANSPARENT_HUGEPAGE is not set\nCONFIG_HZ_250=y\n";
	std::string final_cfg = "CONFIG_BPF=y\n# CONFIG_TRANSPARENT_HUGEPAGE is not set\nCONFIG_HZ_250=y\n";
	auto miss = kconfig_unmet({common, paper}, final_cfg);
	ASSERT_EQ(miss.size(), 1u);  // soft-dirty did not survive olddefconfig
	EXPECT_EQ(miss[0].option, "CONFIG_MEM_SOFT_DIRTY");
	EXPECT_EQ(miss[0].wanted, "y");
	EXPECT_EQ(miss[0].got, "n");
	// An option asked off is met by its absence.
	EXPECT_TRUE(kconfig_unmet({"# CONFIG_DRM_AMDGPU is not set\n"}, "CONFIG_BPF=y\n").empty());
	// ... and not by "=m".
	EXPECT_EQ(kconfig_unmet({"# CONFIG_DRM_AMDGPU is not set\n"}, "CONFIG_DRM_AMDGPU=m\n").size(), 1u);
}

TEST(Kconfig, CommittedFragmentsAgreeWithTheirOwnMerge)
{
	// Merged onto nothing, each variant's fragments are met by themselves in
	// order; a contradiction inside one fragment would show here.
	auto vs = parse_variants(nlohmann::json::parse(read(kKernels + "/variants.json")));
	for (auto &[name, v] : vs) {
		std::vector<std::string> texts;
		std::string merged;
		for (auto &f : v.fragments) {
			texts.push_back(read(kKernels + "/config/" + f));
			ASSERT_FALSE(texts.back().empty()) << name << ": " << f << " is empty or missing";
		}
		for (auto &[k, val] : [&] {
			     std::map<std::string, std::string> all;
			     for (auto &t : texts)
				     for (auto &[kk, vv] : parse_kconfig(t))
					     all[kk] = vv;
			     return all;
		     }())
			merged += val == "n" ? "# " + k + " is not set\n" : k + "=" + val + "\n";
		EXPECT_TRUE(kconfig_unmet(texts, merged).empty()) << name;
	}
}

TEST(KernelVariants, CommittedFileHasTheIssueVariants)
{
	auto vs = parse_variants(nlohmann::json::parse(read(kKernels + "/variants.json")));
	for (const char *n : {"patchset-6.0.6", "vanilla-6.0.6", "paper-5.6.19", "debian-6.12", "debian-6.1"})
		ASSERT_TRUE(vs.count(n)) << n;
	EXPECT_EQ(vs["patchset-6.0.6"].odf_variant, "patchset-6.0");
	EXPECT_EQ(vs["vanilla-6.0.6"].odf_variant, "none");
	EXPECT_EQ(vs["vanilla-6.0.6"].commit.size(), 40u);  // pinned: the branch's first commit
	// The A/B is fair only if both 6.0.6 builds get the same configuration.
	EXPECT_EQ(vs["vanilla-6.0.6"].fragments, vs["patchset-6.0.6"].fragments);
	EXPECT_EQ(vs["vanilla-6.0.6"].base, vs["patchset-6.0.6"].base);
	EXPECT_EQ(vs["vanilla-6.0.6-full"].fragments, vs["patchset-6.0.6-full"].fragments);
	// What make run boots is the guest-only configuration; the defconfig build stays for hardware.
	EXPECT_EQ(vs["patchset-6.0.6"].base, "allnoconfig");
	EXPECT_EQ(vs["patchset-6.0.6-full"].base, "x86_64_defconfig");
	EXPECT_EQ(vs["patchset-6.0.6"].fragments.front(), "guest.config");
	EXPECT_EQ(vs["paper-5.6.19"].cc, "gcc-11");
	EXPECT_EQ(vs["paper-5.6.19"].btf, "pahole");
	EXPECT_TRUE(vs["debian-6.12"].from_debian());
	// The paper fragment carries over the shipped config's scheduler and THP settings.
	auto paper = parse_kconfig(read(kKernels + "/config/paper-5.6.19.config"));
	EXPECT_EQ(paper["CONFIG_PREEMPT_NONE"], "y");
	EXPECT_EQ(paper["CONFIG_HZ_250"], "y");
	EXPECT_EQ(paper["CONFIG_TRANSPARENT_HUGEPAGE"], "n");
}

TEST(KernelVariants, BadEntriesAreNamed)
{
	auto bad = [](const char *j) {
		try {
			parse_variants(nlohmann::json::parse(j));
		} catch (const std::invalid_argument &e) {
			return std::string(e.what());
		}
		return std::string("accepted");
	};
	EXPECT_NE(bad(R"({"x": {"btf": "in-kernel", "odf_variant": "none"}})").find("variant x: needs exactly one"), std::string::npos);
	EXPECT_NE(bad(R"({"x": {"git": "u", "ref": "b", "fragments": ["a"], "commit": "abc", "btf": "in-kernel", "odf_variant": "none"}})")
			  .find("40 hex"),
		  std::string::npos);
	EXPECT_NE(bad(R"({"x": {"git": "u", "fragments": ["a"], "btf": "in-kernel", "odf_variant": "none"}})").find("ref"), std::string::npos);
	EXPECT_NE(bad(R"({"x": {"git": "u", "ref": "b", "fragments": ["a"], "btf": "yes", "odf_variant": "none"}})").find("btf"),
		  std::string::npos);
	EXPECT_NE(bad(R"({"x": {"git": "u", "ref": "b", "fragments": [1], "btf": "pahole", "odf_variant": "none"}})").find("fragments"),
		  std::string::npos);
	EXPECT_NE(bad(R"({"x": {"git": "u", "ref": "b", "fragments": ["a"], "base": "tinyconfig", "btf": "pahole", "odf_variant": "none"}})")
			  .find("base must be"),
		  std::string::npos);
}

TEST(KernelCache, KeyChangesWithEveryInputAndNothingElse)
{
	KernelVariant v;
	v.name = "patchset-6.0.6";
	v.git = "https://example/x";
	v.ref = "b";
	v.fragments = {"common.config"};
	v.btf = "in-kernel";
	v.odf_variant = "patchset-6.0";
	std::vector<std::pair<std::string, std::string>> frags = {{"common.config", "CONFIG_BPF=y\n"}};
	std::string base = recipe_text(v, frags, "script");
	EXPECT_EQ(base, recipe_text(v, frags, "script"));  // deterministic
	auto w = v;
	w.description = "another description";
	EXPECT_EQ(base, recipe_text(w, frags, "script"));  // words do not change the image
	w = v;
	w.cc = "gcc-11";
	EXPECT_NE(base, recipe_text(w, frags, "script"));
	w = v;
	w.base = "allnoconfig";
	EXPECT_NE(base, recipe_text(w, frags, "script"));
	w = v;
	w.commit = std::string(40, 'a');
	EXPECT_NE(base, recipe_text(w, frags, "script"));
	EXPECT_NE(base, recipe_text(v, {{"common.config", "CONFIG_BPF=n\n"}}, "script"));
	EXPECT_NE(base, recipe_text(v, {{"other.config", "CONFIG_BPF=y\n"}}, "script"));
	EXPECT_NE(base, recipe_text(v, frags, "script2"));
	// Fragment boundaries are part of the text: moving a line between two
	// fragments is another recipe.
	EXPECT_NE(recipe_text(v, {{"a", "X\nY\n"}, {"b", ""}}, "s"), recipe_text(v, {{"a", "X\n"}, {"b", "Y\n"}}, "s"));

	std::string h(64, 'f');
	EXPECT_EQ(cache_entry_name("patchset-6.0.6", "c903574b85bd256acdaa0cb8f7831b8bcde7bfd0", h), "patchset-6.0.6-c903574b85bd-ffffffffffff");
	// A package version is kept whole and made safe for a directory name.
	EXPECT_EQ(cache_entry_name("debian-6.12", "6.12.95-1~bpo12+1", h), "debian-6.12-6.12.95_1_bpo12_1-ffffffffffff");
	EXPECT_THROW(cache_entry_name("v", "", h), std::invalid_argument);
	EXPECT_THROW(cache_entry_name("v", "abc", "short"), std::invalid_argument);
}
