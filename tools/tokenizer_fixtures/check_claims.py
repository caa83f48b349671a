#!/usr/bin/env python3
"""Checks, against the real libraries, each tokenizer rule docs/tokenizers.md relies on.

usage: check_claims.py COMFYUI_SRC_DIR     (run with a virtualenv made by run.sh)

Prints one line per claim: "ok" or "DIFFERS" with what the library did. The claims depend on
the transformers major version of the interpreter; both sets are listed."""
import os
import sys


def main():
    src = os.path.abspath(sys.argv[1])
    sys.path.insert(0, src)
    os.chdir(src)
    sys.argv = [sys.argv[0], "--cpu"]
    import comfy.options
    comfy.options.enable_args_parsing()
    import transformers
    import comfy.text_encoders.flux as flux

    v5 = transformers.__version__.split(".")[0] == "5"
    tok = flux.FluxTokenizer(embedding_directory=[])
    clip = lambda s: tok.clip_l.tokenizer(s)["input_ids"][1:-1]
    t5 = lambda s: tok.t5xxl.tokenizer(s)["input_ids"][:-1]
    t5p = lambda s: tok.t5xxl.tokenizer.convert_ids_to_tokens(t5(s))

    def comfy_clip(s):  # ComfyUI's first CLIP chunk without bos, eos and padding
        row = [t for t, _ in tok.tokenize_with_weights(s)["l"][0]][1:]
        return row[:row.index(49407)]
    claims = [
        # (versions, description, got, expected)
        ("both", "special token cut out after punctuation", clip("x,<|endoftext|>")[-1], 49407),
        ("both", "ComfyUI has no </w> shortcut: 'Q' is tokenized like 'q'", comfy_clip("Q"), clip("q")),
        ("both", "ComfyUI has no </w> shortcut: '(A)' is tokenized like 'a'", comfy_clip("(A)"), clip("a")),
        ("both", "charsmap per grapheme cluster: a+U+0308+U+0301 -> ä", t5p("a\u0308\u0301"), ["▁", "ä"]),
        ("both", "T5 specials are case-sensitive: '</S>' is text", 1 in t5("</S>"), False),
        ("4", "CJK split: 日本 = 日 + 本", clip("日本"), clip("日") + clip("本")),
        ("4", "ZWJ dropped", clip("a\u200db"), clip("ab")),
        ("4", "final sigma (ΑΣ -> ας)", clip("ΑΣ"), clip("ας")),
        ("4", "<|ENDOFTEXT|> -> 49407 (lower-cased, BPE cache)", clip("<|ENDOFTEXT|>"), [49407]),
        ("4", "T5: no ▁ after a special token", t5p("hello</s>world")[-1], "world"),
        ("4", "T5: U+0085 is not whitespace (unk)", 2 in t5("x\x85y"), True),
        ("5", "no CJK split: 日本 is one pre-token", clip("日本") != clip("日") + clip("本"), True),
        ("5", "ZWJ kept (byte-encoded)", clip("a\u200db") != clip("ab"), True),
        ("5", "NUL, U+FFFD, private use, unassigned kept", all(clip(c) for c in "\x00\ufffd\ue000\u0378"), True),
        ("5", "White_Space runs (VT FF U+0085 NBSP U+2028 U+3000) -> one space",
         clip("a\x0b\x0c\x85\xa0\u2028\u3000b"), clip("a b")),
        ("5", "no final sigma (ΑΣ -> ασ)", clip("ΑΣ"), clip("ασ")),
        ("5", "<|endoftext|> case-sensitive: <|ENDOFTEXT|> is text", 49407 in clip("<|ENDOFTEXT|>"), False),
        ("5", "<|startoftext|> after normalisation: <|STARTOFTEXT|> -> 49406", clip("<|STARTOFTEXT|>"), [49406]),
        ("5", "T5: ▁ after a special token", t5p("hello</s>world"), ["▁hello", "</s>", "▁world"]),
        ("5", "T5: U+0085 is whitespace", t5("x\x85y"), t5("x y")),
    ]
    bad = 0
    for versions, what, got, want in claims:
        if versions not in ("both", "5" if v5 else "4"):
            continue
        ok = got == want
        bad += not ok
        print("%-8s transformers %s: %s%s" % ("ok" if ok else "DIFFERS", transformers.__version__, what,
                                           "" if ok else "  (got %r, expected %r)" % (got, want)))
    try:
        tok.tokenize_with_weights("a embedding:")
        print("DIFFERS  'embedding:' with no name was accepted")
        bad += 1
    except IndexError:
        print("ok       transformers %s: 'embedding:' with no name fails (IndexError)" % transformers.__version__)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
