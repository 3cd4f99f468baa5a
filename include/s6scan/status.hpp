// SPDX-License-Identifier: MIT
#pragma once

#include <cstdarg>
#include <cstdio>

namespace s6scan {

/// @brief What went wrong, as a code a caller can branch on.
enum class status_code {
  success = 0,
  invalid_argument,             ///< a size, pointer or stride the operator cannot take
  unsupported_dstate,           ///< dstate above the MaxDState of the instantiation
  insufficient_shared_memory,   ///< the call needs more shared memory than the device offers a block
  grid_too_large,               ///< more blocks than the device's grid limit
  workspace_too_small,          ///< the caller's workspace is smaller than the query said
  cuda_error,                   ///< a CUDA runtime call failed (the message names it)
};

/// @brief A status code with a message that names the values involved.
///
/// The message lives inside the object (no allocation), so building a status never throws.
struct status {
  status_code code = status_code::success;
  char message[320] = {0};

  /// @return true when the call succeeded.
  [[nodiscard]] bool ok() const noexcept { return code == status_code::success; }
  explicit operator bool() const noexcept { return ok(); }

  /// @brief Builds a status from a code and a printf-style message.
  [[nodiscard]] static status make(status_code c, const char* fmt, ...) noexcept
#if defined(__GNUC__)
      __attribute__((format(printf, 2, 3)))
#endif
  {
    status s;
    s.code = c;
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(s.message, sizeof(s.message), fmt, ap);
    va_end(ap);
    return s;
  }
};

/// @return the name of a status code, e.g. "unsupported_dstate".
[[nodiscard]] inline const char* to_string(status_code c) noexcept {
  switch (c) {
    case status_code::success: return "success";
    case status_code::invalid_argument: return "invalid_argument";
    case status_code::unsupported_dstate: return "unsupported_dstate";
    case status_code::insufficient_shared_memory: return "insufficient_shared_memory";
    case status_code::grid_too_large: return "grid_too_large";
    case status_code::workspace_too_small: return "workspace_too_small";
    case status_code::cuda_error: return "cuda_error";
  }
  return "unknown";
}

}  // namespace s6scan
