// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// @brief Compiling the kernels once: explicit instantiation declarations and definitions of the
///        launchers, for projects that call s6scan from several translation units.
///
/// Every translation unit that calls `s6scan::forward` (or `forward<Config>`, or the backward)
/// compiles the kernels it can reach: the default set of one type pair costs tens of seconds per
/// architecture (see the README). With these macros the kernels are
/// compiled in one translation unit and the others only declare them:
///
///   // s6scan_kernels.hpp, included wherever s6scan is called
///   #include <s6scan/instances.cuh>
///   S6SCAN_EXTERN_DEFAULT_FORWARD(__nv_bfloat16, __nv_bfloat16)
///   S6SCAN_EXTERN_DEFAULT_BACKWARD(__nv_bfloat16, __nv_bfloat16)
///
///   // s6scan_forward.cu and s6scan_backward.cu (one each, so that they compile in parallel)
///   #include <s6scan/instances.cuh>
///   S6SCAN_INSTANTIATE_DEFAULT_FORWARD(__nv_bfloat16, __nv_bfloat16)
///   // ... and S6SCAN_INSTANTIATE_DEFAULT_BACKWARD(__nv_bfloat16, __nv_bfloat16) in the other
///
/// Use them at global scope. A call whose launcher is declared but not defined anywhere fails to
/// link; a call whose launcher is not declared compiles its kernels where it is, as without these
/// macros. The default-set macros cover every configuration the dispatcher picks for the pair
/// (default_set.hpp's S6SCAN_DEFAULT_FORWARD_CONFIGS and S6SCAN_DEFAULT_BACKWARD_CONFIGS); the
/// others take one configuration, last so that its template arguments may hold commas.

#include "dispatch.cuh"

/// @brief The launcher of forward<Config> for (InT, OutT): `extern` declares it, empty defines it.
#define S6SCAN_FORWARD_INSTANCE(Extern, InT, OutT, ...)                                        \
  Extern template ::s6scan::status s6scan::detail::forward_segmented<__VA_ARGS__, InT, OutT>(  \
      const ::s6scan::forward_args<InT, OutT>&, const ::s6scan::device_buffer&, cudaStream_t,   \
      int) noexcept;
/// @brief The launcher of backward<Config> for (InT, OutT): `extern` declares it, empty defines it.
#define S6SCAN_BACKWARD_INSTANCE(Extern, InT, OutT, ...)                                       \
  Extern template ::s6scan::status s6scan::detail::backward_segmented<__VA_ARGS__, InT, OutT>( \
      const ::s6scan::backward_args<InT, OutT>&, const ::s6scan::device_buffer&, cudaStream_t,  \
      int) noexcept;

/// @brief Declares forward<Config> for (InT, OutT) as compiled elsewhere.
#define S6SCAN_EXTERN_FORWARD(InT, OutT, ...)                                                  \
  S6SCAN_FORWARD_INSTANCE(extern, InT, OutT, __VA_ARGS__)
/// @brief Compiles forward<Config> for (InT, OutT) here.
#define S6SCAN_INSTANTIATE_FORWARD(InT, OutT, ...)                                             \
  S6SCAN_FORWARD_INSTANCE(, InT, OutT, __VA_ARGS__)
/// @brief Declares backward<Config> for (InT, OutT) as compiled elsewhere.
#define S6SCAN_EXTERN_BACKWARD(InT, OutT, ...)                                                 \
  S6SCAN_BACKWARD_INSTANCE(extern, InT, OutT, __VA_ARGS__)
/// @brief Compiles backward<Config> for (InT, OutT) here.
#define S6SCAN_INSTANTIATE_BACKWARD(InT, OutT, ...)                                            \
  S6SCAN_BACKWARD_INSTANCE(, InT, OutT, __VA_ARGS__)

/// @brief Declares the forward's default set for (InT, OutT) as compiled elsewhere.
#define S6SCAN_EXTERN_DEFAULT_FORWARD(InT, OutT)                                               \
  S6SCAN_DEFAULT_FORWARD_CONFIGS(S6SCAN_EXTERN_FORWARD, InT, OutT)
/// @brief Compiles the forward's default set for (InT, OutT) here.
#define S6SCAN_INSTANTIATE_DEFAULT_FORWARD(InT, OutT)                                          \
  S6SCAN_DEFAULT_FORWARD_CONFIGS(S6SCAN_INSTANTIATE_FORWARD, InT, OutT)
/// @brief Declares the backward's default set for (InT, OutT) as compiled elsewhere.
#define S6SCAN_EXTERN_DEFAULT_BACKWARD(InT, OutT)                                              \
  S6SCAN_DEFAULT_BACKWARD_CONFIGS(S6SCAN_EXTERN_BACKWARD, InT, OutT)
/// @brief Compiles the backward's default set for (InT, OutT) here.
#define S6SCAN_INSTANTIATE_DEFAULT_BACKWARD(InT, OutT)                                         \
  S6SCAN_DEFAULT_BACKWARD_CONFIGS(S6SCAN_INSTANTIATE_BACKWARD, InT, OutT)
