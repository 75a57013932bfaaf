# whale: the two set-up commands (`make serve`, `make test`) and the build steps behind them.
# Each target installs what is missing (Debian packages, npm test tools), builds, then runs.

BUILD ?= build
JOBS ?= $(shell nproc)
# The model `make serve` starts: nano-r1, trained by `make nano-r1`. In a checkout without it, a random-weight
# model of the same architecture is generated into the build folder instead (the words it writes are noise).
MODEL ?= models/nano-r1.gguf
STAND_IN_MODEL := $(BUILD)/models/tiny-v3-random.gguf
PORT ?= 8080

BUILD_PACKAGES := cmake g++ make pkg-config libcli11-dev nlohmann-json3-dev libpcre2-dev libutf8proc-dev \
                  libfmt-dev libcpp-httplib-dev libgtest-dev libgmock-dev libbenchmark-dev
TEST_PACKAGES := chromium
.PHONY: all deps test-deps debian-deps debian-test-deps npm-deps build test test-unit test-sanitize fuzz-build fuzz \
        fuzz-merge serve bench nano-r1 clean

all: build

# Installs those of the Debian packages named in $(1) that are missing (and Node.js when there is no npm).
define install_missing
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
endef

debian-deps:
	$(call install_missing,$(BUILD_PACKAGES))

debian-test-deps:
	$(call install_missing,$(TEST_PACKAGES))

# npm test tools, from the committed lock file; reinstalled only when the lock file changes.
node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

npm-deps: node_modules/.installed

deps: debian-deps npm-deps

test-deps: deps debian-test-deps

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: debian-deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: test-deps build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

# The unit and e2e suites (the fuzz targets' corpora and crashers included) on a build with AddressSanitizer
# and UndefinedBehaviorSanitizer: any report fails the test that caused it.
SANITIZE_BUILD ?= build-sanitize
SANITIZE_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1 \
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
test-sanitize: test-deps
	@[ -f $(SANITIZE_BUILD)/CMakeCache.txt ] || \
	  cmake -S . -B $(SANITIZE_BUILD) -DCMAKE_BUILD_TYPE=Release -DWHALE_SANITIZE=ON -DWHALE_BENCH=OFF
	cmake --build $(SANITIZE_BUILD) -j $(JOBS)
	cd $(SANITIZE_BUILD) && $(SANITIZE_ENV) ctest --output-on-failure -j $(JOBS) -L 'unit|e2e'

# libFuzzer runs (tests/fuzz/README.md): a clang build with the sanitizers on every library, then each target
# for FUZZ_SECONDS over its committed corpus and regressions, new inputs kept in $(FUZZ_BUILD)/corpus/NAME; a
# crash stops it (the input is saved in $(FUZZ_BUILD)/crashes/NAME/). `make fuzz-merge` folds the new inputs
# into tests/fuzz/corpus, keeping only those that add coverage.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := gguf safetensors tokenizer chat_template http
FUZZ_PACKAGES := clang libclang-rt-14-dev
FUZZ_FLAGS := -timeout=10 -rss_limit_mb=2048
fuzz-build: deps
	$(call install_missing,$(FUZZ_PACKAGES))
	@[ -f $(FUZZ_BUILD)/CMakeCache.txt ] || CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DWHALE_FUZZ=ON \
	  -DWHALE_TESTS=OFF -DWHALE_BENCH=OFF -DWHALE_WEB=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/crashes/$$t; \
	  $(FUZZ_BUILD)/fuzz_$$t $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t \
	    $$(test -d tests/fuzz/regressions/$$t && echo tests/fuzz/regressions/$$t) \
	    -max_total_time=$(FUZZ_SECONDS) $(FUZZ_FLAGS) -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/crashes/$$t/ || exit 1; \
	done

fuzz-merge: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  rm -rf $(FUZZ_BUILD)/merged/$$t && mkdir -p $(FUZZ_BUILD)/merged/$$t $(FUZZ_BUILD)/corpus/$$t && \
	  $(FUZZ_BUILD)/fuzz_$$t -merge=1 -use_counters=0 -max_len=65536 $(FUZZ_FLAGS) $(FUZZ_BUILD)/merged/$$t \
	    tests/fuzz/corpus/$$t $(FUZZ_BUILD)/corpus/$$t || exit 1; \
	  rm -rf tests/fuzz/corpus/$$t && mv $(FUZZ_BUILD)/merged/$$t tests/fuzz/corpus/$$t; \
	done

serve: deps build
	@model="$(MODEL)"; \
	if [ ! -e "$$model" ]; then \
	  model="$(STAND_IN_MODEL)"; \
	  if [ ! -e "$$model" ]; then \
	    mkdir -p $(dir $(STAND_IN_MODEL)) && \
	    $(BUILD)/whale mkmodel --arch deepseek2 --preset tiny-v3 --type q8_0 --seed 1 --out "$$model" || exit 1; \
	  fi; \
	  echo "$(MODEL) is not in this checkout yet: serving a random-weight model of the same architecture ($$model)"; \
	fi; \
	exec $(BUILD)/whale serve -m "$$model" --port $(PORT)

# Trains the shipped models from scratch: tokenizer, cold start, GRPO, distillation, evaluation
# (tools/nano-r1.sh; intermediate files and evaluations in $(BUILD)/nano-r1).
nano-r1: build
	WHALE=$(BUILD)/whale tools/nano-r1.sh $(BUILD)/nano-r1 models

bench: build
	$(BUILD)/bench/tokenizer_bench

clean:
	rm -rf $(BUILD)
