/* The engine's RNG: splitmix64. Tiny state, fast, and trivially mirrored in
 * Python (bindings/prospector/reference/rng.py) with integer masking.
 * Never draw twice inside one C expression: the order of evaluation of
 * operands is unspecified, and parity depends on the draw order. */
#ifndef PR_RNG_H
#define PR_RNG_H

#include <math.h>
#include <stdint.h>

#define PR_GOLDEN 0x9E3779B97F4A7C15ULL

static inline uint64_t pr_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline uint64_t rng_next(uint64_t *s) {
    *s += PR_GOLDEN;
    return pr_mix64(*s);
}

/* [0, 1) with 53 random bits. */
static inline double rng_uniform(uint64_t *s) {
    return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

/* 0 .. n-1 (n < 2^32), multiply-shift without rejection. */
static inline int32_t rng_below(uint64_t *s, uint32_t n) {
    return (int32_t)(((rng_next(s) >> 32) * (uint64_t)n) >> 32);
}

/* Triangular noise in (-1, 1): cheap, no libm. */
static inline double rng_tri(uint64_t *s) {
    double a = rng_uniform(s);
    double b = rng_uniform(s);
    return a + b - 1.0;
}

/* Standard normal by Box-Muller (one value per call). */
static inline double rng_normal(uint64_t *s) {
    double u1 = rng_uniform(s);
    double u2 = rng_uniform(s);
    double r = sqrt(-2.0 * log(1.0 - u1));
    return r * cos(6.283185307179586 * u2);
}

/* Exponential(1). */
static inline double rng_exp(uint64_t *s) {
    return -log(1.0 - rng_uniform(s));
}

#endif
