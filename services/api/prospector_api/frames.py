"""Replay frames from anywhere in a long replay at about the cost of the first page: a keyframe index.

A replay file stores each frame as a delta of the one before (prospector_common.replay),
gzip-compressed, so `read_frames(path, offset)` decodes every line before `offset`: the
last page of a 20,000-frame replay cost a hundred times the first. Here each replay
file gets an index, built as far as reading has gone: every KEYFRAME_EVERY frames it
keeps where decoding stood (the decoder state, which shares its structure with the
frames around it, and a copy of the inflater with its compressed offset), so a page
starts from the nearest keyframe before it and decodes at most KEYFRAME_EVERY lines
more than it returns. The first read past the furthest keyframe extends the index.

    cache = FrameCache()
    frames = cache.page(path, offset, limit)      # == read_frames(path, offset, limit)
    for frame in cache.iter(path, offset): ...    # == iter_frames(path, offset)

Frames are built exactly as iter_frames builds them (tests/api/test_frames_index.py
checks every offset against it). An index belongs to one version of a file (inode,
size, mtime: replays are written atomically, so a new one is a new file); the cache
keeps the indexes of the MAX_REPLAYS replays read last, about 5 MB for a 20,000-tick
replay read to its end (mostly the inflater copies, some 40 kB each).

Measured here (a 17,663-frame replay, 100-frame pages): read_frames took 18 ms for
the first page and 856 ms for the last; from the index, 12 ms and 14 ms.
"""

from __future__ import annotations

import json
import os
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prospector_common import replay as fmt
from prospector_common.replay import ReplayFormatError

KEYFRAME_EVERY = 128
MAX_REPLAYS = 8
READ_BYTES = 64 * 1024  # compressed bytes read at a time


@dataclass(frozen=True)
class _Keyframe:
    index: int  # the frame whose line comes next
    flat: dict  # the decoder's state before that line (never mutated: replay._apply copies)
    offset: int  # compressed bytes of the file consumed so far
    inflater: Any  # a copy of the zlib decompressor at that point
    pending: bytes  # decompressed bytes not yet split into lines


@dataclass
class _Index:
    key: tuple
    graph: list
    keys: list
    length: int
    keyframes: list[_Keyframe] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start_for(self, offset: int) -> _Keyframe:
        with self.lock:
            best = self.keyframes[0]
            for keyframe in self.keyframes:  # a few hundred at most
                if keyframe.index > offset:
                    break
                best = keyframe
            return best

    @property
    def last(self) -> int:
        return self.keyframes[-1].index

    def add(self, keyframe: _Keyframe) -> None:
        with self.lock:
            if keyframe.index > self.keyframes[-1].index:
                self.keyframes.append(keyframe)


def _file_key(path: os.PathLike | str) -> tuple:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ReplayFormatError(f"replay {path} does not exist") from None
    return (os.fspath(path), st.st_ino, st.st_size, st.st_mtime_ns)


