// SPDX-License-Identifier: MIT
// A fuzz test of the host checks, built with AddressSanitizer and UndefinedBehaviorSanitizer:
// random argument sets (sizes from -2 to 2^40, strides unset, zero, negative, padded or huge,
// null, misaligned and high pointers, random configurations and devices) go through every check
// and size query. None may crash or overflow (the sanitizers abort on either), a refusal carries a
// message, and every accepted call is verified here in 128-bit arithmetic: each tensor's furthest
// byte lies within the address space, each output's elements have distinct addresses, and the
// size queries agree with the sizes. S6SCAN_SEED replays a run; S6SCAN_FUZZ_CASES sets the count.

#include <s6scan/default_set.hpp>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

namespace {

using i128 = __int128;
using u128 = unsigned __int128;
using bf16 = __nv_bfloat16;

std::mt19937_64 rng;
int64_t failures = 0;
// Whether this case is mostly valid: then each stride and pointer is wrong with a small chance,
// so that accepted calls, and refusals for a single fault, are common.
bool g_mostly_valid = false;

uint64_t pick(uint64_t n) { return rng() % n; }

#define FUZZ_EXPECT(cond, ...)                                     \
  do {                                                             \
    if (!(cond)) {                                                 \
      ++failures;                                                  \
      std::printf("FAILED %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      std::printf(__VA_ARGS__);                                    \
      std::printf("\n");                                           \
    }                                                              \
  } while (0)

int64_t random_size() {
  switch (pick(8)) {
    case 0: return int64_t(pick(4)) - 2;                      // -2 .. 1
    case 1: return int64_t(1) << pick(41);                    // powers of two up to 2^40
    case 2: return int64_t(pick(uint64_t(1) << 40));           // anything up to 2^40
    default: return 1 + int64_t(pick(64));                    // small
  }
}

// a x b (x c), saturated at 2^63 - 1: the contiguous strides of sizes that may overflow.
int64_t mul(int64_t a, int64_t b, int64_t c = 1) {
  const i128 r = i128(a) * b * c;
  return r > INT64_MAX ? INT64_MAX : r < INT64_MIN ? INT64_MIN : int64_t(r);
}

// A stride for a dimension whose inner extent (the contiguous stride) is `inner`.
int64_t random_stride(int64_t inner) {
  if (g_mostly_valid && pick(40)) return pick(3) ? inner : inner < INT64_MAX - 16 ? inner + 3 : inner;
  switch (pick(10)) {
    case 0: return s6scan::kUnsetStride;
    case 1: return 0;
    case 2: return -1 - int64_t(pick(1000));
    case 3: return int64_t(pick(uint64_t(1) << 62));
    case 4: return inner > 1 ? inner - 1 : inner;             // overlapping rows
    case 5: return inner < INT64_MAX - 16 ? inner + int64_t(pick(17)) : inner;  // padded
    default: return inner;                                    // contiguous
  }
}

template <class T>
T* random_pointer(bool required) {
  if (g_mostly_valid && pick(40))
    return required || pick(2) ? reinterpret_cast<T*>(uintptr_t(0x7F0000000000ull) + 256 * pick(1 << 20))
                               : nullptr;
  switch (pick(required ? 12 : 4)) {
    case 0: return nullptr;
    case 1: return reinterpret_cast<T*>(uintptr_t(0xFFFFFFFFFFFF0000ull) + 16 * pick(4096));
    case 2: return reinterpret_cast<T*>(uintptr_t(0x7F0000000000ull) + 1 + pick(15));
    default: return reinterpret_cast<T*>(uintptr_t(0x7F0000000000ull) + 256 * pick(1 << 20));
  }
}

// Sets a tensor's data and strides at random, from its sizes' contiguous strides.
template <class T>
void fill(s6scan::seq_tensor<T>& t, int64_t b, int64_t d, int64_t l, bool required) {
  (void)b;
  t.data = random_pointer<std::remove_const_t<T>>(required);
  t.seq_stride = pick(40) ? 1 : int64_t(pick(3));
  t.dim_stride = random_stride(l);
  t.batch_stride = random_stride(mul(d, l));
}
template <class T>
void fill(s6scan::bc_tensor<T>& t, int64_t, int64_t g, int64_t n, int64_t l, bool required) {
  t.data = random_pointer<std::remove_const_t<T>>(required);
  t.seq_stride = pick(40) ? 1 : 2;
  t.state_stride = random_stride(l);
  t.group_stride = random_stride(mul(n, l));
  t.batch_stride = random_stride(mul(g, n, l));
}
template <class T>
void fill(s6scan::matrix_tensor<T>& t, int64_t n, bool required) {
  t.data = random_pointer<std::remove_const_t<T>>(required);
  t.state_stride = pick(40) ? 1 : 0;
  t.dim_stride = random_stride(n);
}
template <class T>
void fill(s6scan::state_tensor<T>& t, int64_t d, int64_t n, bool required) {
  t.data = random_pointer<std::remove_const_t<T>>(required);
  t.state_stride = pick(40) ? 1 : 2;
  t.dim_stride = random_stride(n);
  t.batch_stride = random_stride(mul(d, n));
}
template <class T>
void fill(s6scan::vector_tensor<T>& t, bool required) {
  t.data = random_pointer<std::remove_const_t<T>>(required);
  t.stride = pick(40) ? 1 : 0;
}

// A tensor as plain numbers, for the verification below.
struct plain {
  const char* name;
  uintptr_t data;
  int64_t elem;
  std::vector<std::pair<int64_t, int64_t>> dims;  // (size, stride)
};

template <class T>
plain of(const char* n, const s6scan::seq_tensor<T>& t, int64_t b, int64_t d, int64_t l) {
  return {n, uintptr_t(t.data), int64_t(sizeof(T)), {{b, t.batch_stride}, {d, t.dim_stride}, {l, t.seq_stride}}};
}
template <class T>
plain of(const char* n, const s6scan::bc_tensor<T>& t, int64_t b, int64_t g, int64_t s, int64_t l) {
  return {n, uintptr_t(t.data), int64_t(sizeof(T)),
          {{b, t.batch_stride}, {g, t.group_stride}, {s, t.state_stride}, {l, t.seq_stride}}};
}
template <class T>
plain of(const char* n, const s6scan::matrix_tensor<T>& t, int64_t d, int64_t s) {
  return {n, uintptr_t(t.data), int64_t(sizeof(T)), {{d, t.dim_stride}, {s, t.state_stride}}};
}
template <class T>
plain of(const char* n, const s6scan::state_tensor<T>& t, int64_t b, int64_t d, int64_t s) {
  return {n, uintptr_t(t.data), int64_t(sizeof(T)), {{b, t.batch_stride}, {d, t.dim_stride}, {s, t.state_stride}}};
}
template <class T>
plain of(const char* n, const s6scan::vector_tensor<T>& t, int64_t d) {
  return {n, uintptr_t(t.data), int64_t(sizeof(T)), {{d, t.stride}}};
}

// An accepted tensor: strides set and non-negative, last one 1, aligned, and its furthest byte
// within 64-bit offsets and the address space; an output's elements at distinct addresses.
void verify(const plain& t, bool output) {
  if (!t.data) return;
  FUZZ_EXPECT(t.dims.back().second == 1, "%s: last stride %" PRId64, t.name, t.dims.back().second);
  FUZZ_EXPECT(t.data % uintptr_t(t.elem) == 0, "%s misaligned", t.name);
  i128 reach = 0;
  for (const auto& [size, stride] : t.dims) {
    FUZZ_EXPECT(stride != s6scan::kUnsetStride && stride >= 0, "%s: stride %" PRId64, t.name, stride);
    FUZZ_EXPECT(size > 0, "%s: size %" PRId64, t.name, size);
    reach += i128(size - 1) * stride;
  }
  const i128 bytes = (reach + 1) * t.elem;
  FUZZ_EXPECT(reach <= INT64_MAX, "%s reaches past 2^63 elements", t.name);
  FUZZ_EXPECT(u128(t.data) + u128(bytes) <= u128(UINTPTR_MAX), "%s wraps the address space", t.name);
  if (!output) return;
  i128 count = 1;
  for (const auto& d : t.dims) count *= d.first;
  auto offset = [&](i128 index) {
    i128 o = 0;
    for (size_t k = t.dims.size(); k-- > 0;) {
      o += (index % t.dims[k].first) * t.dims[k].second;
      index /= t.dims[k].first;
    }
    return o;
  };
  if (count <= 4096) {  // every element
    std::vector<i128> all;
    for (i128 i = 0; i < count; ++i) all.push_back(offset(i));
    std::sort(all.begin(), all.end());
    FUZZ_EXPECT(std::adjacent_find(all.begin(), all.end()) == all.end(),
                "%s: two elements share an address", t.name);
  } else {  // random pairs
    for (int k = 0; k < 256; ++k) {
      const i128 i = i128(pick(uint64_t(std::min<i128>(count, i128(INT64_MAX)))));
      const i128 j = i128(pick(uint64_t(std::min<i128>(count, i128(INT64_MAX)))));
      FUZZ_EXPECT(i == j || offset(i) != offset(j), "%s: two elements share an address", t.name);
    }
  }
}

struct counts {
  int64_t cases = 0, accepted = 0, refused = 0;

  /// Counts one check's verdict; true when it accepted the call (to be verified).
  bool accepted_now(const s6scan::status& s) {
    ++cases;
    FUZZ_EXPECT(s.ok() || s.message[0] != 0, "a refusal (%s) without a message",
                s6scan::to_string(s.code));
    ++(s.ok() ? accepted : refused);
    return s.ok();
  }
};

void expect_refusal_named(const s6scan::status& s) {
  FUZZ_EXPECT(s.ok() || s.message[0] != 0, "a refusal (%s) without a message",
              s6scan::to_string(s.code));
}

template <class InT, class OutT>
void verify_forward(const s6scan::forward_args<InT, OutT>& a) {
  const int64_t b = a.batch, d = a.dim, l = a.seqlen, n = a.dstate, g = a.groups;
  FUZZ_EXPECT(b > 0 && d > 0 && l > 0 && n > 0 && g > 0 && d % g == 0, "sizes");
  FUZZ_EXPECT(i128(b) * d * l * 4 <= INT64_MAX && i128(b) * d * n * 4 <= INT64_MAX, "sizes overflow");
  for (const auto& t : {of("u", a.u, b, d, l), of("delta", a.delta, b, d, l), of("z", a.z, b, d, l),
                        of("B", a.B, b, g, n, l), of("C", a.C, b, g, n, l), of("A", a.A, d, n),
                        of("B_const", a.B_const, d, n), of("C_const", a.C_const, d, n),
                        of("initial_state", a.initial_state, b, d, n), of("D", a.D, d),
                        of("delta_bias", a.delta_bias, d)})
    verify(t, false);
  size_t bytes = 0;
  const auto s = s6scan::saved_states_size(a, &bytes);
  FUZZ_EXPECT(s.ok(), "saved_states_size: %s", s.message);
  const i128 want = i128(b) * d * s6scan::checkpoint_chunks(l, n) * n * 4;
  FUZZ_EXPECT(want <= INT64_MAX ? i128(bytes) == want : !s.ok(), "saved_states_size %zu", bytes);
}

template <class InT, class OutT>
void fuzz_one(counts& c, const std::vector<s6scan::kernel_shape>& fwd_shapes,
              const std::vector<s6scan::kernel_shape>& bwd_shapes) {
  s6scan::forward_args<InT, OutT> a;
  const bool small = pick(2);  // half the cases take small, mostly valid sizes
  g_mostly_valid = small;
  a.batch = small ? 1 + int64_t(pick(4)) : random_size();
  a.dim = small ? 1 + int64_t(pick(40)) : random_size();
  a.seqlen = small ? 1 + int64_t(pick(80)) : random_size();
  a.dstate = small ? 1 + int64_t(pick(300)) : random_size();
  a.groups = small ? 1 + int64_t(pick(2)) : random_size();
  if (small && a.dim > 0 && a.groups > 0 && a.dim % a.groups) a.dim *= a.groups;
  const int64_t b = a.batch, d = a.dim, l = a.seqlen, n = a.dstate, g = a.groups;
  fill(a.u, b, d, l, true);
  fill(a.delta, b, d, l, true);
  fill(a.z, b, d, l, false);
  fill(a.out, b, d, l, true);
  if (pick(2)) fill(a.B, b, g, n, l, true); else fill(a.B_const, n, true);
  if (pick(2)) fill(a.C, b, g, n, l, true); else fill(a.C_const, n, true);
  if (!pick(20)) fill(a.B_const, n, false);  // both forms, now and then
  fill(a.A, n, true);
  fill(a.D, false);
  fill(a.delta_bias, false);
  fill(a.initial_state, d, n, false);
  fill(a.last_state, d, n, false);
  size_t states_bytes = 0;
  const auto sq = s6scan::saved_states_size(a, &states_bytes);
  expect_refusal_named(sq);
  FUZZ_EXPECT(sq.ok() || states_bytes == 0, "a failed query reported %zu bytes", states_bytes);
  if (pick(2)) a.saved_states = {random_pointer<float>(false), pick(4) ? states_bytes : pick(1 << 20)};
  const s6scan::device_limits devices[] = {s6scan::device_limits::with_shared_memory(48 * 1024),
                                           s6scan::device_limits::a100(),
                                           s6scan::device_limits::h100()};
  const auto& dev = devices[pick(3)];
  const auto& k = fwd_shapes[pick(fwd_shapes.size())];
  for (const auto& s : {s6scan::check_forward(a, k, dev), s6scan::check_forward(a, dev)}) {
    if (!c.accepted_now(s)) continue;
    verify_forward(a);
    verify(of("out", a.out, b, d, l), true);
    verify(of("last_state", a.last_state, b, d, n), true);
  }

  // The backward of the same forward, with random gradients.
  s6scan::backward_args<InT, OutT> gr;
  gr.fwd = a;
  fill(gr.dout, b, d, l, true);
  fill(gr.dlast_state, d, n, false);
  fill(gr.du, b, d, l, true);
  fill(gr.ddelta, b, d, l, true);
  if (a.z.data || !pick(10)) fill(gr.dz, b, d, l, true);
  fill(gr.dA, n, true);
  if (a.B.data) fill(gr.dB, b, g, n, l, true); else fill(gr.dB_const, n, true);
  if (a.C.data) fill(gr.dC, b, g, n, l, true); else fill(gr.dC_const, n, true);
  if (a.D.data) fill(gr.dD, false);
  if (a.delta_bias.data) fill(gr.ddelta_bias, false);
  if (a.initial_state.data) fill(gr.dinitial_state, d, n, false);
  if (!pick(4)) gr.partial_budget = int64_t(pick(1 << 20));
  const auto& kb = bwd_shapes[pick(bwd_shapes.size())];
  size_t ws = 0, ws_default = 0;
  const auto q1 = s6scan::backward_workspace_size(gr, kb, &ws);
  const auto q2 = s6scan::backward_workspace_size(gr, dev, &ws_default);
  expect_refusal_named(q1);
  expect_refusal_named(q2);
  FUZZ_EXPECT(q1.ok() || ws == 0, "a failed query reported %zu bytes", ws);
  FUZZ_EXPECT(q2.ok() || ws_default == 0, "a failed query reported %zu bytes", ws_default);
  const std::pair<s6scan::status, bool> checks[] = {{s6scan::check_backward(gr, kb, dev), q1.ok()},
                                                     {s6scan::check_backward(gr, dev), q2.ok()}};
  for (const auto& [s, sized] : checks) {
    if (!c.accepted_now(s)) continue;
    verify_forward(a);
    FUZZ_EXPECT(a.saved_states.data && a.saved_states.bytes >= states_bytes, "saved states");
    FUZZ_EXPECT(sized, "an accepted backward whose workspace query failed");
    verify(of("dout", gr.dout, b, d, l), false);
    verify(of("dlast_state", gr.dlast_state, b, d, n), false);
    for (const auto& t : {of("du", gr.du, b, d, l), of("ddelta", gr.ddelta, b, d, l),
                          of("dz", gr.dz, b, d, l), of("dA", gr.dA, d, n),
                          of("dB", gr.dB, b, g, n, l), of("dC", gr.dC, b, g, n, l),
                          of("dB_const", gr.dB_const, d, n), of("dC_const", gr.dC_const, d, n),
                          of("dD", gr.dD, d), of("ddelta_bias", gr.ddelta_bias, d),
                          of("dinitial_state", gr.dinitial_state, b, d, n)})
      verify(t, true);
  }
}

}  // namespace

int main() {
  const char* seed_env = std::getenv("S6SCAN_SEED");
  const uint64_t seed = seed_env ? std::strtoull(seed_env, nullptr, 10) : std::random_device{}();
  const char* cases_env = std::getenv("S6SCAN_FUZZ_CASES");
  const int64_t rounds = cases_env ? std::atoll(cases_env) : 20000;
  rng.seed(seed);
  using namespace s6scan;
  const std::vector<kernel_shape> fwd = {
      shape_of<forward_config<1, 64, 32, 1>>(),   shape_of<forward_config<16, 64>>(),
      shape_of<forward_config<16, 128, 16, 8>>(), shape_of<forward_config<64, 32, 32, 8>>(),
      shape_of<forward_config<256, 16, 16, 16>>(), shape_of<forward_config<512, 16, 16>>()};
  const std::vector<kernel_shape> bwd = {
      shape_of<backward_config<1, 64, 16, 1>>(), shape_of<backward_config<16, 32>>(),
      shape_of<backward_config<64, 16, 8, 4>>(), shape_of<backward_config<256, 8, 8, 8>>(),
      shape_of<backward_config<512, 2, 8, 16>>()};
  counts c;
  for (int64_t i = 0; i < rounds; ++i) {
    switch (i % 3) {
      case 0: fuzz_one<bf16, bf16>(c, fwd, bwd); break;
      case 1: fuzz_one<float, float>(c, fwd, bwd); break;
      default: fuzz_one<__half, float>(c, fwd, bwd); break;
    }
  }
  std::printf("fuzz of the host checks (seed %" PRIu64 "): %" PRId64 " argument sets, %" PRId64
              " checks, %" PRId64 " accepted and verified, %" PRId64 " refused with a message; %" PRId64
              " failures\n",
              seed, rounds, c.cases, c.accepted, c.refused, failures);
  // Both outcomes must occur, or the fuzz tests nothing.
  if (c.accepted == 0 || c.refused == 0) {
    std::printf("FAILED: every check %s\n", c.accepted ? "accepted" : "refused");
    return 1;
  }
  return failures ? 1 : 0;
}
