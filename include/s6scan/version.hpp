// SPDX-License-Identifier: MIT
#pragma once

// The CMake package reads its version from these three lines, so headers copied into another tree
// carry the version they came from.
#define S6SCAN_VERSION_MAJOR 0
#define S6SCAN_VERSION_MINOR 1
#define S6SCAN_VERSION_PATCH 0
