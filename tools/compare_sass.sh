#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Compares the SASS of the kernels in two binaries (or two sets, given pairwise), with addresses
# and, with --params, kernel-parameter offsets stripped: a refactor that only moves host code or
# regrows the parameter struct leaves the kernels' instructions, and so their memory and shared
# memory behaviour, identical.
#
#   tools/compare_sass.sh [--params] OLD_BINARY NEW_BINARY [OLD NEW ...]
#
# Prints, per pair, "identical" or the number of differing lines and the first of them; exits 0
# when every pair is identical, 1 otherwise, 2 on bad arguments, a missing cuobjdump, or a binary
# it could not read.
set -u
params=0
if [ "${1:-}" = "--params" ]; then params=1; shift; fi
[ $# -ge 2 ] && [ $(($# % 2)) -eq 0 ] || { echo "usage: $0 [--params] OLD NEW [OLD NEW ...]" >&2; exit 2; }
command -v cuobjdump >/dev/null || { echo "compare_sass.sh: cuobjdump not found" >&2; exit 2; }

# The SASS of one binary, normalised: no addresses or encodings; kernels' names without the
# anonymous-namespace hashes that depend on the build path; with --params, c[0x0][...] offsets
# (where the kernel parameters live) replaced by one token.
normalised() {
  local raw
  raw=$(cuobjdump -sass "$1") || { echo "compare_sass.sh: cuobjdump failed on $1" >&2; return 1; }
  printf '%s\n' "$raw" |
    sed -E -e 's@/\*[0-9a-f]{4,}\*/@@g' -e 's@/\* 0x[0-9a-f]+ \*/@@g' -e 's/[[:space:]]+$//' \
      -e 's/_GLOBAL__N__[0-9a-f_]+/_ANON_/g' |
    if [ $params -eq 1 ]; then sed -E 's/c\[0x0\]\[0x[0-9a-f]+\]/c[0x0][P]/g'; else cat; fi |
    grep -v '^[[:space:]]*$'
}

status=0
while [ $# -ge 2 ]; do
  old=$1 new=$2; shift 2
  a=$(mktemp) b=$(mktemp)
  if ! normalised "$old" >"$a" || ! normalised "$new" >"$b" || ! grep -q 'Function :' "$a"; then
    status=2
    echo "FAILED: no SASS read from $old or $new"
  elif cmp -s "$a" "$b"; then
    echo "identical: $old -> $new ($(grep -c 'Function :' "$a") functions)"
  else
    [ $status -eq 0 ] && status=1
    echo "DIFFERENT: $old -> $new: $(diff "$a" "$b" | grep -c '^[<>]') lines differ; first:"
    diff "$a" "$b" | head -6
  fi
  rm -f "$a" "$b"
done
exit $status
