// SPDX-License-Identifier: MIT
// The default forward and backward configurations for __half inputs and __half outputs.
#include "launch.cuh"

S6SCAN_TORCH_INSTANTIATE(__half, __half)
