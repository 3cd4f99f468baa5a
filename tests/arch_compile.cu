// SPDX-License-Identifier: MIT
// The default set's forward and backward for one type pair, compiled for one architecture (the
// arch_compiles_sm_* tests): a change that breaks sm_80, sm_86, sm_89, sm_100 or sm_120 fails
// on a machine without those GPUs.

#include <s6scan/instances.cuh>

S6SCAN_INSTANTIATE_DEFAULT_FORWARD(__nv_bfloat16, __nv_bfloat16)
S6SCAN_INSTANTIATE_DEFAULT_BACKWARD(__nv_bfloat16, __nv_bfloat16)
