# sbert -- top-level commands.
#
#   make            build (Release) into build/
#   make test       install what is missing, build, run the whole test suite
#   make test-asan  the same suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make install    install libsbert.{a,so}, include/sbert.h, bin/sbert and sbert.pc
#                   under PREFIX (default /usr/local); DESTDIR is honoured
#   make demo       the main job: train the static-embedding recipe on bundled data (ends with VERDICT)
#   make demo-search  semantic search over bundled sentences with the real all-MiniLM-L6-v2
#   make bench      side-by-side benchmarks against sentence-transformers (needs torch)
#   make fuzz       build the libFuzzer targets with clang and run each briefly
#   make refs       regenerate reference values with Python (needs sentence-transformers)
SHELL := /bin/bash
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
APT_PACKAGES := cmake pkg-config libopenblas-dev libdnnl-dev libcjson-dev libutf8proc-dev libpcre2-dev zlib1g-dev
PKGCONFIG_MODULES := openblas libcjson libutf8proc libpcre2-8 zlib

.PHONY: all build deps models test test-asan install demo demo-search bench fuzz fuzz-build refs clean

all: build

# Debian packages, installed only when missing (needs root, as on CI).
deps:
	@if ! command -v cmake >/dev/null || ! command -v pkg-config >/dev/null || \
	   ! pkg-config --exists $(PKGCONFIG_MODULES) || ! test -e /usr/include/oneapi/dnnl/dnnl.h; then \
	  echo "installing: $(APT_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); \
	fi
	@python3 -c "import numpy, safetensors, pyarrow" 2>/dev/null || python3 -m pip install --quiet numpy safetensors pyarrow

models:
	@./tools/fetch_models.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j$(JOBS)

test: build models
	cd build && ctest --output-on-failure -j$(JOBS)

test-asan: deps models
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" -DSBERT_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j$(JOBS)

install: build
	@cmake -S . -B build -DCMAKE_INSTALL_PREFIX="$(PREFIX)" >/dev/null
	@cmake --build build -j$(JOBS)
	DESTDIR="$(DESTDIR)" cmake --install build

# The demo shows the run, not the build: the build's output goes to a log
# (shown only when the build fails).
demo: deps
	@mkdir -p logs; cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > logs/build.log 2>&1 && \
	  cmake --build build -j$(JOBS) >> logs/build.log 2>&1 || { cat logs/build.log; exit 1; }
	@./tools/demo.sh

demo-search: build models
	@./tools/demo_search.sh

bench: build models
	@./bench/encode/run.sh

# fuzz-build compiles the libFuzzer targets (CI does it, so they keep building); fuzz also runs them.
fuzz-build: deps
	@command -v clang >/dev/null || (apt-get update -qq && apt-get install -y -qq clang)
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DSBERT_FUZZ=ON -DSBERT_WERROR=OFF >/dev/null
	@cmake --build build-fuzz -j$(JOBS)

fuzz: fuzz-build
	@./fuzz/run.sh build-fuzz

refs:
	python3 tools/gen_refs.py

clean:
	rm -rf build build-asan build-fuzz
