"""A tiny deterministic generator for ids and fault draws (the `random` module is off limits)."""

from __future__ import annotations


class Prng:
    """splitmix64: reproducible under a seed, its whole state one integer (saved with the state)."""

    MASK = (1 << 64) - 1

    def __init__(self, seed: int) -> None:
        self.state = seed & self.MASK

    def next_u64(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & self.MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
        return z ^ (z >> 31)

    def uniform(self) -> float:
        """A float in [0, 1)."""
        return (self.next_u64() >> 11) / float(1 << 53)

    def hex(self, digits: int) -> str:
        return f"{self.next_u64():016x}"[:digits]
