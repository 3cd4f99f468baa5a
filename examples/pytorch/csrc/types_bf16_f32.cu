// SPDX-License-Identifier: MIT
// The default forward and backward configurations for __nv_bfloat16 inputs and float outputs.
#include "launch.cuh"

S6SCAN_TORCH_INSTANTIATE(__nv_bfloat16, float)
