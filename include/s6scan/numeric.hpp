// SPDX-License-Identifier: MIT
#pragma once

// Conversions between the element types and float/double, usable from host and device code.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "config.hpp"

namespace s6scan {

S6SCAN_HOST_DEVICE inline float to_float(float x) { return x; }
S6SCAN_HOST_DEVICE inline float to_float(__half x) { return __half2float(x); }
S6SCAN_HOST_DEVICE inline float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <class T>
S6SCAN_HOST_DEVICE inline T from_float(float x);
template <>
S6SCAN_HOST_DEVICE inline float from_float<float>(float x) { return x; }
template <>
S6SCAN_HOST_DEVICE inline __half from_float<__half>(float x) { return __float2half_rn(x); }
template <>
S6SCAN_HOST_DEVICE inline __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

/// @brief Name of an element type, for messages and benchmark records.
template <class T> constexpr const char* type_name();
template <> constexpr const char* type_name<float>() { return "float32"; }
template <> constexpr const char* type_name<__half>() { return "float16"; }
template <> constexpr const char* type_name<__nv_bfloat16>() { return "bfloat16"; }

}  // namespace s6scan
