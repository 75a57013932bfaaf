# whale: the two set-up commands (`make serve`, `make test`) and the build steps behind them.
# Each target installs what is missing (Debian packages, npm test tools), builds, then runs.

BUILD ?= build
JOBS ?= $(shell nproc)
DEBIAN_PACKAGES := cmake g++ make pkg-config libcli11-dev nlohmann-json3-dev libpcre2-dev libutf8proc-dev \
                   libfmt-dev libcpp-httplib-dev libgtest-dev libgmock-dev libbenchmark-dev chromium
.PHONY: all deps debian-deps npm-deps build test test-unit serve bench clean

all: build

debian-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# npm test tools, from the committed lock file; reinstalled only when the lock file changes.
node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

npm-deps: node_modules/.installed

deps: debian-deps npm-deps

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: debian-deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: deps build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

serve: debian-deps build
	$(BUILD)/whale info -m models/nano-r1.gguf

bench: build
	$(BUILD)/bench/tokenizer_bench

clean:
	rm -rf $(BUILD)
