#!/usr/bin/env bash
# run-tests.sh [PART...]: build roost and run its tests; what `make test` runs.
#
# PARTs, in the order they run (default: all of them):
#   unit              build build/ (gcc, RelWithDebInfo), run every unit test
#                     listed in build/unit-tests.txt
#   asan-unit         build build-asan/ (clang, -DROOST_SANITIZE=ON), run the
#                     unit tests there
#   integration       tests/integration/run.py against build/roost
#   asan-integration  the same against build-asan/roost
#   fuzz              build the libFuzzer targets (clang, build-fuzz/) and run
#                     each for FUZZ_SECONDS (default 30) from its corpus; a
#                     crash or leak fails it
# Shorthands: "gcc" = unit integration, "asan" = asan-unit asan-integration.
#
# Every unit test prints "N passed, N failed"; so does the integration
# runner (plus ", N skipped"). This script prints the counts of each part and
# ends with one line "N passed, N failed" (the totals). A unit test that exits
# non-zero without reporting a failure (a crash, a leak found at exit) counts
# as one failure, and so does a build that fails. Exit status: 0 when nothing
# failed, 1 otherwise.
#
# Environment: JOBS (default 2) build parallelism; UNIT_TIMEOUT (default 300)
# seconds per unit test; extra arguments for run.py in INTEGRATION_ARGS.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

jobs=${JOBS:-2}
unit_timeout=${UNIT_TIMEOUT:-300}
# Sub-makes started by cmake --build must not inherit `make test`'s flags
# (jobserver, "Entering directory" noise).
unset MAKEFLAGS MFLAGS MAKELEVEL
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

total_passed=0
total_failed=0
total_skipped=0
summary=()

parts=()
for arg in "${@:-all}"; do
	case $arg in
	all) parts+=(unit asan-unit integration asan-integration fuzz) ;;
	gcc) parts+=(unit integration) ;;
	asan) parts+=(asan-unit asan-integration) ;;
	unit | asan-unit | integration | asan-integration | fuzz) parts+=("$arg") ;;
	*)
		echo "usage: $0 [all|gcc|asan|unit|asan-unit|integration|asan-integration|fuzz]..." >&2
		exit 2
		;;
	esac
done

note() { printf '\n==== %s\n' "$*"; }

# record PART PASSED FAILED [SKIPPED [WHAT FAILED]]
record() {
	local part=$1 passed=$2 failed=$3 skipped=${4:-0} what=${5:-}
	total_passed=$((total_passed + passed))
	total_failed=$((total_failed + failed))
	total_skipped=$((total_skipped + skipped))
	local line="$part: $passed passed, $failed failed"
	if [ "$skipped" -gt 0 ]; then line+=", $skipped skipped"; fi
	if [ -n "$what" ]; then line+="  (failed:$what)"; fi
	summary+=("$line")
}

# configure BUILDDIR CC [CMAKE ARGS...]: once per build dir; later runs
# reuse the cache (CMake re-runs itself when CMakeLists.txt changes).
configure() {
	local dir=$1 cc=$2
	shift 2
	if [ -f "$dir/CMakeCache.txt" ]; then
		cmake -S . -B "$dir" >/dev/null
	else
		CC=$cc cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
	fi
}

declare -A built=()
# build KIND TARGET: KIND is gcc or asan; remembers the result so that each
# target is built once per run. Returns 0 when the target is up to date.
build() {
	local kind=$1 target=$2 key="$1/$2" dir cc rc
	if [ -n "${built[$key]:-}" ]; then return "${built[$key]}"; fi
	if [ "$kind" = asan ]; then
		dir=build-asan cc=clang
		configure "$dir" "$cc" -DROOST_SANITIZE=ON
	else
		dir=build cc=gcc
		configure "$dir" "$cc"
	fi
	rc=$?
	if [ "$rc" -eq 0 ]; then
		note "build $dir: $target"
		cmake --build "$dir" -j"$jobs" --target "$target"
		rc=$?
	fi
	if [ "$rc" -ne 0 ]; then
		echo "run-tests: building $target in $dir FAILED" >&2
		record "build $dir ($target)" 0 1
		rc=1
	fi
	built[$key]=$rc
	return "$rc"
}

