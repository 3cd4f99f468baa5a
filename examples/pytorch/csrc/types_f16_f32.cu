// SPDX-License-Identifier: MIT
// The default forward and backward configurations for __half inputs and float outputs.
#include "launch.cuh"

S6SCAN_TORCH_INSTANTIATE(__half, float)
