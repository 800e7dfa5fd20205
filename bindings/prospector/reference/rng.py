"""The engine's RNG, mirrored from core_c/src/rng.h: splitmix64.

Python ints are unbounded, so every uint64 operation is masked with
MASK64. Draws are methods of `Rng`, whose `state` is the C `uint64_t` the
engine passes by pointer (the episode stream `pr_env.rng`, or an
asteroid's local truth stream). One method call = one C call: the draw
order is part of the contract.
"""

from __future__ import annotations

import math

MASK64 = 0xFFFFFFFFFFFFFFFF
GOLDEN = 0x9E3779B97F4A7C15  # PR_GOLDEN
TWO_POW_M53 = 2.0**-53  # 0x1.0p-53


def mix64(z: int) -> int:
    """pr_mix64: the splitmix64 finalizer."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


class Rng:
    """A splitmix64 stream; `state` is the uint64 the C code points at."""

    __slots__ = ("state",)

    def __init__(self, state: int = 0):
        self.state = state & MASK64

    def next(self) -> int:
        """rng_next: advance by the golden gamma, return the mixed state."""
        self.state = (self.state + GOLDEN) & MASK64
        return mix64(self.state)

    def uniform(self) -> float:
        """rng_uniform: [0, 1) with 53 random bits (exact int -> double)."""
        return (self.next() >> 11) * TWO_POW_M53

    def below(self, n: int) -> int:
        """rng_below: 0 .. n-1 by multiply-shift (n < 2**32), no rejection.
        C returns it as int32_t, so a bound above 2**31 can wrap negative (the
        engine never uses one)."""
        v = ((self.next() >> 32) * n) >> 32
        return v - (1 << 32) if v >= 1 << 31 else v

    def tri(self) -> float:
        """rng_tri: triangular noise in (-1, 1); a is drawn before b."""
        a = self.uniform()
        b = self.uniform()
        return a + b - 1.0

    def normal(self) -> float:
        """rng_normal: Box-Muller, u1 then u2, one value per call."""
        u1 = self.uniform()
        u2 = self.uniform()
        r = math.sqrt(-2.0 * math.log(1.0 - u1))
        return r * math.cos(6.283185307179586 * u2)

    def exp(self) -> float:
        """rng_exp: Exponential(1)."""
        return -math.log(1.0 - self.uniform())
