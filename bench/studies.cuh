// SPDX-License-Identifier: MIT
// The benchmark's configuration studies (--nrows-study, --split-study, --backward-study): part of
// bench.cu, which includes this file after its helpers (bench_shape, backward_call, the default
// forwards), in the same translation unit's anonymous namespace. All but the backward's segment
// counts are built only with -DS6SCAN_BENCH_STUDIES=ON: they instantiate about twenty
// configurations beyond the default set.

namespace {

// One configuration with `segments` time segments (0: as forward<Config> decides), in T.
template <class Config, class T = __nv_bfloat16>
void study_config(const case_shape& s, const ceilings& c, int reps, int64_t l2_bytes,
                  int segments = 0) {
  const auto forward = [segments](s6scan::forward_args<T> a, void* ws, size_t bytes) {
    a.saved_states = {ws, bytes};
    return s6scan::detail::forward_segmented<Config>(a, {}, nullptr, segments);
  };
  std::printf("%-16s %-8s MaxDState %3d NRows %3d TimeTile %2d lanes %2d threads %4d segments ",
              s.name, s6scan::type_name<T>(), Config::kMaxDState, Config::kRows,
              Config::kTimeTile, Config::kLanesPerRow, Config::kThreads);
  if (segments > 0) std::printf("%4d: ", segments);
  else std::printf("auto: ");
  // The launcher's own checks on this device, with stand-in pointers (nothing is launched).
  auto probe = s6scan::forward_args<T>::contiguous(s.batch, s.dim, s.seqlen, s.dstate, s.groups);
  const auto stand_in = reinterpret_cast<T*>(uintptr_t(256));
  probe.u.data = probe.delta.data = probe.B.data = probe.C.data = stand_in;
  probe.out.data = stand_in;
  if (s.z) probe.z.data = stand_in;
  probe.A.data = reinterpret_cast<const float*>(stand_in);
  const s6scan::status st = s6scan::forward_can_implement<Config>(probe);
  if (!st.ok()) {
    std::printf("refused: %s\n", st.message);
    return;
  }
  const record r = bench_shape<T>(s, c, reps, l2_bytes, forward, false);
  std::printf("%8.4f ms, %5.2f x floor\n", r.fwd_ms, r.ratio);
  std::fflush(stdout);
}

// The backward's part of the split study: the default forward, then the default backward with 1
// to 32 time segments per launch (fewer where the workspace or the launch's chunks allow fewer),
// and as the launcher decides. With --sweep 1 it runs alone on the sweep's shapes, in any build:
// it takes only the default set.
void backward_split_study(const case_shape& s, const ceilings& c, int reps, int64_t l2_bytes) {
  for (int segments : {1, 2, 4, 8, 16, 24, 32, 0}) {
    std::printf("%-16s backward (default configuration) segments ", s.name);
    if (segments > 0) std::printf("%4d: ", segments);
    else std::printf("auto: ");
    backward_call<> bwd;
    bwd.segments = segments;
    const record r = bench_shape<__nv_bfloat16>(s, c, reps, l2_bytes, fwd_default, true, bwd);
    std::printf("fwd %8.4f ms, fwd+bwd %8.4f ms, bwd %8.4f ms\n", r.fwd_ms, r.fwdbwd_ms,
                r.fwdbwd_ms - r.fwd_ms);
    std::fflush(stdout);
  }
}

// The split study on one sweep shape (--split-study 1 --sweep 1): at dstate 17-128 the default
// forward configuration with explicit segment counts (a forward whose blocks fill half the SMs
// does not split on its own), then the backward's segment counts.
void sweep_split_study(const case_shape& s, const ceilings& c, int reps, int64_t l2_bytes) {
  for (int segments : {1, 2, 3, 4, 6, 8, 0}) {
    if (s.dstate > 16 && s.dstate <= 64)
      study_config<s6scan::default_config_64>(s, c, reps, l2_bytes, segments);
    else if (s.dstate > 64 && s.dstate <= 128)
      study_config<s6scan::default_config_128>(s, c, reps, l2_bytes, segments);
  }
  backward_split_study(s, c, reps, l2_bytes);
}

#if S6SCAN_BENCH_STUDIES
// The NRows study (--nrows-study): the bfloat16 forward of each listed shape with explicit
// configurations that differ in the channels per block (NRows) and in the lanes that share one
// channel (MaxDState / StatesPerThread), the default configuration among them.
template <class... Configs>
struct config_list {};
using s6scan::forward_config;
using study_dstate_1 = config_list<forward_config<1, 32, 32, 1>, forward_config<1, 64, 32, 1>,
                                   forward_config<1, 128, 32, 1>, forward_config<1, 256, 32, 1>,
                                   forward_config<1, 512, 32, 1>>;
// float32 at dstate 1, when --dtypes names it: TimeTile 16 halves the raw tiles (6 blocks of 64
// rows per SM instead of 4 on the H200), yet lost VMamba stages 1-3 by 7-19% on the H200.
using study_dstate_1_f32 = config_list<forward_config<1, 64, 32, 1>, forward_config<1, 64, 16, 1>,
                                       forward_config<1, 32, 32, 1>, forward_config<1, 128, 16, 1>>;
using study_dstate_16 = config_list<forward_config<32, 1, 32, 1>, forward_config<16, 2, 32, 1>,
                                    forward_config<16, 8, 32, 4>, forward_config<16, 16, 32, 4>,
                                    forward_config<16, 32, 32, 4>, forward_config<16, 32, 32, 16>,
                                    forward_config<16, 64, 32, 16>, forward_config<16, 128, 32, 16>,
                                    forward_config<16, 256, 32, 16>, forward_config<16, 192, 32, 16>,
                                    forward_config<16, 64, 32, 8>, forward_config<16, 96, 32, 8>,
                                    forward_config<16, 128, 32, 8>, forward_config<16, 192, 32, 8>,
                                    forward_config<16, 96, 16, 8>, forward_config<16, 128, 16, 8>,
                                    forward_config<16, 192, 16, 16>,
                                    // 64-step tiles: half the per-tile work per step, at the
                                    // shared memory of twice the rows at 32 steps; 8-121%
                                    // slower than 32 steps on the H200.
                                    forward_config<16, 32, 64, 8>, forward_config<16, 64, 64, 8>,
                                    forward_config<16, 96, 64, 8>, forward_config<16, 128, 64, 8>>;
using study_dstate_128 = config_list<forward_config<256, 16, 16, 16>, forward_config<128, 8, 16, 16>,
                                     forward_config<128, 16, 16, 16>, forward_config<128, 32, 16, 16>>;
using study_dstate_64 = config_list<forward_config<64, 2, 32, 4>, forward_config<64, 8, 32, 4>,
                                    forward_config<64, 8, 32, 16>, forward_config<64, 16, 32, 16>,
                                    forward_config<64, 32, 32, 16>, forward_config<64, 64, 32, 16>,
                                    forward_config<64, 32, 32, 8>, forward_config<64, 64, 32, 8>,
                                    forward_config<64, 32, 16, 8>>;
// dstate 256 (the bfloat16 forward, and float32 when --dtypes names it): float32's raw B/C tiles
// (shared by the block's rows) leave room for one block of 16 rows per SM.
using study_dstate_256 = config_list<forward_config<256, 16, 16, 16>, forward_config<256, 32, 16, 16>,
                                     forward_config<256, 8, 16, 16>>;
// float32 at dstate 16, when --dtypes names it: its raw tiles take twice the shared memory, so
// the rows that read their own channels fit fewer blocks per SM.
// TimeTile 16 halves the raw tiles, so that two blocks of the wider rows fit.
using study_dstate_16_f32 = config_list<forward_config<16, 32, 32, 4>, forward_config<16, 64, 32, 8>,
                                        forward_config<16, 96, 32, 8>, forward_config<16, 128, 32, 8>,
                                        forward_config<16, 128, 32, 16>, forward_config<16, 192, 32, 16>,
                                        forward_config<16, 64, 16, 8>, forward_config<16, 96, 16, 8>,
                                        forward_config<16, 128, 16, 8>, forward_config<16, 192, 16, 16>>;

template <class T = __nv_bfloat16, class... Configs>
void study(const case_shape& s, const ceilings& c, int reps, int64_t l2_bytes, config_list<Configs...>) {
  (study_config<Configs, T>(s, c, reps, l2_bytes), ...);
}

// The time-split study (--split-study): the dstate-16 configurations of the default set, each
// unsplit, with 2 to 128 segments (fewer where the sequence has fewer than 2 chunks per segment),
// and as the launcher decides.
template <class... Configs>
void split_study(const case_shape& s, const ceilings& c, int reps, int64_t l2_bytes,
                 config_list<Configs...>) {
  for (int segments : {1, 2, 4, 8, 16, 32, 64, 128, 0})
    (study_config<Configs>(s, c, reps, l2_bytes, segments), ...);
}

using split_study_16 = config_list<s6scan::default_config_16,
                                   s6scan::default_config_16_rows128x2<__nv_bfloat16>,
                                   forward_config<16, 128, 32, 16>>;

// The backward study (--backward-study): the default forward, then explicit backward
// configurations. Each list holds the default set's configuration for its dstate (dstate 128 and
// 256 share the last list), and the candidates measured against it.
using s6scan::backward_config;
// (32 rows with MinBlocksPerSM 16, and 32 rows in float32, were measured too: 2-6% slower than 64
// rows on the H200.)
using backward_study_1 = config_list<backward_config<1, 64, 16, 1>, backward_config<1, 64, 16, 1, 8>,
                                     backward_config<1, 128, 16, 1>, backward_config<1, 32, 16, 1>>;
// float32 at dstate 1 (timed when --dtypes names float32).
using backward_study_1_f32 = config_list<backward_config<1, 128, 16, 1>, backward_config<1, 64, 16, 1>>;
// The MinBlocksPerSM rows cap the registers for 4 or 5 blocks of 4 warps per SM (the default, at
// 168 registers, runs 3): 128 (TimeTile 8: no spills; 16: 100 bytes) and 96 (TimeTile 8: 80).
using backward_study_16 = config_list<backward_config<16, 32, 16, 4>, backward_config<16, 32, 8, 4>,
                                      backward_config<16, 32, 8, 4, 4>, backward_config<16, 32, 8, 4, 5>,
                                      backward_config<16, 32, 16, 4, 4>,
                                      backward_config<16, 64, 16, 4>, backward_config<16, 16, 16, 4>,
                                      backward_config<16, 64, 8, 8>, backward_config<16, 32, 16, 2>>;
// float32 at dstate 16 (timed when --dtypes names float32): the default and the capped rows.
using backward_study_16_f32 = config_list<backward_config<16, 32, 16, 4>, backward_config<16, 32, 8, 4, 4>,
                                          backward_config<16, 32, 16, 4, 4>>;
using backward_study_64 = config_list<backward_config<64, 16, 8, 4>, backward_config<64, 8, 16, 4>,
                                      backward_config<64, 16, 16, 4>, backward_config<64, 8, 8, 8>>;
using backward_study_256 = config_list<backward_config<256, 8, 8, 8, 2>, backward_config<256, 8, 8, 8>,
                                       backward_config<256, 4, 8, 8>,
                                       backward_config<128, 16, 8, 4>, backward_config<128, 8, 8, 4>,
                                       backward_config<128, 4, 8, 4>>;

template <class Config, class T = __nv_bfloat16>
void backward_study_config(const case_shape& s, const ceilings& c, int reps, int64_t l2_bytes) {
  if (s.dstate > Config::kMaxDState) return;
  std::printf("%-16s %s backward MaxDState %3d NRows %3d TimeTile %2d lanes %2d threads %4d "
              "min blocks %2d: ",
              s.name, sizeof(T) == 4 ? "float32" : "bfloat16", Config::kMaxDState, Config::kRows,
              Config::kTimeTile, Config::kLanesPerRow, Config::kThreads, Config::kMinBlocksPerSM);
  // The launcher's own shared-memory check on this device (nothing is launched).
  int device = 0, optin = 0;
  BENCH_CUDA(cudaGetDevice(&device));
  BENCH_CUDA(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  const int64_t need = s6scan::detail::make_backward_smem_layout(
      Config::kRows, Config::kTimeTile, Config::kChunkSteps, Config::kStatesPerThread,
      Config::kThreads, s.dstate,
      int(sizeof(T)), int(sizeof(T)), s.z, true, true).total;
  if (need > optin) {
    std::printf("refused: %lld bytes of shared memory\n", (long long)need);
    return;
  }
  const record r = bench_shape<T>(s, c, reps, l2_bytes, fwd_default, true, backward_call<Config>{});
  std::printf("fwd %8.4f ms, fwd+bwd %8.4f ms, bwd %8.4f ms\n", r.fwd_ms, r.fwdbwd_ms,
              r.fwdbwd_ms - r.fwd_ms);
  std::fflush(stdout);
}

template <class T = __nv_bfloat16, class... Configs>
void backward_study(const case_shape& s, const ceilings& c, int reps, int64_t l2_bytes,
                    config_list<Configs...>) {
  (backward_study_config<Configs, T>(s, c, reps, l2_bytes), ...);
}

#endif  // S6SCAN_BENCH_STUDIES

}  // namespace
