#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What limits each shape: Nsight Compute counters for the kernels of one forward call and one
# backward call (the default sets) per shape and dtype, from `s6scan_bench --profile 1`. Run on
# the GPU machine; bench/limits.py turns the CSV files into a table.
#
#   bench/limits.sh [--bench PATH] [--out DIR] [--shapes a,b] [--dtypes x,y]
#
# Defaults: build/bench/s6scan_bench, limits/, the anchor shapes of DESIGN.md §3, bfloat16.
# Writes DIR/SHAPE.DTYPE.csv (ncu's raw page, base units: one row per kernel, launch order) and
# DIR/SHAPE.DTYPE.log. ncu runs with --clock-control none, so the clocks are the benchmark's.
# Exit status: 0 when every pair was profiled, 1 when one failed, 2 for a usage error, 77 when
# there is no ncu.
set -u

bench=build/bench/s6scan_bench
out=limits
shapes=lm1.4b_N16,lm1.4b_N16_z,vmamba_s1_N1,vmamba_s1_N16,N64,N128,N256,long32k_N16
dtypes=bfloat16
while [ $# -gt 0 ]; do
  if [ $# -lt 2 ]; then echo "limits.sh: $1 needs a value" >&2; exit 2; fi
  case "$1" in
    --bench) bench=$2 ;;
    --out) out=$2 ;;
    --shapes) shapes=$2 ;;
    --dtypes) dtypes=$2 ;;
    *) echo "limits.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
command -v ncu > /dev/null || { echo "limits.sh: no ncu on PATH" >&2; exit 77; }
[ -x "$bench" ] || { echo "limits.sh: no benchmark binary at $bench" >&2; exit 2; }
mkdir -p "$out"

# Sections give the launch figures, occupancy, scheduler and warp-state (stall) counters; the
# metrics add the rest limits.py reads. A metric this ncu does not know is left out (and named),
# rather than failing every run.
wanted="gpu__time_duration.sum smsp__inst_executed.sum
  smsp__issue_active.avg.pct_of_peak_sustained_active
  sm__warps_active.avg.pct_of_peak_sustained_active
  dram__throughput.avg.pct_of_peak_sustained_elapsed
  sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active
  sm__pipe_fma_cycles_active.avg.pct_of_peak_sustained_active
  sm__pipe_alu_cycles_active.avg.pct_of_peak_sustained_active
  l1tex__data_pipe_lsu_wavefronts_mem_shared.avg.pct_of_peak_sustained_elapsed"
known=$(ncu --query-metrics 2> /dev/null | awk '{print $1}')
metrics=
for m in $wanted; do
  if grep -qx "${m%%.*}" <<< "$known"; then metrics=${metrics:+$metrics,}$m
  else echo "limits.sh: ncu does not list ${m%%.*}; left out" >&2; fi
done

status=0
for shape in ${shapes//,/ }; do
  for dtype in ${dtypes//,/ }; do
    name=$out/$shape.$dtype
    if ncu --profile-from-start off --clock-control none \
        --section LaunchStats --section Occupancy --section SchedulerStats --section WarpStateStats \
        ${metrics:+--metrics $metrics} -f -o "$name" \
        "$bench" --profile 1 --shapes "$shape" --dtypes "$dtype" > "$name.log" 2>&1 &&
       ncu -i "$name.ncu-rep" --page raw --csv --print-units base > "$name.csv" 2>> "$name.log"; then
      echo "limits.sh: $shape $dtype: $(($(wc -l < "$name.csv") - 2)) kernels"
    else
      echo "limits.sh: $shape $dtype failed; see $name.log" >&2
      status=1
    fi
    rm -f "$name.ncu-rep"
  done
done
exit $status
