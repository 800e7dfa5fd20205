"""Animated GIF files from RGB frames, with numpy and the standard library alone.

    write_gif("out.gif", frames, fps=4)       # frames: iterable of uint8 [H, W, 3]
    width, height, n_frames = gif_info(open("out.gif", "rb").read())

Each frame after the first stores only the rectangle that changed since the
previous one (the rest stays: disposal "do not dispose"), with a local colour
table of that rectangle's exact colours; a rectangle with more than 256
colours is quantized to a 6 x 7 x 6 colour cube. The pixels are LZW-coded as
GIF89a says (variable code size up to 12 bits, clear code when the table is
full). Meant for prospector.render's pictures (a few dozen flat colours).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable

import numpy as np


def _lzw(indices: bytes, min_code_size: int) -> bytes:
    """GIF's LZW code stream (not yet split into sub-blocks) of the colour indices."""
    clear, eoi = 1 << min_code_size, (1 << min_code_size) + 1
    code_size = min_code_size + 1
    next_code = eoi + 1
    table: dict[int, int] = {}
    out = bytearray()
    acc = 0
    nbits = 0

    def emit(code: int) -> None:
        nonlocal acc, nbits
        acc |= code << nbits
        nbits += code_size
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8

    emit(clear)
    it = iter(indices)
    w = next(it)
    for k in it:
        key = (w << 8) | k
        code = table.get(key)
        if code is not None:
            w = code
            continue
        emit(w)
        if next_code < 4096:
            table[key] = next_code
            next_code += 1
            # the decoder adds its entries one code later: it widens its codes when
            # its table reaches 2**code_size, which is when ours passes it
            if next_code > (1 << code_size) and code_size < 12:
                code_size += 1
        else:
            emit(clear)
            table.clear()
            code_size = min_code_size + 1
            next_code = eoi + 1
        w = k
    emit(w)
    emit(eoi)
    if nbits:
        out.append(acc & 0xFF)
    return bytes(out)


def _sub_blocks(data: bytes) -> bytes:
    parts = [bytes([len(data[i:i + 255])]) + data[i:i + 255] for i in range(0, len(data), 255)]
    return b"".join(parts) + b"\x00"


def _palette(rect: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(colours [k, 3] uint8, indices [h, w] uint8) of an RGB rectangle, k <= 256."""
    packed = (rect[..., 0].astype(np.uint32) << 16) | (rect[..., 1].astype(np.uint32) << 8) | rect[..., 2]
    colors, inverse = np.unique(packed.ravel(), return_inverse=True)
    if len(colors) > 256:  # quantize to a 6 x 7 x 6 cube (252 colours)
        levels = np.array([6, 7, 6])
        q = (rect.astype(np.uint32) * levels // 256).astype(np.uint32)
        packed = (q[..., 0] * 7 + q[..., 1]) * 6 + q[..., 2]
        colors, inverse = np.unique(packed.ravel(), return_inverse=True)
        r, g, b = colors // 42, (colors // 6) % 7, colors % 6
        rgb = np.stack([r * 255 // 5, g * 255 // 6, b * 255 // 5], axis=1).astype(np.uint8)
    else:
        rgb = np.stack([(colors >> 16) & 0xFF, (colors >> 8) & 0xFF, colors & 0xFF], axis=1).astype(np.uint8)
    return rgb, inverse.astype(np.uint8).reshape(rect.shape[:2])


def _frame(rect: np.ndarray, x: int, y: int, delay_cs: int) -> bytes:
    colors, indices = _palette(rect)
    bits = max(1, int(len(colors) - 1).bit_length())  # colour table of 2**bits entries
    table = np.zeros((1 << bits, 3), dtype=np.uint8)
    table[: len(colors)] = colors
    min_code_size = max(2, bits)
    h, w = indices.shape
    gce = b"\x21\xf9\x04" + bytes([1 << 2]) + struct.pack("<H", delay_cs) + b"\x00\x00"  # disposal 1
    descriptor = b"\x2c" + struct.pack("<HHHH", x, y, w, h) + bytes([0x80 | (bits - 1)])
    data = _lzw(indices.tobytes(), min_code_size)
    return gce + descriptor + table.tobytes() + bytes([min_code_size]) + _sub_blocks(data)


def encode_gif(frames: Iterable[np.ndarray], fps: float = 4.0, loop: int = 0) -> bytes:
    """The GIF file of the frames (uint8 [H, W, 3], all the same size); loop 0: forever."""
    delay = max(1, int(round(100.0 / fps)))
    parts: list[bytes] = []
    prev: np.ndarray | None = None
    for frame in frames:
        frame = np.ascontiguousarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 [H, W, 3], got {frame.dtype} {frame.shape}")
        if prev is None:
            h, w = frame.shape[:2]
            if not (1 <= h <= 65535 and 1 <= w <= 65535):
                raise ValueError(f"frame size {w}x{h} out of GIF's range")
            parts.append(b"GIF89a" + struct.pack("<HH", w, h) + b"\x00\x00\x00")  # no global table
            parts.append(b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", loop) + b"\x00")
            parts.append(_frame(frame, 0, 0, delay))
        else:
            if frame.shape != prev.shape:
                raise ValueError(f"frame size changed from {prev.shape} to {frame.shape}")
            changed = (frame != prev).any(axis=2)
            rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
            if len(rows) == 0:  # nothing changed: one unchanged pixel keeps the frame's time
                y0, y1, x0, x1 = 0, 1, 0, 1
            else:
                y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
            parts.append(_frame(frame[y0:y1, x0:x1], int(x0), int(y0), delay))
        prev = frame
    if prev is None:
        raise ValueError("no frames")
    parts.append(b"\x3b")
    return b"".join(parts)


def write_gif(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float = 4.0, loop: int = 0) -> int:
    """Write the frames as an animated GIF; returns the file size in bytes."""
    data = encode_gif(frames, fps=fps, loop=loop)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def gif_info(data: bytes) -> tuple[int, int, int]:
    """(width, height, number of frames) of a GIF file's bytes, from its block structure."""
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        raise ValueError("not a GIF file")
    width, height = struct.unpack("<HH", data[6:10])
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    frames = 0

    def skip_sub_blocks(p: int) -> int:
        while data[p]:
            p += data[p] + 1
        return p + 1

    while True:
        block = data[pos]
        if block == 0x3B:
            return width, height, frames
        if block == 0x21:  # extension: label, then sub-blocks
            pos = skip_sub_blocks(pos + 2)
        elif block == 0x2C:  # image: descriptor, local table, LZW minimum code size, sub-blocks
            frames += 1
            local = data[pos + 9]
            pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
            pos = skip_sub_blocks(pos + 1)
        else:
            raise ValueError(f"bad GIF block 0x{block:02x} at byte {pos}")
