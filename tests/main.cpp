// SPDX-License-Identifier: MIT
// The tests' main, compiled once for every test binary. Each binary also has one gate: gate_gpu.cpp
// returns 77 (CTest's "skipped") when no CUDA device is present, so CPU-only CI reports GPU tests
// as skipped rather than passed; gate_host.cpp lets every host test run.
#define CATCH_CONFIG_RUNNER
#include "catch.hpp"

namespace s6test {
int gate();  // 0 runs the tests; anything else is main's exit code
}

int main(int argc, char** argv) {
  if (const int code = s6test::gate()) return code;
  return Catch::Session().run(argc, argv);
}
