# The two commands a new user runs: `make run` and `make test`.
# Everything else (deps, build, bench, fuzz, format, lint) is what they are made of.

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD_DIR ?= build-asan
CMAKE_ARGS += -DARTHAMON_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
else
BUILD_DIR ?= build
endif
CONFIG ?= deploy/arthamon.yaml
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 300

.PHONY: all deps test-deps build run test bench fuzz format lint clean

all: build

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh build test

build: deps
	@test -f $(BUILD_DIR)/CMakeCache.txt || cmake -S . -B $(BUILD_DIR) $(CMAKE_ARGS)
	cmake --build $(BUILD_DIR) -j$(JOBS)

# Starts the agent in the foreground with the documented default config.
run: build
	@echo "arthamon: starting with $(CONFIG); one summary line per sampling interval, Ctrl-C stops"
	@exec $(BUILD_DIR)/arthamon run -c $(CONFIG)

# The whole suite; ends with ctest's summary.
test: test-deps
	@test -f $(BUILD_DIR)/CMakeCache.txt || cmake -S . -B $(BUILD_DIR) $(CMAKE_ARGS)
	cmake --build $(BUILD_DIR) -j$(JOBS)
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

bench:
	@scripts/install-deps.sh build bench
	@test -f build/CMakeCache.txt || cmake -S . -B build
	cmake --build build -j$(JOBS)
	bench/run.sh

fuzz:
	@scripts/install-deps.sh build fuzz
	@test -f build-fuzz/CMakeCache.txt || CC=clang cmake -S . -B build-fuzz -DARTHAMON_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-fuzz -j$(JOBS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh build-fuzz

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

lint:
	scripts/lint.sh

clean:
	rm -rf build build-asan build-fuzz
