#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The checks a kernel change owes on a GPU machine, run from a build tree: the GPU tests, the
# memcheck and racecheck sanitizers, and the benchmark. Each test binary runs in shards side by
# side (S6SCAN_TEST_SHARD=i/n), one log per process under the output folder; the summary counts
# the shards whose log has the step's verdict line and shows the end of every other log.
#
#   tools/gpu_checks.sh [--build DIR] [--out DIR] [--timeout S] [--commit REV] [--part K/M] STEP...
#
# STEP: tests (both binaries, 8 shards each), memcheck (12 each, without the [large] cases),
# racecheck-forward and racecheck-backward (16 shards, without [large], S6SCAN_FEWER_BLOCKS=1;
# each takes minutes, so give each its own command on a lent machine), bench (bench.json and
# bench.log; the JSON names --commit, else this checkout's HEAD, so build from it). Shard counts:
# SHARDS_TESTS, SHARDS_MEMCHECK, SHARDS_RACECHECK; --timeout bounds each process (540 s).
# --part K/M runs only shards K-1, K-1+M, K-1+2M, ... of each step (K from 1 to M), so that a step
# too long for one command runs in M commands: racecheck-backward in 16 shards did not finish in
# 575 s at 9f7a28a; SHARDS_RACECHECK=32 with --part 1/2 and then --part 2/2 runs 16 processes a
# command, each with half the work. Exit status: 0 when every step passed, 1 when one did not, 77
# when there is no GPU, 2 for bad arguments or a missing tool.
set -u

build=build out=gpu-checks timeout_s=540 commit= part_k=1 part_m=1
steps=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build | --out | --timeout | --commit | --part)
      [ $# -ge 2 ] || { echo "gpu_checks.sh: $1 needs a value" >&2; exit 2; } ;;
  esac
  case "$1" in
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --commit) commit=$2; shift 2 ;;
    --part)
      [[ "$2" =~ ^([0-9]+)/([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge 1 ] &&
        [ "${BASH_REMATCH[1]}" -le "${BASH_REMATCH[2]}" ] ||
        { echo "gpu_checks.sh: --part wants K/M with 1 <= K <= M, got '$2'" >&2; exit 2; }
      part_k=${BASH_REMATCH[1]} part_m=${BASH_REMATCH[2]}; shift 2 ;;
    tests | memcheck | racecheck-forward | racecheck-backward | bench) steps+=("$1"); shift ;;
    *) echo "gpu_checks.sh: unknown argument '$1' (see the comment at the top)" >&2; exit 2 ;;
  esac
done
[ ${#steps[@]} -gt 0 ] || { echo "gpu_checks.sh: name at least one step" >&2; exit 2; }
for bin in tests/test_forward_gpu tests/test_backward_gpu; do
  [ -x "$build/$bin" ] || { echo "gpu_checks.sh: $build/$bin is missing: build first" >&2; exit 2; }
done
mkdir -p "$out"

# The test binaries exit 77 before running anything when no device is present; with one, this
# lists no test (Catch2 2.x would return the number of tests listed).
"$build/tests/test_forward_gpu" --list-tests '[gpu-checks-probe]' >/dev/null 2>&1
if [ $? -eq 77 ]; then
  echo "gpu_checks.sh: no CUDA device: nothing checked"
  exit 77
fi

failed=0

# run_shards NAME BINARY SHARDS VERDICT [PREFIX...] -- [ARGS...]: runs BINARY in SHARDS processes
# at once (those of --part's share), each as PREFIX BINARY ARGS, and counts the shards that exit 0
# with VERDICT in their log. Prints its summary to NAME-BINARY.summary in the output folder;
# returns 1 if a shard failed.
run_shards() {
  local name=$1 bin=$2 shards=$3 verdict=$4
  shift 4
  local prefix=()
  while [ "$1" != -- ]; do prefix+=("$1"); shift; done
  shift
  local pids=() mine=() i log
  for ((i = part_k - 1; i < shards; i += part_m)); do
    S6SCAN_TEST_SHARD="$i/$shards" timeout "$timeout_s" "${prefix[@]}" "$build/tests/$bin" "$@" \
      >"$out/$name-$bin-$i.log" 2>&1 &
    pids+=($!)
    mine+=("$i")
  done
  local passed=0 bad=() j
  for ((j = 0; j < ${#mine[@]}; ++j)); do
    i=${mine[$j]}
    if wait "${pids[$j]}" && grep -qF "$verdict" "$out/$name-$bin-$i.log"; then
      passed=$((passed + 1))
    else
      bad+=("$i")
    fi
  done
  local of="$shards shards"
  [ "$part_m" -eq 1 ] || of="${#mine[@]} shards (part $part_k/$part_m of $shards)"
  {
    echo "$name $bin: $passed/$of \"$verdict\""
    for i in "${bad[@]}"; do
      log="$out/$name-$bin-$i.log"
      echo "  shard $i failed or timed out; the end of $log:"
      tail -n 5 "$log" | sed 's/^/    /'
    done
  } >"$out/$name-$bin.summary"
  [ ${#bad[@]} -eq 0 ]
}

# both NAME SHARDS VERDICT [PREFIX...] -- [ARGS...]: run_shards on both test binaries side by side.
both() {
  local name=$1 n=$2 verdict=$3 p1 p2 status=0
  shift 3
  run_shards "$name" test_forward_gpu "$n" "$verdict" "$@" & p1=$!
  run_shards "$name" test_backward_gpu "$n" "$verdict" "$@" & p2=$!
  wait $p1 || status=1
  wait $p2 || status=1
  cat "$out/$name-test_forward_gpu.summary" "$out/$name-test_backward_gpu.summary"
  return $status
}

sanitizer() {
  command -v compute-sanitizer >/dev/null || { echo "compute-sanitizer is not on PATH" >&2; return 1; }
  echo compute-sanitizer --tool "$1" --print-limit 20
}

for step in "${steps[@]}"; do
  start=$SECONDS
  case "$step" in
    tests)
      both tests "${SHARDS_TESTS:-8}" "All tests passed" -- || failed=1 ;;
    memcheck)
      tool=$(sanitizer memcheck) || exit 2
      both memcheck "${SHARDS_MEMCHECK:-12}" "ERROR SUMMARY: 0 errors" $tool -- '~[large]' || failed=1 ;;
    racecheck-forward | racecheck-backward)
      tool=$(sanitizer racecheck) || exit 2
      bin="test_${step#racecheck-}_gpu"
      S6SCAN_FEWER_BLOCKS=1 run_shards racecheck "$bin" "${SHARDS_RACECHECK:-16}" \
        "RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)" $tool -- '~[large]' || failed=1
      cat "$out/racecheck-$bin.summary" ;;
    bench)
      [ -n "$commit" ] || commit=$(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)
      if "$build/bench/s6scan_bench" --json "$out/bench.json" --commit "$commit" >"$out/bench.log" 2>&1; then
        echo "bench: $out/bench.json at $commit ($out/bench.log has the table)"
      else
        echo "bench: failed; the end of $out/bench.log:"
        tail -n 5 "$out/bench.log" | sed 's/^/    /'
        failed=1
      fi ;;
  esac
  echo "($step: $((SECONDS - start)) s)"
done
exit $failed
