// SPDX-License-Identifier: MIT
// The default forward and backward configurations for __nv_bfloat16 inputs and __nv_bfloat16 outputs.
#include "launch.cuh"

S6SCAN_TORCH_INSTANTIATE(__nv_bfloat16, __nv_bfloat16)
