"""The demo's evidence: small real pictures (PNG, made with zlib and struct), a few hundred
bytes each, under the names a cadre's phone photos get when they are filed.

Each picture is a little scene (sky, a wall, a roof, the ground) with a grain drawn from its
own seed, so every step's photos are distinct files with distinct SHA-256.
"""

from __future__ import annotations

import random
import struct
import zlib

WIDTH, HEIGHT = 32, 24
SIGNATURE = b"\x89PNG\r\n\x1a\n"

AFTER = {"housing_safety": "屋顶修缮后.png"}
"""The photo taken after the work, by the issue's category (the picture is of a house)."""
AFTER_OTHERWISE = "整改后照片.png"
BEFORE = "整改前照片.png"


def names(category: str) -> tuple[str, str]:
    """The file names of a step's two photos: before and after the work."""
    return BEFORE, AFTER.get(category, AFTER_OTHERWISE)


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png(width: int, height: int, rows: list[bytes]) -> bytes:
    """A PNG (8-bit RGB, no interlace) of `rows`, each `width` × 3 bytes."""
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 on every scanline
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9))
            + _chunk(b"IEND", b""))


def photo(seed: str, mended: bool) -> bytes:
    """A little scene, its grain from `seed`: a roof in good repair when `mended`, else one
    with a gap."""
    rng = random.Random(seed)
    rows = []
    for y in range(HEIGHT):
        row = bytearray()
        for x in range(WIDTH):
            if y < 6:
                colour = (120 + y * 8, 170 + y * 5, 230)  # sky
            elif y < 11 and abs(x - WIDTH // 2) <= (y - 5) * 3:
                gap = not mended and 12 <= x <= 15 and y in (8, 9)
                colour = (40, 40, 45) if gap else (150, 60, 40)  # roof
            elif y < 19:
                door = 13 <= x <= 17 and y >= 13
                colour = (110, 80, 50) if door else (220, 210, 190)  # the wall, its door
            else:
                colour = (90, 120, 60)  # ground
            if rng.random() < 0.08:  # the grain
                shade = rng.randint(0, 40)
                row += bytes(max(0, c - shade) for c in colour)
            else:
                row += bytes(colour)
        rows.append(bytes(row))
    return png(WIDTH, HEIGHT, rows)
