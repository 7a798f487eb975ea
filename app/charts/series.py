"""Growing numpy buffers for live metric series, and EMA smoothing that extends incrementally.

No Qt here: the chart widget shows slices (views, not copies) of these buffers, so appending a
point costs O(1) amortised instead of the O(n) copy of `np.concatenate`.
"""

from __future__ import annotations

import math

import numpy as np

_BLOCK = 32


def linear_scan(x: np.ndarray, a: float, init: float = 0.0) -> np.ndarray:
    """s[i] = a * s[i-1] + x[i] with s[-1] = init, vectorised (blocked, recursive over blocks)."""
    n = len(x)
    if n == 0:
        return np.empty(0)
    if n <= _BLOCK:
        out = np.empty(n)
        s = init
        for i, v in enumerate(x):
            s = a * s + v
            out[i] = s
        return out
    m = -(-n // _BLOCK)
    padded = np.zeros(m * _BLOCK)
    padded[:n] = x
    blocks = padded.reshape(m, _BLOCK)
    k = np.arange(_BLOCK)
    diff = k[:, None] - k[None, :]
    tri = np.where(diff >= 0, np.power(a, np.maximum(diff, 0)), 0.0)
    local = blocks @ tri.T  # scan inside each block from zero
    carries = linear_scan(local[:, -1], a**_BLOCK, init)  # the value at each block's end
    before = np.concatenate(([init], carries[:-1]))
    out = local + np.power(a, k + 1)[None, :] * before[:, None]
    return out.reshape(-1)[:n]


class Series:
    """One metric series: x by step, x by time, y; appended in place, capacity doubling."""

    def __init__(self, capacity: int = 1024) -> None:
        self.steps = np.empty(capacity)
        self.times = np.empty(capacity)
        self.values = np.empty(capacity)
        self.n = 0
        self.smoothed = np.empty(capacity)
        self._weight = 0.0
        self._ema_state = 0.0  # biased EMA at the last point
        self.y_min = math.inf
        self.y_max = -math.inf
        self.positive_min = math.inf
        self.peaks = PeakIndex()
        self.smoothed_peaks = PeakIndex()
        self._envelopes: dict[tuple[str, bool], tuple[int, int, np.ndarray, np.ndarray]] = {}

    def _grow(self, needed: int) -> None:
        cap = len(self.values)
        if needed <= cap:
            return
        new_cap = max(needed + needed // 2, cap * 2)  # a bulk load leaves room for live appends
        for name in ("steps", "times", "values", "smoothed"):
            old = getattr(self, name)
            new = np.empty(new_cap)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)

    def truncate_from_step(self, step: float) -> None:
        """Drop points at or after `step` (a resumed run rewrites them)."""
        keep = int(np.searchsorted(self.steps[: self.n], step, side="left"))
        if keep < self.n:
            self.n = keep
            self._recompute()

    def append(self, steps: np.ndarray, times: np.ndarray, values: np.ndarray) -> None:
        steps = np.asarray(steps, dtype=float)
        if len(steps) == 0:
            return
        if self.n and steps[0] <= self.steps[self.n - 1]:
            self.truncate_from_step(steps[0])
        start, end = self.n, self.n + len(steps)
        self._grow(end)
        self.steps[start:end] = steps
        self.times[start:end] = times
        self.values[start:end] = values
        self.n = end
        self._extend_stats(start)
        self._smooth_from(start)
        self._index()

    def _index(self) -> None:
        self.peaks.update(self.values, self.n)
        if self._weight:
            self.smoothed_peaks.update(self.smoothed, self.n)

    def _extend_stats(self, start: int) -> None:
        new = self.values[start : self.n]
        finite = new[np.isfinite(new)]
        if len(finite):
            self.y_min = min(self.y_min, float(finite.min()))
            self.y_max = max(self.y_max, float(finite.max()))
            positive = finite[finite > 0]
            if len(positive):
                self.positive_min = min(self.positive_min, float(positive.min()))

    def _recompute(self) -> None:
        self.y_min, self.y_max, self.positive_min = math.inf, -math.inf, math.inf
        self._extend_stats(0)
        self._ema_state = 0.0
        self._smooth_from(0)
        self.peaks.reset()
        self.smoothed_peaks.reset()
        self._index()

    @property
    def smoothing(self) -> float:
        return self._weight

    def set_smoothing(self, weight: float) -> None:
        """EMA weight in [0, 1) like TensorBoard's slider; 0 shows the raw values."""
        weight = min(max(float(weight), 0.0), 0.999)
        if weight != self._weight:
            self._weight = weight
            self._ema_state = 0.0
            self._smooth_from(0)
            self.smoothed_peaks.reset()
            self._index()

    def _smooth_from(self, start: int) -> None:
        w = self._weight
        if self.n <= start:
            return
        new = self.values[start : self.n]
        if w == 0.0:
            self.smoothed[start : self.n] = new
            return
        # TensorBoard: biased EMA, divided by (1 - w^count) so the start is not pulled to zero.
        state = self._ema_state if start else 0.0
        clean = np.where(np.isfinite(new), new, 0.0)
        biased = linear_scan((1.0 - w) * clean, w, state)
        self._ema_state = float(biased[-1])
        self.smoothed[start : self.n] = biased
        # 1 - w^count rounds to exactly 1.0 once w^count < 1e-18: only the first points need dividing.
        debiased_until = min(self.n, int(math.ceil(math.log(1e-18) / math.log(w))))
        if start < debiased_until:
            counts = np.arange(start + 1, debiased_until + 1, dtype=float)
            self.smoothed[start:debiased_until] /= 1.0 - np.power(w, counts)

    def x(self, axis: str = "step") -> np.ndarray:
        return (self.times if axis == "time" else self.steps)[: self.n]

    def y(self, smoothed: bool = False) -> np.ndarray:
        return (self.smoothed if smoothed else self.values)[: self.n]

    def envelope(self, smoothed: bool = False) -> np.ndarray:
        """Indices that draw the series' min/max envelope (see PeakIndex)."""
        return (self.smoothed_peaks if smoothed and self._weight else self.peaks).indices(self.n)

    def envelope_xy(self, axis: str = "step", smoothed: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The envelope's points, gathered incrementally: only blocks completed since the last call
        are looked up, then the raw points of the last partial block are added."""
        index = self.smoothed_peaks if smoothed and self._weight else self.peaks
        key = (axis, smoothed and bool(self._weight))
        cached = self._envelopes.get(key)
        if cached is None or cached[0] != index.generation or cached[1] > index.m:
            cached = (index.generation, 0, np.empty(max(1024, index.m)), np.empty(max(1024, index.m)))
        generation, done, xs, ys = cached
        if index.m > done:
            if index.m > len(xs):
                grown_x, grown_y = np.empty(2 * index.m), np.empty(2 * index.m)
                grown_x[:done], grown_y[:done] = xs[:done], ys[:done]
                xs, ys = grown_x, grown_y
            new = index.idx[done : index.m]
            xs[done : index.m] = self.x(axis)[new]
            ys[done : index.m] = self.y(smoothed)[new]
            done = index.m
        self._envelopes[key] = (generation, done, xs, ys)
        start = index.blocks * index.block
        return (np.concatenate((xs[:done], self.x(axis)[start : self.n])),
                np.concatenate((ys[:done], self.y(smoothed)[start : self.n])))

    @property
    def last_step(self) -> float | None:
        return float(self.steps[self.n - 1]) if self.n else None


class PeakIndex:
    """Indices of each block's min and max (in x order), kept up to date as points arrive.

    Drawing `x[idx], y[idx]` for a long series shows the same envelope as drawing every point,
    with 2 points per `block` instead of `block`: what pyqtgraph's peak downsampling does per
    redraw, done once per block here, so a redraw of a long run costs O(n / block).
    """

    def __init__(self, block: int = 128) -> None:
        self.block = block
        self.idx = np.empty(1024, dtype=np.int64)
        self.m = 0  # valid entries in idx
        self.generation = 0  # bumped whenever entries are dropped (caches built on them are stale)
        self.blocks = 0  # complete blocks indexed

    def reset(self) -> None:
        self.m = 0
        self.generation += 1
        self.blocks = 0

    def update(self, y: np.ndarray, n: int) -> None:
        full = n // self.block
        if full <= self.blocks:
            if full < self.blocks:  # the series was truncated
                self.blocks = full
                self.m = 2 * full
                self.generation += 1
            return
        start = self.blocks * self.block
        chunk = y[start : full * self.block].reshape(-1, self.block)
        lo = np.argmin(chunk, axis=1)
        hi = np.argmax(chunk, axis=1)
        base = start + np.arange(len(chunk)) * self.block
        pairs = np.sort(np.stack([lo, hi], axis=1), axis=1) + base[:, None]
        needed = self.m + pairs.size
        if needed > len(self.idx):
            grown = np.empty(max(needed, 2 * len(self.idx)), dtype=np.int64)
            grown[: self.m] = self.idx[: self.m]
            self.idx = grown
        self.idx[self.m : needed] = pairs.reshape(-1)
        self.m = needed
        self.blocks = full

    def indices(self, n: int) -> np.ndarray:
        """Envelope indices for the complete blocks, then every point of the last partial block."""
        tail = np.arange(self.blocks * self.block, n)
        return np.concatenate((self.idx[: self.m], tail))
