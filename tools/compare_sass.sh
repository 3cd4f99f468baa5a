#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Compares the SASS of the kernels in two binaries (or two sets, given pairwise), with addresses
# and, with --params, kernel-parameter offsets stripped: a refactor that only moves host code or
# regrows the parameter struct leaves the kernels' instructions, and so their memory and shared
# memory behaviour, identical.
#
#   tools/compare_sass.sh [--params] [--common] OLD_BINARY NEW_BINARY [OLD NEW ...]
#
# Prints, per pair, "identical" or the number of differing lines and the first of them; exits 0
# when every pair is identical, 1 otherwise, 2 on bad arguments, a missing cuobjdump, or a binary
# it could not read. --common compares the kernels both binaries hold, one by one (a change that
# adds a kernel leaves the others identical), and names those only one of them holds.
set -u
params=0 common=0
while [ "${1:-}" = "--params" ] || [ "${1:-}" = "--common" ]; do
  [ "$1" = "--params" ] && params=1
  [ "$1" = "--common" ] && common=1
  shift
done
[ $# -ge 2 ] && [ $(($# % 2)) -eq 0 ] || { echo "usage: $0 [--params] [--common] OLD NEW [OLD NEW ...]" >&2; exit 2; }
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

# split DUMP DIR: one file per function of a normalised dump, named by the function's hash.
split() {
  mkdir -p "$2"
  awk -v dir="$2" '/Function :/ { if (f) close(f); name = $NF; f = dir "/" name }
                   f { print > f }' "$1"
}

# compare_common OLD_DUMP NEW_DUMP: the functions both hold, one by one.
compare_common() {
  local d da db same=0 differ=0 n
  d=$(mktemp -d) && da=$d/a && db=$d/b
  split "$1" "$da" && split "$2" "$db"
  for f in "$da"/*; do
    n=$(basename "$f")
    if [ ! -e "$db/$n" ]; then echo "  only in the old binary: $n"; continue; fi
    if cmp -s "$f" "$db/$n"; then same=$((same + 1)); else differ=$((differ + 1)); echo "  differs: $n"; fi
  done
  for f in "$db"/*; do [ -e "$da/$(basename "$f")" ] || echo "  only in the new binary: $(basename "$f")"; done
  rm -rf "$d"
  echo "  $same common functions identical, $differ different"
  [ $differ -eq 0 ]
}

status=0
while [ $# -ge 2 ]; do
  old=$1 new=$2; shift 2
  a=$(mktemp) b=$(mktemp)
  if ! normalised "$old" >"$a" || ! normalised "$new" >"$b" || ! grep -q 'Function :' "$a"; then
    status=2
    echo "FAILED: no SASS read from $old or $new"
  elif [ $common -eq 1 ]; then
    echo "common kernels: $old -> $new"
    compare_common "$a" "$b" || { [ $status -eq 0 ] && status=1; }
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
