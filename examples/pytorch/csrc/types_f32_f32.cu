// SPDX-License-Identifier: MIT
// The default forward and backward configurations for float inputs and float outputs.
#include "launch.cuh"

S6SCAN_TORCH_INSTANTIATE(float, float)
