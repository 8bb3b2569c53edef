// The tool's version and the commit it was built from.  Defined in one
// generated file (cmake/version.cmake), rewritten only when the commit
// changes, so a new commit relinks the binaries and rebuilds nothing else.
#pragma once
#include <string>

namespace odfb {

extern const char *const kVersion;      // the project version, "0.1.0"
extern const char *const kGitDescribe;  // `git describe --always --dirty`, or "unknown"

inline std::string tool_version() { return std::string(kVersion) + " (" + kGitDescribe + ")"; }

}  // namespace odfb
