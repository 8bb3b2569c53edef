#include <gtest/gtest.h>

#include <set>

#include <nlohmann/json.hpp>

#include <algorithm>

#include "run/spec.h"
#include "run/workload.h"

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

// Shards: every cell of a spec is in exactly one of N shards, whatever N.
TEST(Shards, EveryCellInExactlyOneShard)
{
	auto spec = parse_spec(nlohmann::json::parse(
		R"({"experiments": [{"workload": "fork-latency", "sizes": ["64M", "256M", "1G"], "modes": ["fork", "odf", "odf-procfs"]},
		                     {"workload": "fork-rate", "sizes": ["8M"], "modes": ["fork", "odf"]}]})"));
	auto all = expand_cells(spec);
	ASSERT_EQ(all.size(), 11u);
	for (size_t i = 0; i < all.size(); ++i)
		EXPECT_EQ(all[i].index, i);
	for (int n : {1, 2, 3, 4, 7, 11, 12, 20}) {
		std::vector<int> seen(all.size(), 0);
		for (int i = 1; i <= n; ++i)
			for (const auto &c : select_cells(all, Shard{i, n}, std::nullopt))
				++seen.at(c.index);
		for (size_t c = 0; c < all.size(); ++c)
			EXPECT_EQ(seen[c], 1) << "cell " << c << " with N=" << n;
	}
	// Round robin over groups (a workload at one size, every mode): a shard mixes
	// workloads, and fork and ODF of a group are in the same shard, so they are
	// measured on one machine.  Cell by cell, shard 1 of 3 held every fork cell.
	auto s1 = select_cells(all, Shard{1, 3}, std::nullopt), s3 = select_cells(all, Shard{3, 3}, std::nullopt);
	EXPECT_EQ(s1.size(), 5u);  // 64M fork/odf/odf-procfs and fork-rate's fork/odf
	EXPECT_EQ(s3.size(), 3u);
	EXPECT_EQ(s1.back().experiment, 1u);
	for (int n : {2, 3, 4})
		for (int i = 1; i <= n; ++i) {
			std::set<size_t> groups_here;
			for (const auto &c : select_cells(all, Shard{i, n}, std::nullopt))
				groups_here.insert(c.group);
			for (const auto &c : all)
				if (groups_here.count(c.group))
					EXPECT_EQ(static_cast<int>(c.group % n), i - 1) << "cell " << c.index << " apart from its group";
		}
	std::set<Mode> modes_in_s1;
	for (const auto &c : s1)
		if (c.group == 0)
			modes_in_s1.insert(c.mode);
	EXPECT_EQ(modes_in_s1.size(), 3u);
}

TEST(Shards, ParseAndCellLists)
{
	EXPECT_EQ(parse_shard("2/8").index, 2);
	EXPECT_EQ(parse_shard("2/8").count, 8);
	EXPECT_EQ(parse_shard("2/8").text(), "2/8");
	for (const char *bad : {"0/4", "5/4", "1/0", "1", "a/b", "1/2x", "-1/2", ""})
		EXPECT_THROW(parse_shard(bad), SpecError) << bad;
	EXPECT_EQ(parse_cell_list("7,0,3-5,4", 10), (std::vector<size_t>{0, 3, 4, 5, 7}));
	for (const char *bad : {"", "10", "x", "5-3", "1,,2", "-1"})
		EXPECT_THROW(parse_cell_list(bad, 10), SpecError) << bad;
	EXPECT_EQ(format_cell_list({0, 3, 4, 5, 7}), "0,3-5,7");
	EXPECT_EQ(format_cell_list({}), "");
	// A shard and a list together: the list within the shard (shard 1/2: 64M's group).
	auto spec = parse_spec(nlohmann::json::parse(R"({"workload": "fork-latency", "sizes": ["64M", "256M"], "modes": ["fork", "odf"]})"));
	auto cells = select_cells(expand_cells(spec), Shard{1, 2}, std::vector<size_t>{0, 1, 2});
	ASSERT_EQ(cells.size(), 2u);
	EXPECT_EQ(cells[0].index, 0u);
	EXPECT_EQ(cells[1].index, 1u);
}
