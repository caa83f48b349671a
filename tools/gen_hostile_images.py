#!/usr/bin/env python3
"""Generates tests/hostile_images/: malformed PNG and JPEG files that must be rejected cleanly.

Writes one file per case plus EXPECTED.txt, one line per file:
    filename<TAB>reader<TAB>substring the error must contain
where reader is "image" (fg_image_read_file: the pixels) or "text" (fg_png_read_text_file:
the workflow text chunks). Run from the repository root: python3 tools/gen_hostile_images.py
Only the standard library is used and the output is deterministic, so re-running it leaves
the committed corpus unchanged.
"""
import os
import struct
import sys
import zlib

OUT = os.path.join("tests", "hostile_images")
SIG = b"\x89PNG\r\n\x1a\n"


# ---- PNG --------------------------------------------------------------------------------

def chunk(ctype: bytes, data: bytes, crc=None, length=None) -> bytes:
    c = zlib.crc32(ctype + data) if crc is None else crc
    n = len(data) if length is None else length
    return struct.pack(">I", n) + ctype + data + struct.pack(">I", c & 0xFFFFFFFF)


def ihdr(w=4, h=3, depth=8, ctype=2, interlace=0) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace))


def rgb_rows(w=4, h=3) -> bytes:
    return b"".join(b"\x00" + bytes((x * 40 + y * 7 + c) % 256 for x in range(w) for c in range(3)) for y in range(h))


def idat(raw: bytes) -> bytes:
    return chunk(b"IDAT", zlib.compress(raw, 9))


IEND = chunk(b"IEND", b"")


def png(*chunks: bytes) -> bytes:
    return SIG + b"".join(chunks)


def valid_png() -> bytes:
    return png(ihdr(), chunk(b"tEXt", b"prompt\x00{}"), idat(rgb_rows()), IEND)


def text_png(*text_chunks: bytes) -> bytes:
    return png(ihdr(), *text_chunks, idat(rgb_rows()), IEND)


def ztxt(key: bytes, raw: bytes, method=0) -> bytes:
    return chunk(b"zTXt", key + b"\x00" + bytes([method]) + raw)


def itxt(key: bytes, text: bytes, compressed=False, flag=None, method=0) -> bytes:
    body = zlib.compress(text) if compressed else text
    f = (1 if compressed else 0) if flag is None else flag
    return chunk(b"iTXt", key + b"\x00" + bytes([f, method]) + b"en\x00" + b"\x00" + body)


def bomb(size: int) -> bytes:
    return zlib.compress(b"A" * size, 9)


# ---- JPEG: a hand-assembled 64x64 grayscale baseline file ---------------------------------

def segment(marker: int, payload: bytes, length=None) -> bytes:
    n = len(payload) + 2 if length is None else length
    return struct.pack(">BBH", 0xFF, marker, n) + payload


def sof0(w=64, h=64, comps=1, precision=8) -> bytes:
    body = struct.pack(">BHHB", precision, h, w, comps)
    for i in range(comps):
        body += bytes([i + 1, 0x11, 0])
    return segment(0xC0, body)


def dqt() -> bytes:
    return segment(0xDB, b"\x00" + bytes([1] * 64))


def dht(table_class: int, symbols=b"\x00") -> bytes:
    counts = bytes([len(symbols)] + [0] * 15)  # one code of length 1 per symbol (just one)
    return segment(0xC4, bytes([table_class << 4]) + counts + symbols)


def sos() -> bytes:
    return segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")