# run_unit KIND: runs each test of <builddir>/unit-tests.txt.
run_unit() {
	local kind=$1 dir=build passed=0 failed=0 t out rc line p f names=""
	[ "$kind" = asan ] && dir=build-asan
	build "$kind" unit-tests || return 0
	note "unit tests ($dir)"
	while IFS= read -r t; do
		[ -n "$t" ] || continue
		out=$(timeout "$unit_timeout" "$dir/$t" 2>&1)
		rc=$?
		line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
		if [ -n "$line" ]; then
			p=${line%% passed*}
			f=${line#* passed, }
			f=${f%% failed*}
		else
			p=0 f=0
		fi
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1 # crashed, timed out (124) or leaked after printing its counts
		fi
		if [ "$f" -ne 0 ]; then
			if [ -n "$out" ]; then printf '%s\n' "$out"; fi
			if [ "$rc" -eq 124 ]; then
				printf 'FAILED %s: timed out after %s s\n' "$t" "$unit_timeout"
			else
				printf 'FAILED %s (exit %d): %s passed, %s failed\n' "$t" "$rc" "$p" "$f"
			fi
			names+=" $t"
		else
			printf '%-28s %s passed, %s failed\n' "$t" "$p" "$f"
		fi
		passed=$((passed + p))
		failed=$((failed + f))
	done <"$dir/unit-tests.txt"
	record "unit ($dir)" "$passed" "$failed" 0 "$names"
}

# run_integration KIND
run_integration() {
	local kind=$1 dir=build out rc line p f s names
	[ "$kind" = asan ] && dir=build-asan
	build "$kind" roost || return 0
	# bench/load's smoke tests run the load generator next to the server.
	build "$kind" roost-load || return 0
	note "integration tests ($dir/roost)"
	# Output goes to the terminal as it comes and to a file for the counts.
	out=$(mktemp)
	# shellcheck disable=SC2086 # INTEGRATION_ARGS is a list of words
	ROOST_BIN="$root/$dir/roost" python3 tests/integration/run.py ${INTEGRATION_ARGS:-} 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	names=$(sed -n 's/^failed: \(.*\)$/ \1/p' "$out" | tr -d '\n')
	rm -f "$out"
	if [ -n "$line" ]; then
		p=${line%% passed*}
		f=${line#* passed, }
		f=${f%% failed*}
		s=0
		case $line in *skipped*)
			s=${line##*failed, }
			s=${s%% skipped*}
			;;
		esac
	else
		p=0 f=0 s=0
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	record "integration ($dir/roost)" "$p" "$f" "$s" "$names"
}

# run_fuzz: a short libFuzzer run per target, from a scratch copy of its
# corpus (the checked-in corpus stays small and reviewed).
run_fuzz() {
	local secs=${FUZZ_SECONDS:-30} passed=0 failed=0 names="" t work rc
	if [ ! -f build-fuzz/CMakeCache.txt ]; then
		CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DROOST_FUZZ=ON ||
			{ record "fuzz (build)" 0 1; return; }
	fi
	note "build build-fuzz: fuzz targets"
	if ! cmake --build build-fuzz -j"$jobs" --target fuzz_parser fuzz_mime; then
		record "fuzz (build)" 0 1
		return
	fi
	# fuzz/fuzz_<name>.c with a corpus in fuzz/corpus/<name> and, when it
	# exists, a dictionary fuzz/<name>.dict
	local targets=(parser mime) dict
	for t in "${targets[@]}"; do
		work=$(mktemp -d)
		dict=()
		[ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
		note "fuzz_$t for $secs s"
		"build-fuzz/fuzz_$t" "$work" "fuzz/corpus/$t" "${dict[@]}" \
			-max_total_time="$secs" -print_final_stats=1 >"$work.log" 2>&1
		rc=$?
		tail -n 5 "$work.log"
		if [ "$rc" -eq 0 ]; then
			passed=$((passed + 1))
		else
			cat "$work.log"
			failed=$((failed + 1))
			names+=" fuzz_$t"
		fi
		rm -rf "$work" "$work.log"
	done
	record "fuzz (build-fuzz)" "$passed" "$failed" 0 "$names"
}

for part in "${parts[@]}"; do
	case $part in
	unit) run_unit gcc ;;
	asan-unit) run_unit asan ;;
	integration) run_integration gcc ;;
	asan-integration) run_integration asan ;;
	fuzz) run_fuzz ;;
	esac
done

note "summary"
for line in "${summary[@]}"; do echo "$line"; done
if [ "$total_skipped" -gt 0 ]; then echo "($total_skipped skipped)"; fi
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
