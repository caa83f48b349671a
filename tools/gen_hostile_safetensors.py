#!/usr/bin/env python3
"""Generates tests/hostile/: malformed .safetensors files the reader must reject cleanly.

Writes one file per case plus EXPECTED.txt ("filename<TAB>substring the error must contain").
Run from the repository root: python3 tools/gen_hostile_safetensors.py
Only the standard library is used; the output is deterministic, so re-running it leaves the
committed corpus unchanged.
"""
import json
import os
import struct
import sys

OUT = os.path.join("tests", "hostile")


def frame(header: bytes, data: bytes = b"", length=None) -> bytes:
    """8-byte LE header length, header, data. `length` overrides the stored length."""
    n = len(header) if length is None else length
    return struct.pack("<Q", n) + header + data


def hjson(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def one(dtype="F32", shape=(2,), offsets=(0, 8), data=8, name="a"):
    """A file with a single tensor entry and `data` bytes of data."""
    return frame(hjson({name: entry(dtype, shape, offsets)}), bytes(data))


def raw(text: bytes, data: int = 8) -> bytes:
    return frame(text, bytes(data))


def valid_file() -> bytes:
    """Three tensors + metadata, header padded to 8 like the Python library; used for truncation."""
    hdr = hjson({
        "__metadata__": {"format": "pt"},
        "w": entry("BF16", (2, 3), (0, 12)),
        "b": entry("F32", (3,), (12, 24)),
        "s": entry("I64", (), (24, 32)),
    })
    hdr += b" " * (-len(hdr) % 8)
    return frame(hdr, bytes(range(32)))


def cases():
    good = valid_file()
    hlen = struct.unpack("<Q", good[:8])[0]
    F = "F32"
    c = [
        # framing
        ("empty", b"", "too short"),
        ("seven_bytes", b"\x02\x00\x00\x00\x00\x00\x00", "too short"),
        ("trunc_at_4", good[:4], "too short"),
        ("trunc_at_8", good[:8], "exceeds the file size"),
        ("trunc_mid_header", good[:8 + hlen // 2], "exceeds the file size"),
        ("trunc_header_end", good[:8 + hlen], "end past the data section"),
        ("trunc_mid_data", good[:8 + hlen + 13], "end past the data section"),
        ("trunc_last_byte", good[:-1], "end past the data section"),
        ("header_len_past_eof", frame(b"{}", b"", 1000), "exceeds the file size"),
        ("header_len_2p63", frame(b"{}", b"", 1 << 63), "exceeds the file size"),
        ("header_len_u64_max", frame(b"{}", b"", (1 << 64) - 1), "exceeds the file size"),
        ("header_len_zero", frame(b"", b"{}      "), "too small"),
        ("header_len_one", frame(b"{", b"}"), "too small"),
        # header syntax
        ("not_json", raw(b"hello, world"), "not valid JSON"),
        ("header_array", raw(b"[]"), "header is an array"),
        ("header_string", raw(b'"abc"'), "header is a string"),
        ("header_number", raw(b"42"), "header is an integer"),
        ("header_null", raw(b"null"), "header is null"),
        ("trailing_garbage", frame(hjson({"a": entry()}) + b"xyz", bytes(8)), "not valid JSON"),
        ("deep_nesting", raw(b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}"), "depth"),
        ("duplicate_names", raw(b'{"a":' + hjson(entry()) + b',"a":' + hjson(entry()) + b"}"), "duplicate"),
        ("invalid_utf8", raw(b'{"a\xff\xfe":' + hjson(entry()) + b"}"), "not valid JSON"),
        ("nul_byte", raw(b'{"a\x00b":' + hjson(entry()) + b"}"), "NUL byte"),
        ("escaped_nul_name", raw(b'{"a\\u0000b":' + hjson(entry()) + b"}"), "not valid JSON"),
        # dtype
        ("unknown_dtype", one(dtype="Q7"), "dtype 'Q7'"),
        ("unsupported_f64", one(dtype="F64", data=16), "dtype 'F64'"),
        ("lowercase_dtype", one(dtype="bf16", offsets=(0, 4), data=4), "dtype 'bf16'"),
        ("dtype_not_string", raw(hjson({"a": {"dtype": 5, "shape": [2], "data_offsets": [0, 8]}})),
         "dtype is an integer"),
        # shape
        ("shape_not_array", raw(hjson({"a": {"dtype": F, "shape": 2, "data_offsets": [0, 8]}})),
         "shape is an integer"),
        ("negative_dim", one(shape=(-2,)), "shape[0] is negative"),
        ("float_dim", raw(b'{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}'), "shape[0] is a real"),
        ("bool_dim", raw(b'{"a":{"dtype":"F32","shape":[true],"data_offsets":[0,8]}}'), "shape[0] is a boolean"),
        ("string_dim", raw(b'{"a":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}'), "shape[0] is a string"),
        ("dim_over_int64", raw(b'{"a":{"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,8]}}'),
         "not valid JSON"),
        ("six_dims", one(shape=(1, 1, 1, 1, 1, 2)), "6 dims"),
        ("shape_overflow", one(shape=(1 << 31, 1 << 31, 1 << 31)), "overflows"),
        # data_offsets
        ("offsets_one_element", one(offsets=(0,)), "data_offsets has 1 elements"),
        ("offsets_three_elements", one(offsets=(0, 8, 8)), "data_offsets has 3 elements"),
        ("offsets_not_array", raw(hjson({"a": {"dtype": F, "shape": [2], "data_offsets": "0-8"}})),
         "data_offsets is a string"),
        ("offset_negative", one(offsets=(-8, 0)), "data_offsets[0] is negative"),
        ("offset_real", raw(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}}'), "data_offsets[1] is a real"),
        ("offset_over_int64", raw(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}}'),
         "not valid JSON"),
        ("begin_gt_end", one(shape=(0,), offsets=(8, 0)), "begin > end"),
        ("end_past_data", one(shape=(4,), offsets=(0, 16), data=8), "end past the data section"),
        ("span_mismatch", one(dtype="BF16", shape=(3, 4), offsets=(0, 10), data=10),
         "span 10 bytes but BF16 [3, 4] needs 24"),
        ("overlap", frame(hjson({"a": entry(offsets=(0, 8)), "b": entry(offsets=(4, 12))}), bytes(12)),
         "tensor 'b': data_offsets [4, 12] overlap"),
        ("gap", frame(hjson({"a": entry(offsets=(0, 8)), "b": entry(offsets=(12, 20))}), bytes(20)),
         "tensor 'b': data_offsets [12, 20] leave a gap"),
        ("offsets_not_at_zero", one(offsets=(4, 12), data=12), "gap"),
        ("trailing_bytes", one(data=12), "trailing bytes"),
        ("zero_size_inside_tensor",
         frame(hjson({"a": entry(offsets=(0, 8)), "z": entry(shape=(0,), offsets=(4, 4))}), bytes(8)),
         "tensor 'z': data_offsets [4, 4] overlap"),
        ("same_tensor_twice_offsets",
         frame(hjson({"a": entry(offsets=(0, 8)), "b": entry(offsets=(0, 8))}), bytes(8)), "overlap"),
        # entries and metadata
        ("metadata_not_object", raw(hjson({"__metadata__": ["x"], "a": entry()})), "__metadata__ is an array"),
        ("metadata_value_not_string", raw(hjson({"__metadata__": {"k": 1}, "a": entry()})),
         "__metadata__ value of 'k' is an integer"),
        ("metadata_as_tensor", raw(hjson({"__metadata__": entry(), "a": entry()})), "__metadata__ value of"),
        ("entry_not_object", raw(hjson({"a": [1, 2]})), "tensor 'a': entry is an array"),
        ("entry_null", raw(hjson({"a": None})), "tensor 'a': entry is null"),
        ("missing_dtype", raw(hjson({"a": {"shape": [2], "data_offsets": [0, 8]}})), "missing field 'dtype'"),
        ("missing_shape", raw(hjson({"a": {"dtype": F, "data_offsets": [0, 8]}})), "missing field 'shape'"),
        ("missing_offsets", raw(hjson({"a": {"dtype": F, "shape": [2]}})), "missing field 'data_offsets'"),
        ("extra_field", raw(hjson({"a": dict(entry(), extra=1)})), "unknown field 'extra'"),
        ("empty_name", raw(hjson({"": entry()})), "empty tensor name"),
    ]
    return c


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".safetensors"):
            os.remove(os.path.join(OUT, f))
    lines = ["# generated by tools/gen_hostile_safetensors.py: filename<TAB>substring the error must contain"]
    names = set()
    for name, content, expect in cases():
        fname = name + ".safetensors"
        assert fname not in names, fname
        names.add(fname)
        with open(os.path.join(OUT, fname), "wb") as fh:
            fh.write(content)
        lines.append(f"{fname}\t{expect}")
    with open(os.path.join(OUT, "EXPECTED.txt"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {len(names)} files to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