# Each 8x8 block: DC difference category 0 (code "0"), then EOB (code "0"): two zero bits.
SCAN = bytes(64 * 2 // 8)
SOI, EOI = b"\xff\xd8", b"\xff\xd9"


def jpeg(sof=None, tables=True, scan=SCAN) -> bytes:
    head = SOI + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    if tables:
        head += dqt()
    head += sof0() if sof is None else sof
    if tables:
        head += dht(0) + dht(1)
    return head + sos() + scan + EOI


def cases():
    v = valid_png()
    idat_at = v.index(b"IDAT") - 4
    j = jpeg()
    sos_at = j.index(b"\xff\xda")
    yield "empty.png", b"", "image", "empty file"
    yield "garbage.png", b"this is not an image at all\n" * 4, "image", "not a PNG or JPEG"
    yield "signature_only.png", SIG, "image", "file is truncated"
    yield "truncated_ihdr.png", v[:20], "image", "file is truncated"
    yield "truncated_before_idat.png", v[:idat_at], "image", "file is truncated"
    yield "truncated_in_idat.png", v[:idat_at + 20], "image", "file is truncated"
    yield "bad_crc_ihdr.png", png(chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 3, 8, 2, 0, 0, 0), crc=1), idat(rgb_rows()), IEND), "image", "CRC error"
    yield "bad_crc_idat.png", png(ihdr(), chunk(b"IDAT", zlib.compress(rgb_rows()), crc=7), IEND), "image", "CRC error"
    yield "huge_width.png", png(ihdr(w=70000, h=1), idat(b"\x00" * 10), IEND), "image", "user limit"
    yield "huge_height.png", png(ihdr(w=1, h=1 << 30), idat(b"\x00" * 10), IEND), "image", "user limit"
    yield "too_many_pixels.png", png(ihdr(w=30000, h=30000), idat(b"\x00" * 10), IEND), "image", "pixel limit"
    # Decompression bombs: refused from the header, before any allocation (Pillow's limit is
    # 178,956,970 pixels); a 1-bit 16384^2 PNG is ~33 KB of zlib.
    rows = (b"\x00" + b"\x00" * 2048) * 16384
    yield "bomb_1bit_16384.png", png(ihdr(w=16384, h=16384, depth=1, ctype=0), idat(rows), IEND), "image", "pixel limit"
    yield "just_over_pillow_limit.png", png(ihdr(w=13378, h=13378), idat(b"\x00" * 10), IEND), "image", "pixel limit"
    yield "zero_width.png", png(ihdr(w=0, h=3), idat(rgb_rows()), IEND), "image", "width is zero"
    yield "zero_height.png", png(ihdr(w=4, h=0), idat(rgb_rows()), IEND), "image", "height is zero"
    yield "bad_bit_depth.png", png(ihdr(depth=3), idat(rgb_rows()), IEND), "image", "bit depth"
    yield "bad_color_type.png", png(ihdr(ctype=5), idat(rgb_rows()), IEND), "image", "color type"
    yield "bad_interlace.png", png(ihdr(interlace=2), idat(rgb_rows()), IEND), "image", "interlace"
    yield "no_idat.png", png(ihdr(), IEND), "image", "IEND: out of place"
    yield "idat_not_zlib.png", png(ihdr(), chunk(b"IDAT", b"\x12\x34\x56\x78" * 8), IEND), "image", "header"
    yield "idat_too_short.png", png(ihdr(), idat(rgb_rows()[:20]), IEND), "image", "Not enough image data"
    yield "bad_filter_type.png", png(ihdr(), idat(b"\x09" + rgb_rows()[1:]), IEND), "image", "filter"
    yield "palette_missing.png", png(ihdr(ctype=3), idat(b"\x00\x00\x00" * 3), IEND), "image", "PLTE"
    yield "first_chunk_not_ihdr.png", png(idat(rgb_rows()), ihdr(), IEND), "image", "IHDR"
    yield "chunk_length_huge.png", png(ihdr(), chunk(b"IDAT", b"\x00" * 8, length=0x7FFFFFF0)), "image", "file is truncated"
    yield "chunk_length_over_2g.png", png(ihdr(), chunk(b"IDAT", b"\x00" * 8, length=0x90000000)), "image", "out of range"
    yield "bad_chunk_type.png", png(ihdr(), chunk(b"ID@T", b"\x00"), idat(rgb_rows()), IEND), "image", "chunk type"
    # Text chunks (what the workflow reader sees).
    yield "text_sig_only.png", SIG, "text", "no IEND"
    yield "text_truncated.png", v[:idat_at + 10], "text", "truncated PNG"
    yield "text_no_iend.png", v[:-12], "text", "no IEND"
    yield "text_bad_crc.png", text_png(chunk(b"tEXt", b"prompt\x00{}", crc=5)), "text", "bad CRC"
    yield "text_first_not_ihdr.png", png(chunk(b"tEXt", b"prompt\x00{}"), ihdr(), idat(rgb_rows()), IEND), "text", "IHDR"
    yield "text_no_separator.png", text_png(chunk(b"tEXt", b"prompt{}")), "text", "keyword missing"
    yield "text_empty_keyword.png", text_png(chunk(b"tEXt", b"\x00{}")), "text", "empty keyword"
    yield "text_keyword_too_long.png", text_png(chunk(b"tEXt", b"k" * 80 + b"\x00{}")), "text", "longer than 79"
    yield "text_nul_in_value.png", text_png(chunk(b"tEXt", b"prompt\x00{}\x00{}")), "text", "NUL byte"
    yield "ztxt_bad_zlib.png", text_png(ztxt(b"workflow", b"\x78\x9c\xff\xff\xff\xff")), "text", "bad zlib data"
    yield "ztxt_truncated_stream.png", text_png(ztxt(b"workflow", zlib.compress(b"{" * 1000)[:12])), "text", "truncated zlib stream"
    yield "ztxt_bad_method.png", text_png(ztxt(b"workflow", zlib.compress(b"{}"), method=1)), "text", "compression method"
    yield "ztxt_bomb.png", text_png(ztxt(b"workflow", bomb(100 << 20))), "text", "decompression bomb"
    yield "ztxt_bombs_add_up.png", text_png(*[ztxt(b"k%d" % i, bomb(20 << 20)) for i in range(4)]), "text", "decompression bomb"
    yield "itxt_bomb.png", text_png(itxt(b"workflow", b"B" * (80 << 20), compressed=True)), "text", "decompression bomb"
    yield "itxt_bad_utf8.png", text_png(itxt(b"workflow", b"{\"a\": \"\xc3\x28\"}")), "text", "not valid UTF-8"
    yield "itxt_overlong_utf8.png", text_png(itxt(b"prompt", b"\xc0\xaf")), "text", "not valid UTF-8"
    yield "itxt_bad_utf8_compressed.png", text_png(itxt(b"workflow", b"\xed\xa0\x80", compressed=True)), "text", "not valid UTF-8"
    yield "itxt_bad_flag.png", text_png(itxt(b"workflow", b"{}", flag=2)), "text", "compression flag"
    yield "itxt_no_language_end.png", text_png(chunk(b"iTXt", b"workflow\x00\x00\x00en")), "text", "unterminated"
    yield "text_jpeg.jpg", j, "text", "carries no workflow"
    # JPEG.
    yield "jpeg_soi_only.jpg", b"\xff\xd8\xff", "image", "Premature end of JPEG file"
    yield "jpeg_truncated_header.jpg", j[:30], "image", "Premature end of JPEG file"
    yield "jpeg_truncated_scan.jpg", j[:sos_at + 14 + 4], "image", "Premature end of JPEG file"
    yield "jpeg_bogus_sof_length.jpg", jpeg(sof=segment(0xC0, struct.pack(">BHHB", 8, 64, 64, 1) + b"\x01\x11\x00", length=40)), "image", "Bogus marker length"
    yield "jpeg_zero_components.jpg", jpeg(sof=segment(0xC0, struct.pack(">BHHB", 8, 64, 64, 0))), "image", "JPEG"
    yield "jpeg_bad_precision.jpg", jpeg(sof=sof0(precision=7)), "image", "data precision"
    yield "jpeg_zero_width.jpg", jpeg(sof=sof0(w=0)), "image", "Empty JPEG image"
    yield "jpeg_huge.jpg", jpeg(sof=sof0(w=60000, h=60000)), "image", "exceeds the limit"
    yield "jpeg_scan_cannot_fill.jpg", jpeg(sof=sof0(w=12000, h=12000)), "image", "scan data ends before the image is filled"
    yield "jpeg_no_tables.jpg", jpeg(tables=False), "image", "JPEG"
    yield "jpeg_no_sof.jpg", SOI + dqt() + dht(0) + dht(1) + sos() + SCAN + EOI, "image", "JPEG"
    yield "jpeg_bad_huffman.jpg", SOI + dqt() + sof0() + segment(0xC4, b"\x00" + bytes([0, 200] + [0] * 14) + b"\x00" * 4) + sos() + SCAN + EOI, "image", "JPEG"
    yield "jpeg_garbage_after_soi.jpg", SOI + b"\xff" + b"\x00" * 64, "image", "JPEG"


def main():
    if not os.path.isdir("tests"):
        sys.exit("run from the repository root")
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    lines = []
    for name, data, reader, needle in cases():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        lines.append(f"{name}\t{reader}\t{needle}\n")
    with open(os.path.join(OUT, "EXPECTED.txt"), "w") as f:
        f.writelines(lines)
    print(f"wrote {len(lines)} files to {OUT}")


if __name__ == "__main__":
    main()
