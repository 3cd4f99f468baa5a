# SPDX-License-Identifier: MIT
# Sourced by the host tests of the project's shell scripts (test_gpu_checks.sh, test_limits_sh.sh).
# check WHAT CONDITION...: prints "ok: WHAT", or "FAILED: WHAT" and counts it in $failures, as the
# condition (a command) holds or not. checks_done: prints the count; fails if it is not zero.
failures=0
check() {
  local what=$1
  shift
  if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; failures=$((failures + 1)); fi
}
checks_done() {
  echo "$failures failed"
  [ "$failures" -eq 0 ]
}
