#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks bench/limits.sh without a GPU or Nsight Compute: a stand-in ncu that lists two metrics,
# records how it was called, "profiles" by writing a report file (failing for one shape), and
# imports a report as a small raw-page CSV. Checks the files written, the metrics passed on and
# left out, the exit statuses, and that bench/limits.py reads what it wrote.
set -u
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/nobin"
printf '#!/bin/sh\nexit 0\n' >"$work/bench"
chmod +x "$work/bench"
cat >"$work/bin/ncu" <<'EOF2'
#!/usr/bin/env bash
if [ "$1" = "--query-metrics" ]; then
  printf 'Device GH100\nMetric Name  Metric Description\ngpu__time_duration  time\nsmsp__inst_executed  instructions\n'
  exit 0
fi
if [ "$1" = "-i" ]; then
  echo '"ID","Kernel Name","gpu__time_duration.sum","smsp__inst_executed.sum"'
  echo '"","","nsecond","inst"'
  echo '"0","void s6scan::detail::forward_kernel<A>(B)","1,000","262,144"'
  echo '"1","void s6scan::detail::backward_kernel<A>(B)","3,000","1,073,741,824"'
  exit 0
fi
echo "$*" >>"$NCU_CALLS"
case " $* " in *" --shapes FAILSHAPE "*) exit 1 ;; esac
while [ $# -gt 0 ]; do
  if [ "$1" = "-o" ]; then : >"$2.ncu-rep"; fi
  shift
done
EOF2
chmod +x "$work/bin/ncu"
export NCU_CALLS="$work/calls.txt"

. "$here/script_checks.sh"  # check, checks_done
run() {  # run NAME ARGS...: limits.sh with the stand-in ncu; its output goes to NAME.txt
  local name=$1
  shift
  PATH="$work/bin:$PATH" "$here/../../bench/limits.sh" "$@" >"$work/$name.txt" 2>&1
}

run good --bench "$work/bench" --out "$work/lim" --shapes N64,lm1.4b_N16 --dtypes bfloat16,float32
check "two shapes, two dtypes: exit 0" [ $? -eq 0 ]
check "a CSV per shape and dtype" [ "$(ls "$work/lim" | grep -c '\.csv$')" -eq 4 ]
check "no report left behind" [ "$(ls "$work/lim" | grep -c 'ncu-rep$')" -eq 0 ]
check "the listed metrics passed on" \
  grep -q -- "--metrics gpu__time_duration.sum,smsp__inst_executed.sum " "$work/calls.txt"
check "an unlisted metric named as left out" \
  grep -q "does not list dram__throughput; left out" "$work/good.txt"
check "profiling starts at cudaProfilerStart" grep -q -- "--profile-from-start off" "$work/calls.txt"
check "the benchmark's profile mode, one shape and dtype a run" \
  grep -q -- "--profile 1 --shapes N64 --dtypes float32$" "$work/calls.txt"
python3 "$here/../../bench/limits.py" "$work/lim" >"$work/table.txt" 2>&1
check "limits.py reads the CSV files" \
  grep -q "| N64 | float32 | bwd | 1 | 0.003 | 32.0 | .* | unknown: no issue or stall counters |" \
  "$work/table.txt"

run fail --bench "$work/bench" --out "$work/lim2" --shapes FAILSHAPE,N64
check "a failed run: exit 1" [ $? -eq 1 ]
check "a failed run: named" grep -q "FAILSHAPE bfloat16 failed" "$work/fail.txt"
check "a failed run: the others still run" [ -s "$work/lim2/N64.bfloat16.csv" ]

PATH="$work/nobin:/usr/bin:/bin" "$here/../../bench/limits.sh" --bench "$work/bench" >/dev/null 2>&1
check "no ncu: exit 77" [ $? -eq 77 ]
run novalue --bench
check "an option without a value: exit 2" [ $? -eq 2 ]
run unknown --shape N64
check "an unknown option: exit 2" [ $? -eq 2 ]
run nobench --bench "$work/missing"
check "no benchmark binary: exit 2" [ $? -eq 2 ]

checks_done
