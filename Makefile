# bstack: the two commands of the README, plus benchmarks.
#   make run    install what is missing, build (Release), run `bstack demo`
#   make test   install, build, run every test with ctest (a sanitizer build of the unit
#               tests first, then the Release build's full suite, whose summary ends the output)
#   make bench  build and run every benchmark executable (build/bench/bench_*)
JOBS  ?= $(shell nproc)
BUILD ?= build
ASAN  ?= build-asan

.PHONY: all deps build run test test-asan bench clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

run: build
	./$(BUILD)/bstack demo

# AddressSanitizer + UndefinedBehaviorSanitizer over the unit tests (Debug, -O1 for speed).
# LeakSanitizer works here (checked in the development sandbox), so a leak fails the run.
test-asan: deps
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
	  -DBSTACK_SANITIZE=address,undefined -DBSTACK_BENCH=OFF -DBSTACK_CLI=OFF
	cmake --build $(ASAN) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  ctest --test-dir $(ASAN) -L unit -j$(JOBS) --output-on-failure

# Sequential on purpose (even under make -j): the sanitizer suite, then the Release suite,
# whose ctest summary is the last thing printed.
test:
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory build
	ctest --test-dir $(BUILD) -j$(JOBS) --output-on-failure

# Benchmarks with their peers (libtorch, OpenBLAS), OpenBLAS at its best: OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE are unset for these commands only (never in tests or CI).
bench:
	@scripts/install-deps --bench
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DBSTACK_BENCH_PEERS=ON
	cmake --build $(BUILD) -j$(JOBS)
	@for b in $(BUILD)/bench/bench_*; do \
	  [ -f "$$b" ] && [ -x "$$b" ] || continue; \
	  echo "== $$b"; env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $$b || exit 1; done

clean:
	rm -rf $(BUILD) $(ASAN)
