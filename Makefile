# roost: developer entry points. CMake does the building; this file only
# names the common tasks. See README.md.
#
#   make / make build   install missing build dependencies, build build/roost
#   make run            build, set up ./var (config, certificate, demo user)
#                       and run the server in the foreground
#   make test           everything CI runs: unit tests (gcc, then clang with
#                       ASan+UBSan) and the integration suite against both builds
#   make unit           unit tests of the gcc build only
#   make integration    integration suite against build/roost only
#   make asan           unit + integration tests of the ASan/UBSan build only
#   make clean          remove the build directories (./var is kept)

JOBS ?= 2
export JOBS

.PHONY: all build run test unit integration asan clean deps

all: build

deps:
	@scripts/deps.sh

build: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build -j$(JOBS)

run: build
	scripts/init-var.sh var
	exec build/roost serve -c var/roost.conf

test: deps
	scripts/run-tests.sh all

unit: deps
	scripts/run-tests.sh unit

integration: deps
	scripts/run-tests.sh integration

asan: deps
	scripts/run-tests.sh asan

clean:
	rm -rf build build-asan build-fuzz
