#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>

#include "spec.h"
#include "workload.h"

using namespace odfb;
using nlohmann::json;

namespace {
// The SpecError message for `j`, or "" if it parsed.
std::string error_of(const json &j)
{
	try {
		parse_spec(j);
	} catch (const SpecError &e) {
		return e.what();
	}
	return "";
}
}  // namespace

TEST(Spec, ParsesSingleExperiment)
{
	auto s = parse_spec(json::parse(R"({"workload":"fork-latency","sizes":["64M",1048576],"modes":"fork,odf-procfs","reps":3,"warmup":0})"));
	ASSERT_EQ(s.experiments.size(), 1u);
	auto &e = s.experiments[0];
	EXPECT_EQ(e.workload, "fork-latency");
	EXPECT_EQ(e.sizes, (std::vector<uint64_t>{64ULL << 20, 1ULL << 20}));
	EXPECT_EQ(e.modes, (std::vector<Mode>{Mode::Fork, Mode::OdfProcfs}));
	EXPECT_EQ(e.reps, 3);
	EXPECT_EQ(e.warmup, 0);
	EXPECT_EQ(s.name, "fork-latency");
}

TEST(Spec, TopLevelFieldsAreDefaults)
{
	auto s = parse_spec(json::parse(R"({"name":"x","reps":4,"modes":["fork"],
		"experiments":[{"workload":"fork-latency","sizes":"1M"},{"workload":"fork-latency","sizes":"2M","reps":7}]})"));
	ASSERT_EQ(s.experiments.size(), 2u);
	EXPECT_EQ(s.experiments[0].reps, 4);
	EXPECT_EQ(s.experiments[1].reps, 7);
	EXPECT_EQ(s.experiments[1].modes, (std::vector<Mode>{Mode::Fork}));
}

TEST(Spec, ErrorsNameTheField)
{
	struct Case {
		const char *spec, *expect;
	} cases[] = {
		{R"({"workload":"nope","sizes":"1M"})", "spec.workload: unknown workload \"nope\""},
		{R"({"workload":"fork-latency","sizes":["64M","12Q"]})", "spec.sizes[1]: invalid size \"12Q\""},
		{R"({"workload":"fork-latency","sizes":"-1G"})", "spec.sizes[0]: invalid size \"-1G\""},
		{R"({"workload":"fork-latency","sizes":"0"})", "spec.sizes[0]: invalid size \"0\""},
		{R"({"workload":"fork-latency","sizes":[0]})", "spec.sizes[0]: expected a size"},
		{R"({"workload":"fork-latency","sizes":"1M","modes":["fork","clone3"]})", "spec.modes[1]: unknown mode \"clone3\""},
		{R"({"workload":"fork-latency","sizes":"1M","reps":"ten"})", "spec.reps: expected an integer, got string"},
		{R"({"workload":"fork-latency","sizes":"1M","reps":0})", "spec.reps: 0 is out of range"},
		{R"({"workload":"fork-latency","sizes":"1M","warmup":-2})", "spec.warmup: -2 is out of range"},
		{R"({"workload":"fork-latency","sizes":"1M","sizez":1})", "spec.sizez: unknown field"},
		{R"({"workload":"fork-latency","sizes":"1M","params":{"hugepages":true}})", "spec.params.hugepages: unknown parameter"},
		{R"({"workload":"fork-latency","sizes":"1M","params":{"thp":"yes"}})", "spec.params.thp: must be true or false"},
		{R"({"workload":3,"sizes":"1M"})", "spec.workload: expected a string, got number"},
		{R"({"sizes":"1M"})", "spec.workload: missing"},
		{R"({"workload":"fork-latency"})", "spec.sizes: missing"},
		{R"({"experiments":[]})", "spec.experiments: expected a non-empty list"},
		{R"({"experiments":[{"workload":"fork-latency","sizes":"1M","modes":[]}]})", "spec.experiments[0].modes"},
		{R"({"output":""," workload":"x"})", "spec.output"},
		{R"([1,2])", "spec: expected an object, got array"},
	};
	for (const auto &c : cases) {
		std::string err = error_of(json::parse(c.spec));
		EXPECT_NE(err.find(c.expect), std::string::npos) << "spec " << c.spec << "\n  gave: " << (err.empty() ? "(accepted)" : err);
	}
}

TEST(Spec, CommittedBenchSpecsParse)
{
	for (const char *f : {"bench/fork-latency-quick.json", "bench/fork-latency.json"}) {
		auto s = load_spec_file(std::string(ODFBENCH_SOURCE_DIR) + "/" + f);
		EXPECT_FALSE(s.experiments.empty()) << f;
	}
}

TEST(Spec, MalformedJsonFileNamesTheFile)
{
	try {
		load_spec_file(std::string(FIXTURES) + "/specs/malformed.json");
		FAIL() << "accepted malformed JSON";
	} catch (const SpecError &e) {
		EXPECT_NE(std::string(e.what()).find("malformed.json: not valid JSON"), std::string::npos) << e.what();
	}
}

// The registry: by name, one construction per lookup, names unique.
TEST(Registry, EveryNameMakesThatWorkload)
{
	auto names = workload_names();
	ASSERT_GE(names.size(), 9u);
	EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
	for (const auto &n : names) {
		auto w = make_workload(n);
		ASSERT_TRUE(w) << n;
		EXPECT_EQ(w->name(), n);
		EXPECT_FALSE(w->metrics().empty()) << n;
	}
	EXPECT_EQ(make_workload("no-such-workload"), nullptr);
	EXPECT_THROW(register_workload("fork-latency", [] { return make_workload("thp"); }), std::logic_error);
	// thp builds its fork-latency lazily, so it reports the same metrics.
	EXPECT_EQ(make_workload("thp")->metrics(), make_workload("fork-latency")->metrics());
}
