// The per-cell event stream of a run or check inside `odfbench vm`: one line
// per event on the file ODFBENCH_STREAM names (a serial port the host
// records), drained before the next cell starts, so a kernel that dies in
// the next cell cannot take this one with it.  vm/stream.h reads it.
#pragma once
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace odfb {

class ResultStream {
public:
	explicit ResultStream(const std::string &path);  // "" or unopenable: sends nothing
	~ResultStream();
	ResultStream(const ResultStream &) = delete;
	ResultStream &operator=(const ResultStream &) = delete;
	void send(const nlohmann::json &event);

private:
	int fd_ = -1;
};

}  // namespace odfb
