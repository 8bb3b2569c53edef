#include <gtest/gtest.h>

#include <stdexcept>

#include "base/sizes.h"

using namespace odfb;

TEST(Sizes, ParsesBinaryUnits)
{
	EXPECT_EQ(parse_size("64M"), 64ULL << 20);
	EXPECT_EQ(parse_size("1G"), 1ULL << 30);
	EXPECT_EQ(parse_size("1.5G"), 3ULL << 29);
	EXPECT_EQ(parse_size("4096"), 4096u);
	EXPECT_EQ(parse_size("512KiB"), 512ULL << 10);
	EXPECT_EQ(parse_size("2GB"), 2ULL << 30);
	EXPECT_EQ(parse_size(" 8k "), 8192u);
	EXPECT_EQ(parse_size("1T"), 1ULL << 40);
}

TEST(Sizes, RejectsBadInputNamingIt)
{
	for (const char *bad : {"12Q", "-1G", "0", "", "G", "1.3B", "abc", "1..5G", "1G2", "0.0001K", "99999999999T", "1Gx"}) {
		try {
			parse_size(bad);
			ADD_FAILURE() << "accepted " << bad;
		} catch (const std::invalid_argument &e) {
			EXPECT_NE(std::string(e.what()).find(std::string("\"") + bad + "\""), std::string::npos) << e.what();
		}
	}
}

TEST(Sizes, FormatRoundTrips)
{
	EXPECT_EQ(format_size(256ULL << 20), "256M");
	EXPECT_EQ(format_size(1ULL << 30), "1G");
	EXPECT_EQ(format_size(3ULL << 29), "1536M");
	EXPECT_EQ(format_size(1536), "1.5K");
	EXPECT_EQ(format_size(100), "100B");
	for (const char *s : {"64M", "2G", "4K", "3T"})
		EXPECT_EQ(format_size(parse_size(s)), s);
}
