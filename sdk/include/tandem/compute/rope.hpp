// Rotary position embeddings (Su et al. 2021) in Hugging Face's "rotate half" layout, as
// LlamaRotaryEmbedding / apply_rotary_pos_emb with rope_type "default":
//   inv_freq[i] = 1 / theta^(2i / d),  angle[t, i] = t * inv_freq[i],  i < d/2, d = head_dim
//   out[j]       = x[j] cos(angle[j]) - x[j + d/2] sin(angle[j])          j < d/2
//   out[j + d/2] = x[j + d/2] cos(angle[j]) + x[j] sin(angle[j])
// The two halves of a head are rotated against each other (not interleaved pairs, as Meta's
// original code and GPT-NeoX-style "interleaved" RoPE do). Positions start at 0 in every row.
#pragma once

#include <cstdint>

namespace tandem::compute {

inline constexpr double kRopeTheta = 10000.0;  // LlamaConfig's rope_theta default

// cos, sin: [positions, head_dim / 2]. Computed as transformers computes them, in fp32 whatever
// the model's dtype (inv_freq = 1 / theta^(2i/d) in float, angle = t * inv_freq in float, then the
// cosine and sine of that float), widened to T: so a float model's rotations equal Hugging Face's
// to the last bit of the angle, and a double model (finite-difference checks) rotates by the very
// same angles as Hugging Face's float64 run does. head_dim must be even.
template <class T>
void rope_table(int64_t positions, int64_t head_dim, double theta, T* cos, T* sin);

// x: [B, T_, n_head, head_dim], rotated in place by the table of the first T_ positions.
template <class T>
void rope_forward(T* x, const T* cos, const T* sin, int64_t B, int64_t T_, int64_t n_head, int64_t head_dim);

// The backward of rope_forward, in place: dx = R^T dy (the rotation by -angle). Given dy on entry,
// holds dx on return.
template <class T>
void rope_backward(T* grad, const T* cos, const T* sin, int64_t B, int64_t T_, int64_t n_head, int64_t head_dim);

}  // namespace tandem::compute
