// SPDX-License-Identifier: MIT
#pragma once

// Catch2 2.x (Debian 12) and 3.x (Ubuntu 24.04) spell their headers differently; the macros the
// tests use are the same in both.
#if __has_include(<catch2/catch_test_macros.hpp>)
#include <catch2/catch_session.hpp>
#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/generators/catch_generators_range.hpp>  // range(), in catch.hpp of 2.x
#else
#include <catch2/catch.hpp>
#endif
