// SPDX-License-Identifier: MIT
#pragma once

// Tile I/O that the forward and the backward kernels share: which tensors move in 16-byte or
// smaller pieces, the copies of row-strided tensors into shared tiles (cp.async), and the
// transposes of raw B/C tiles into float [step][state] tiles.

#include <cstdint>
#include <type_traits>

#include "../config.hpp"
#include "../numeric.hpp"
#include "ptx.cuh"

namespace s6scan::detail {

/// @brief Bits of forward_params::vec (and vec_small): which tensors may be moved in 16-byte
///        pieces (in small pieces, small_piece_bytes): base pointer and every stride but the unit
///        one aligned to that. Inputs are loaded in either; the output is stored in 16-byte pieces
///        or element by element.
enum : unsigned { kVecU = 1, kVecDelta = 2, kVecZ = 4, kVecB = 8, kVecC = 16, kVecOut = 32 };

/// @brief The smaller piece a row of T is loaded in when it is not 16-byte aligned: 8 bytes for
///        16-bit types (seqlen % 4 == 0, such as VMamba stage 3's 196), 4 for float32 (any
///        seqlen, such as VMamba stage 4's 49; float32 rows 8-byte aligned take 4-byte pieces too).
///
/// One small size per type keeps load_rows at two cp.async sizes per instantiation: a third size
/// costs every instantiation its branch and registers, used or not.
template <class T>
S6SCAN_HOST_DEVICE constexpr int small_piece_bytes() {
  return sizeof(T) >= 4 ? 4 : 8;
}

/// @brief The piece size a tensor of T moves in, from its bit in the params' (forward_params or
///        backward_params) `vec` and `vec_small` masks: 16 bytes, small_piece_bytes<T>, or 0
///        (element by element). The params go by reference: `vec_small` is read only when the
///        16-byte bit is clear (passing both masks by value changed the forward's registers).
template <class T, class Params>
__device__ __forceinline__ int piece_for(const Params& p, unsigned bit) {
  return p.vec & bit ? 16 : p.vec_small & bit ? small_piece_bytes<T>() : 0;
}

/// @brief log2 of a power of two.
S6SCAN_HOST_DEVICE constexpr int ilog2(int x) { return x > 1 ? 1 + ilog2(x / 2) : 0; }

/// @brief Piece i of a tile cut into rows of 2^chunks_log pieces of 2^per_log elements: its row
///        and its first element in the row (load_rows and store_rows walk tiles this way).
struct row_piece {
  int r, j;
};
__device__ __forceinline__ row_piece piece_at(int i, int chunks_log, int per_log) {
  return {i >> chunks_log, (i & ((1 << chunks_log) - 1)) << per_log};
}

/// @brief Copies rows [0, rows) x steps [t0, t0 + Time) of a row-strided tensor into a shared tile
///        of `pitch` elements per row, in `piece`-byte copies (16 or small_piece_bytes<T> with
///        cp.async; 0: element by element); steps past `len` read as zero. Used by the forward
///        and the backward.
///
/// The two piece sizes share one loop (a power-of-two number of elements each, so the indices are
/// shifts): a loop for each let the compiler keep both loops' indices live across the scan, which
/// cost the backward 90 registers and a spill.
template <int Time, int Threads, class T>
__device__ void load_rows(T* dst, int pitch, const T* src, int64_t row_stride, int rows, int64_t t0,
                          int64_t len, int piece) {
  static_assert((Time & (Time - 1)) == 0, "Time is a power of two");
  if (piece != 0) {
    constexpr int kLogTime = ilog2(Time);
    const int per_log = ilog2(piece / int(sizeof(T)));  // elements per piece
    const int chunks_log = kLogTime - per_log;           // pieces per row
    const int per = 1 << per_log;
    for (int i = threadIdx.x; i < rows << chunks_log; i += Threads) {
      const auto [r, j] = piece_at(i, chunks_log, per_log);
      const int64_t t = t0 + j;
      const int64_t left = len - t;
      const int n = left <= 0 ? 0 : left >= per ? per : int(left);
      T* d = dst + r * pitch + j;
      const T* g = n > 0 ? src + r * row_stride + t : src;
      if (piece == 16) copy_zfill<16>(d, g, n * int(sizeof(T)));
      else copy_zfill<small_piece_bytes<T>()>(d, g, n * int(sizeof(T)));
    }
  } else {
    for (int i = threadIdx.x; i < rows * Time; i += Threads) {
      const int r = i / Time, j = i % Time;
      const int64_t t = t0 + j;
      dst[r * pitch + j] = t < len ? src[r * row_stride + t] : from_float<T>(0.f);
    }
  }
}

/// @brief Bytes as one word: what a piece of 4, 8 or 16 bytes is read as.
template <int Bytes>
using word_of = std::conditional_t<Bytes == 16, uint4, std::conditional_t<Bytes == 8, uint2, uint32_t>>;

/// @brief The transpose of what this thread's load_rows call (same Time, Threads, rows, piece)
///        copied: raw [state][step] rows of B or C to float [step][state] in `dst`, state n at
///        column n + n / Run * Pad of rows `cols` floats apart. It reads only its own copies, so
///        it needs this thread's copy_wait and no barrier; columns past `rows` (padded states)
///        are left as they are. (The element loop of transpose_states, run between two barriers,
///        read every thread's copies.) Each piece size has its loop with constant shifts: a
///        runtime log2 of the size runs a loop per call.
template <int Time, int Threads, int Run, int Pad, class T>
__device__ void transpose_own_rows(const T* raw, int pitch, int rows, int piece, int cols,
                                   float* dst) {
  auto pieces = [&](auto bytes) {
    constexpr int kBytes = decltype(bytes)::value, kN = kBytes / int(sizeof(T));
    constexpr int kChunks = Time / kN;  // pieces per row
    for (int i = threadIdx.x; i < rows * kChunks; i += Threads) {
      const int r = i / kChunks, j = i % kChunks * kN;
      union {
        word_of<kBytes> v;
        T e[kN];
      } x;
      x.v = *reinterpret_cast<const word_of<kBytes>*>(raw + r * pitch + j);
      float* d = dst + j * cols + r + r / Run * Pad;
#pragma unroll
      for (int k = 0; k < kN; ++k) d[k * cols] = to_float(x.e[k]);
    }
  };
  if (piece == 16) {
    pieces(std::integral_constant<int, 16>{});
  } else if (piece != 0) {
    pieces(std::integral_constant<int, small_piece_bytes<T>()>{});
  } else {
    for (int i = threadIdx.x; i < rows * Time; i += Threads) {
      const int r = i / Time, j = i % Time;
      dst[j * cols + r + r / Run * Pad] = to_float(raw[r * pitch + j]);
    }
  }
}

/// @brief A raw [state][step] tile of B or C (rows `pitch` elements apart, 16-byte aligned) to
///        float [step][state], states [0, npad), zero from `dstate` on. State n goes to column
///        n + n / Run * Pad (see forward_run_pad), so rows are npad + npad / Run * Pad apart; with
///        `Swizzle` (the backward in parts, ByPiece only) to part_state_col(n, Run) instead.
///
/// `ByPiece`: a thread converts the 16-byte pieces of one state's row, with no index divided by
/// the runtime dstate (at large dstate an element loop's divisions dominate). Else a thread
/// converts one element: the forward's choice below dstate 64 with four lanes per channel (one or
/// two lanes take transpose_own_rows), where the piece loop costs registers the scan needs. The
/// element loop needs `MaxNpad`, a compile-time bound on npad, so that it divides by a constant
/// rather than by the runtime npad once per element.
template <int Time, int Threads, bool ByPiece, int Run = 1, int Pad = 0, bool Swizzle = false,
          int MaxNpad = 0, class T>
__device__ void transpose_states(const T* raw, int pitch, int dstate, int npad, float* dst) {
  const int cols = npad + npad / Run * Pad;
  if constexpr (ByPiece) {
    constexpr int kVec = 16 / int(sizeof(T)), kPieces = Time / kVec;
    static_assert(kPieces >= 1 && Time % kVec == 0, "a tile row is whole 16-byte pieces");
    for (int n = threadIdx.x; n < npad; n += Threads) {
#pragma unroll 1
      for (int q = 0; q < kPieces; ++q) {
        uint4 v = make_uint4(0u, 0u, 0u, 0u);
        if (n < dstate) v = *reinterpret_cast<const uint4*>(raw + n * pitch + q * kVec);
        const T* e = reinterpret_cast<const T*>(&v);
        float* d;
        if constexpr (Swizzle)
          d = dst + q * kVec * cols + part_state_col(n, Run);
        else
          d = dst + q * kVec * cols + n + n / Run * Pad;
#pragma unroll
        for (int k = 0; k < kVec; ++k) d[k * cols] = to_float(e[k]);
      }
    }
  } else {
    static_assert(MaxNpad > 0, "the element loop needs a compile-time bound on npad");
    for (int i = threadIdx.x; i < Time * MaxNpad; i += Threads) {
      const int t = i / MaxNpad, n = i % MaxNpad;
      if (n < npad)
        dst[t * cols + n + n / Run * Pad] = n < dstate ? to_float(raw[n * pitch + t]) : 0.f;
    }
  }
}

template <int N>
struct float_vec;
template <>
struct float_vec<1> {
  using type = float;
  __device__ static float get(const float& v, int) { return v; }
  __device__ static float make(const float* v) { return v[0]; }
};
template <>
struct float_vec<2> {
  using type = float2;
  __device__ static float get(const float2& v, int i) { return i == 0 ? v.x : v.y; }
  __device__ static float2 make(const float* v) { return make_float2(v[0], v[1]); }
};
template <>
struct float_vec<4> {
  using type = float4;
  __device__ static float get(const float4& v, int i) {
    return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
  }
  __device__ static float4 make(const float* v) { return make_float4(v[0], v[1], v[2], v[3]); }
};

/// @brief N elements of a row in one or two vector moves (N * sizeof(T) is a power of two).
template <class T, int N>
struct alignas(N * sizeof(T) >= 16 ? 16 : N * sizeof(T)) run_of {
  T e[N];
};

/// @brief An unsigned word of 4, 8 or 16 bytes, to move a piece of a row in one access.
template <int Bytes>
using word_of =
    std::conditional_t<Bytes == 16, uint4, std::conditional_t<Bytes == 8, uint2, unsigned>>;

/// @brief store_rows in pieces of Per elements (Per * sizeof(T) is 16 or small_piece_bytes<T>;
///        dst and its row stride are aligned to it). A row's last piece may be partly past
///        `left`; its valid elements are stored one by one.
template <int Time, int Threads, int Per, class T>
__device__ void store_pieces(T* dst, int64_t row_stride, const T* src, int rows, int64_t left) {
  using word = word_of<Per * int(sizeof(T))>;
  constexpr int kPerLog = ilog2(Per), kChunksLog = ilog2(Time) - kPerLog;
  for (int i = threadIdx.x; i < rows << kChunksLog; i += Threads) {
    const auto [r, j] = piece_at(i, kChunksLog, kPerLog);
    if (j >= left) continue;
    T* d = dst + r * row_stride + j;
    const T* s = src + r * Time + j;
    if (j + Per <= left)
      *reinterpret_cast<word*>(d) = *reinterpret_cast<const word*>(s);
    else
      for (int e = 0; j + e < left; ++e) d[e] = s[e];
  }
}

/// @brief Copies rows [0, rows) x steps [0, min(Time, left)) of a shared tile (rows Time elements
///        apart) to a row-strided tensor, coalesced: in `piece`-byte pieces (16 or
///        small_piece_bytes<T>: dst and its row stride aligned to that), or element by element
///        (piece 0, or a piece longer than the tile's row).
///
/// An element loop spends most of its instructions on 64-bit index arithmetic per element, so
/// each piece size has its own loop with compile-time indices: one loop over a runtime size also
/// slows the aligned case.
template <int Time, int Threads, class T>
__device__ void store_rows(T* dst, int64_t row_stride, const T* src, int rows, int64_t left,
                           int piece) {
  constexpr int kBytes = Time * int(sizeof(T)), kSmall = small_piece_bytes<T>();
  if constexpr (kBytes >= 16) {
    if (piece == 16)
      return store_pieces<Time, Threads, 16 / int(sizeof(T))>(dst, row_stride, src, rows, left);
  }
  if constexpr (kBytes >= kSmall) {
    if (piece == kSmall)
      return store_pieces<Time, Threads, kSmall / int(sizeof(T))>(dst, row_stride, src, rows, left);
  }
  for (int i = threadIdx.x; i < rows * Time; i += Threads) {
    const int r = i / Time, j = i % Time;
    if (j < left) dst[r * row_stride + j] = src[r * Time + j];
  }
}

}  // namespace s6scan::detail
