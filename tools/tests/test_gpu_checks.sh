#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks tools/gpu_checks.sh without a GPU: a stand-in build tree whose test binaries print their
# shard, filter and environment (and fail where FAIL_SHARD says), and a stand-in compute-sanitizer
# that runs the binary it is given. Checks the shard counts, --part's share of the shards, the
# verdicts, the exit statuses and the refusals of bad arguments.
set -u
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/build/tests" "$work/bin"
for bin in test_forward_gpu test_backward_gpu; do
  cat >"$work/build/tests/$bin" <<'EOF'
#!/usr/bin/env bash
case " $* " in *--list-tests*) exit "${PROBE_STATUS:-0}" ;; esac
echo "shard=$S6SCAN_TEST_SHARD fewer=${S6SCAN_FEWER_BLOCKS:-0} args=$*"
if [ "${S6SCAN_TEST_SHARD%%/*}" = "${FAIL_SHARD:--1}" ]; then
  echo "test cases: 3 | 2 passed | 1 failed"
  exit 1
fi
echo "All tests passed (3 assertions in 1 test case)"
echo "========= ERROR SUMMARY: 0 errors"
echo "========= RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)"
EOF
  chmod +x "$work/build/tests/$bin"
done
# gpu_checks.sh calls it as: compute-sanitizer --tool T --print-limit N BINARY ARGS...
printf '#!/usr/bin/env bash\nshift 4\nexec "$@"\n' >"$work/bin/compute-sanitizer"
chmod +x "$work/bin/compute-sanitizer"
export PATH="$work/bin:$PATH"

. "$here/script_checks.sh"  # check, checks_done
run() {  # run OUTDIR ARGS...: gpu_checks.sh on the stand-in tree; its output goes to OUTDIR.txt
  local o=$1
  shift
  "$here/../gpu_checks.sh" --build "$work/build" --out "$work/$o" "$@" >"$work/$o.txt" 2>&1
}

PROBE_STATUS=77 run nogpu tests
check "no device: exit 77" [ $? -eq 77 ]
check "no device: nothing run" [ ! -e "$work/nogpu/tests-test_forward_gpu-0.log" ]

run all tests
check "tests: exit 0" [ $? -eq 0 ]
check "tests: 8 of 8 shards of each binary" \
  [ "$(grep -c '8/8 shards "All tests passed"' "$work/all.txt")" -eq 2 ]
check "tests: shard 7 ran as 7/8" grep -q "shard=7/8 fewer=0 args=$" "$work/all/tests-test_backward_gpu-7.log"

SHARDS_RACECHECK=7 run part racecheck-backward --part 2/3
check "part 2/3: exit 0" [ $? -eq 0 ]
check "part 2/3: shards 1 and 4 of 7 ran, no other" \
  [ "$(cd "$work/part" && ls racecheck-test_backward_gpu-*.log | tr '\n' ' ')" = \
    "racecheck-test_backward_gpu-1.log racecheck-test_backward_gpu-4.log " ]
check "part 2/3: summary counts its share" \
  grep -q '2/2 shards (part 2/3 of 7) "RACECHECK SUMMARY' "$work/part.txt"
check "part 2/3: racecheck's environment and filter" \
  grep -q 'shard=4/7 fewer=1 args=~\[large\]$' "$work/part/racecheck-test_backward_gpu-4.log"

FAIL_SHARD=4 SHARDS_RACECHECK=7 run fail racecheck-backward --part 2/3
check "a failing shard: exit 1" [ $? -eq 1 ]
check "a failing shard: 1 of 2 passed, shard 4 named" \
  grep -q '1/2 shards (part 2/3 of 7)' "$work/fail.txt"
check "a failing shard: its log's end shown" grep -q "shard 4 failed or timed out" "$work/fail.txt"

for bad in 0/2 3/2 2 x/y; do
  run "bad${bad//\//_}" --part "$bad" tests
  check "--part $bad refused with exit 2" [ $? -eq 2 ]
done
run noarg --part
check "--part without a value refused" [ $? -eq 2 ]

checks_done