def _lines(path: Any, offset: int, inflater: Any, pending: bytes) -> Iterator[tuple[bytes, int, Any, bytes]]:
    """(line, compressed offset, inflater, rest) for each line from a saved decoding position;
    the last three are where decoding stands after the line (inflater: the live one, copy it)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            buffer = pending
            while True:
                start = 0
                while (end := buffer.find(b"\n", start)) >= 0:
                    yield buffer[start:end + 1], offset, inflater, buffer[end + 1:]
                    start = end + 1
                buffer = buffer[start:]
                chunk = f.read(READ_BYTES)
                if not chunk:
                    buffer += inflater.flush()
                    if buffer:
                        raise ReplayFormatError(f"replay {path}: the last line is truncated")
                    if not inflater.eof:
                        raise ReplayFormatError(f"replay {path} is not a complete gzip file")
                    return
                offset += len(chunk)
                buffer += inflater.decompress(chunk)
    except zlib.error as exc:
        raise ReplayFormatError(f"replay {path} is not a complete gzip file: {exc}") from None


def _json(path: Any, number: int, line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError as exc:
        raise ReplayFormatError(f"replay {path}: line {number} is not JSON: {exc}") from None


class FrameCache:
    """Keyframe indexes of recently read replays (see the module doc). Thread-safe."""

    def __init__(self, max_replays: int = MAX_REPLAYS, keyframe_every: int = KEYFRAME_EVERY) -> None:
        self.max_replays, self.keyframe_every = max_replays, keyframe_every
        # frame lines decoded so far, what a page costs (a count, not a time: the tests compare
        # pages by it; bench api times them); unlocked, so concurrent readers may lose a few
        self.lines_decoded = 0
        self._indexes: OrderedDict[tuple, _Index] = OrderedDict()
        self._lock = threading.Lock()

    def page(self, path: os.PathLike | str, offset: int = 0, limit: int = 100) -> list[dict]:
        """Frames offset .. offset+limit-1 (fewer at the end), as read_frames gives them."""
        if limit <= 0:
            return []
        out = []
        for frame in self.iter(path, offset):
            out.append(frame)
            if len(out) >= limit:
                break
        return out

    def iter(self, path: os.PathLike | str, offset: int = 0) -> Iterator[dict]:
        """Frames offset, offset+1, ... to the end, as iter_frames gives them."""
        if offset < 0:
            raise ValueError("offset must be >= 0")
        index = self._index(path)
        if offset >= index.length:
            return
        start = index.start_for(offset)
        flat, position = start.flat, start.index  # position: the frame whose line comes next
        for line, consumed, inflater, rest in _lines(path, start.offset, start.inflater.copy(), start.pending):
            raw = _json(path, position + 2, line)
            self.lines_decoded += 1
            try:
                flat = fmt._apply(flat, raw["delta"])
                events = raw["events"]
            except (KeyError, TypeError, AttributeError) as exc:
                raise ReplayFormatError(f"replay {path}: line {position + 2} is not a frame: {exc!r}") from None
            state_events = events
            if "__state_events" in flat:  # belongs to this frame only
                flat = dict(flat)
                state_events = flat.pop("__state_events")
            position += 1
            if position % self.keyframe_every == 0 and position > index.last:
                index.add(_Keyframe(position, flat, consumed, inflater.copy(), rest))
            if position > offset:
                yield self._frame(flat, raw, events, state_events, position - 1, index)
        if position != index.length:
            raise ReplayFormatError(f"replay {path}: {position} frames, the header says {index.length}")

    @staticmethod
    def _frame(flat: dict, raw: dict, events: dict, state_events: Any, position: int, index: _Index) -> dict:
        """One frame, built as replay.iter_frames builds it."""
        return fmt.frame_record(position, raw, events, fmt._unflatten(flat, index.graph, state_events, index.keys))

    def _index(self, path: os.PathLike | str) -> _Index:
        key = _file_key(path)
        with self._lock:
            index = self._indexes.get(key)
            if index is not None:
                self._indexes.move_to_end(key)
                return index
        index = self._start(path, key)
        with self._lock:
            index = self._indexes.setdefault(key, index)
            self._indexes.move_to_end(key)
            while len(self._indexes) > self.max_replays:
                self._indexes.popitem(last=False)
        return index

    @staticmethod
    def _start(path: os.PathLike | str, key: tuple) -> _Index:
        """An index holding the first keyframe: just after the header line."""
        for line, consumed, inflater, rest in _lines(path, 0, zlib.decompressobj(16 + zlib.MAX_WBITS), b""):
            header = fmt._check_header(path, _json(path, 1, line))
            index = _Index(key, header["graph"], header["state_keys"], int(header["length"]))
            index.keyframes.append(_Keyframe(0, fmt._flat(header["initial_state"]), consumed, inflater.copy(), rest))
            return index
        raise ReplayFormatError(f"replay {path} is empty")
