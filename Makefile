# Thin wrapper: everything real lives in CMake.  Each entry point installs
# missing Debian packages first, so a fresh Debian 12 machine needs nothing else.
BUILD ?= build
JOBS ?= $(shell nproc)
DEPS = clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev cmake g++ make pkg-config \
       nlohmann-json3-dev libgtest-dev libcli11-dev libfmt-dev python3-jsonschema python3-matplotlib git \
       qemu-system-x86 busybox-static libhiredis-dev redis-server \
       libsqlite3-dev afl++ libseccomp-dev binutils util-linux \
       chromium slurm-wlm munge parallel

.PHONY: all deps build tool run figures performance test clean
PY = /usr/bin/python3
RESULTS ?= $(shell ls -t results/*.json 2>/dev/null | head -1)

all: build

deps:
	@missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing $$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "make deps: need root to apt-get install: $$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Configure once; after that CMake re-runs itself when a CMakeLists.txt changes.
$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

# build: everything, tests included.  tool: what `make run` needs, nothing more.
build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

tool: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target tool

# The main job (bench/evaluate.sh): the quick spec on this kernel and, under
# odfbench vm, on the ODF patch-set kernel (built and cached on first use;
# HOST_ONLY=1 skips it, KERNELS="..." picks others, KERNEL_SRC=DIR builds from
# a local clone or mirror); then figures, the compare table and the report.
run: tool
	BUILD=$(BUILD) HOST_ONLY=$(HOST_ONLY) KERNELS="$(KERNELS)" KERNEL_SRC=$(KERNEL_SRC) bench/evaluate.sh

# make figures [RESULTS="a.json b.json"]: every figure those results support.
figures:
	@[ -n "$(RESULTS)" ] || { echo "make figures: no results/*.json yet (make run, or RESULTS=...)"; exit 2; }
	$(PY) plots/make_figures.py -o plots $(RESULTS)

# make report [RESULTS="a.json b.json check.json"]: one self-contained HTML page (and
# its markdown twin) of those results; prints where it went.
.PHONY: report
report: tool
	@[ -n "$(RESULTS)" ] || { echo "make report: no results/*.json yet (make run, or RESULTS=...)"; exit 2; }
	@mkdir -p results
	ts=$$(date -u +%Y%m%dT%H%M%SZ); \
	  $(BUILD)/odfbench report $(RESULTS) -o results/report-$$ts.html --markdown results/report-$$ts.md

# Regenerates docs/performance.md: probe overhead measured on this machine.
performance: tool
	@mkdir -p results
	$(BUILD)/odfbench overhead bench/overhead.json --markdown docs/performance.md

test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 600

clean:
	rm -rf $(BUILD)
