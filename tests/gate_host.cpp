// SPDX-License-Identifier: MIT
// The host test binaries' gate (main.cpp): they need no device, so they always run.
namespace s6test {
int gate() { return 0; }
}  // namespace s6test
