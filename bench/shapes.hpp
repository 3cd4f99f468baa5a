// SPDX-License-Identifier: MIT
#pragma once

// The benchmark's shapes: the anchors' (kShapes, timed by default) and the sweep's (kSweep,
// --sweep 1), each with the options it runs with.

#include <cstdint>

namespace s6scan_bench {

struct case_shape {
  const char* name;
  int64_t batch, dim, seqlen, dstate, groups;
  bool z;
  bool out_float = false;   // float32 output from 16-bit inputs (VMamba's mode)
  bool all_dtypes = true;   // in the sweep: bfloat16 only when false
};

// The anchors' shapes (bench/results/anchors-h200.json), then the VMamba-T stages 2 to 4.
inline const case_shape kShapes[] = {
    {"lm1.4b_N16", 8, 4096, 2048, 16, 1, false},
    {"lm1.4b_N16_z", 8, 4096, 2048, 16, 1, true},
    {"vmamba_s1_N1", 64, 768, 3136, 1, 4, false},
    {"vmamba_s1_N16", 64, 768, 3136, 16, 4, false},
    {"N64", 8, 1024, 2048, 64, 1, false},
    {"N128", 8, 1024, 2048, 128, 1, false},
    {"N256", 8, 1024, 2048, 256, 1, false},
    {"long32k_N16", 1, 2048, 32768, 16, 1, false},
    {"vmamba_s2_N1", 64, 1536, 784, 1, 4, false},
    {"vmamba_s2_N16", 64, 1536, 784, 16, 4, false},
    {"vmamba_s3_N1", 64, 3072, 196, 1, 4, false},
    {"vmamba_s3_N16", 64, 3072, 196, 16, 4, false},
    {"vmamba_s4_N1", 64, 6144, 49, 1, 4, false},
    {"vmamba_s4_N16", 64, 6144, 49, 16, 4, false},
};

// The sweep (--sweep 1): shapes off the anchors' (few channels, odd lengths, prefill, other dstate
// and groups, VMamba v2's real call), as mamba's and VMamba's kernels were timed on the H100.
inline const case_shape kSweep[] = {
    {"seqlen1", 4, 1536, 1, 16, 1, false},
    {"seqlen7", 4, 1536, 7, 16, 1, false},
    {"seqlen63", 4, 1536, 63, 16, 1, false},
    {"seqlen129", 4, 1536, 129, 16, 1, false},
    {"seqlen511", 4, 1536, 511, 16, 1, false},
    {"seqlen1023", 4, 1536, 1023, 16, 1, false},
    {"seqlen1025", 4, 1536, 1025, 16, 1, false},
    {"seqlen3001", 4, 1536, 3001, 16, 1, false},
    {"seqlen4095", 4, 1536, 4095, 16, 1, false},
    {"prefill_b1_d2048_L128", 1, 2048, 128, 16, 1, true, false, false},
    {"prefill_b1_d2048_L512", 1, 2048, 512, 16, 1, true, false, false},
    {"prefill_b1_d2048_L2048", 1, 2048, 2048, 16, 1, true, false, false},
    {"prefill_b1_d5120_L512", 1, 5120, 512, 16, 1, true, false, false},
    {"long_b1_d2048_L32768", 1, 2048, 32768, 16, 1, false, false, false},
    {"long_b2_d1024_L65536", 2, 1024, 65536, 16, 1, false, false, false},
    {"dim1000", 4, 1000, 2048, 16, 1, true, false, false},
    {"dim1100", 4, 1100, 2048, 16, 1, true, false, false},
    {"dim2500", 4, 2500, 2048, 16, 1, true, false, false},
    {"dim5120", 4, 5120, 2048, 16, 1, true, false, false},
    {"dstate1", 4, 1536, 2048, 1, 1, false, false, false},
    {"dstate2", 4, 1536, 2048, 2, 1, false, false, false},
    {"dstate4", 4, 1536, 2048, 4, 1, false, false, false},
    {"dstate8", 4, 1536, 2048, 8, 1, false, false, false},
    {"dstate32", 4, 1536, 2048, 32, 1, false, false, false},
    {"dstate48", 4, 1536, 2048, 48, 1, false, false, false},
    {"dstate100", 4, 1536, 2048, 100, 1, false, false, false},
    {"dstate200", 4, 1536, 2048, 200, 1, false, false, false},
    {"groups2", 4, 1536, 2048, 16, 2, false, false, false},
    {"groups8", 4, 1536, 2048, 16, 8, false, false, false},
    {"vmamba_v2_b128_s1_bf16_to_f32", 128, 768, 3136, 1, 4, false, true, false},
    {"vmamba_v2_b128_s2_bf16_to_f32", 128, 1536, 784, 1, 4, false, true, false},
    {"vmamba_v2_b128_s3_bf16_to_f32", 128, 3072, 196, 1, 4, false, true, false},
    {"vmamba_v2_b128_s4_bf16_to_f32", 128, 6144, 49, 1, 4, false, true, false},
    // Ours, with no anchor figure: both sides of the time-parallel kernel's channel and dstate
    // bounds (62 and 78 channels per SM on 132 SMs), and an odd prefill.
    {"ch62_dstate8", 8, 1024, 2048, 8, 1, false, false, false},
    {"ch62_dstate32", 8, 1024, 2048, 32, 1, false, false, false},
    {"ch62_dstate48", 8, 1024, 2048, 48, 1, false, false, false},
    {"ch78_dstate1", 4, 2560, 2048, 1, 1, false, false, false},
    {"ch78_dstate16", 4, 2560, 2048, 16, 1, false, false, false},
    {"ch78_dstate32", 4, 2560, 2048, 32, 1, false},
    {"ch78_dstate48", 4, 2560, 2048, 48, 1, false, false, false},
    {"ch94_dstate16", 4, 3100, 2048, 16, 1, false, false, false},
    {"prefill_b1_d2048_L1000", 1, 2048, 1000, 16, 1, true},
};

}  // namespace s6scan_bench
