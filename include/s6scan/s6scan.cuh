// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// @brief The whole library: argument types, checks, the CPU reference, the forward and backward
///        kernels and the default-set dispatcher.

#include "args.hpp"
#include "backward.cuh"
#include "checks.hpp"
#include "config.hpp"
#include "default_set.hpp"
#include "device_limits.hpp"
#include "dispatch.cuh"
#include "forward.cuh"
#include "numeric.hpp"
#include "reference.hpp"
#include "reference_backward.hpp"
#include "tuning.hpp"
#include "status.hpp"
#include "version.hpp"
