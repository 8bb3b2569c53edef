#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "odf/detect.h"

using namespace odfb;

namespace {
OdfInfo detect_fixture(const std::string &name, const std::string &btf = "/nonexistent/btf")
{
	std::string root = std::string(FIXTURES) + "/detect/" + name;
	return detect_odf({root + "/proc", root + "/kallsyms", btf});
}
bool has_evidence(const OdfInfo &i, const std::string &text)
{
	return std::any_of(i.evidence.begin(), i.evidence.end(), [&](auto &e) { return e.find(text) != std::string::npos; });
}
}  // namespace

TEST(Detect, Patchset606)
{
	auto i = detect_fixture("patchset-6.0.6");
	EXPECT_EQ(i.variant, OdfVariant::Patchset60);
	EXPECT_TRUE(i.use_odf_present);
	EXPECT_EQ(i.active_flag_bit(), 30);
	EXPECT_TRUE(has_evidence(i, "handle_cow_pte found in kallsyms"));
}

TEST(Detect, Paper5619)
{
	auto i = detect_fixture("paper-5.6.19");
	EXPECT_EQ(i.variant, OdfVariant::Paper56);
	EXPECT_EQ(i.active_flag_bit(), 27);
	EXPECT_TRUE(has_evidence(i, "tfork_one_pte_table found in kallsyms"));
}

TEST(Detect, Mainline618IsNoneEvenThoughPrctl65Exists)
{
	// 6.18 has PR_SET_MDWE = 65 and faccessat2 = 439: neither is evidence.
	auto i = detect_fixture("mainline-6.18");
	EXPECT_EQ(i.variant, OdfVariant::None);
	EXPECT_FALSE(i.use_odf_present);
	EXPECT_EQ(i.active_flag_bit(), -1);
	EXPECT_TRUE(has_evidence(i, "use_odf absent"));
	EXPECT_TRUE(has_evidence(i, "never probed"));
}

TEST(Detect, PlainOldKernelIsNone)
{
	EXPECT_EQ(detect_fixture("none-5.15").variant, OdfVariant::None);
}

TEST(Detect, HalfTheEvidenceIsNotEnough)
{
	auto a = detect_fixture("use-odf-without-functions");
	EXPECT_EQ(a.variant, OdfVariant::None);
	EXPECT_TRUE(has_evidence(a, "not positively identified"));
	auto b = detect_fixture("functions-without-use-odf");
	EXPECT_EQ(b.variant, OdfVariant::None);
	EXPECT_TRUE(has_evidence(b, "not positively identified"));
}

TEST(Detect, CompilerSuffixedSymbolsCount)
{
	// gcc may emit handle_cow_pte.isra.0; it is still the 6.0.6 function.
	EXPECT_EQ(detect_fixture("patchset-suffixed").variant, OdfVariant::Patchset60);
}

TEST(Detect, RunningKernelBtfHasNoOdfFunctions)
{
	// This machine runs a mainline kernel: its real BTF must not fool detection.
	auto i = detect_fixture("mainline-6.18", "/sys/kernel/btf/vmlinux");
	EXPECT_EQ(i.variant, OdfVariant::None);
	EXPECT_TRUE(i.functions.empty());
}
