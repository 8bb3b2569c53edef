#include <gtest/gtest.h>

#include <fstream>
#include <sys/stat.h>

#include "cpio.h"
#include "vm.h"

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
