#!/usr/bin/env python3
"""Runs ComfyUI's own FluxTokenizer over corpus.json and writes a tokenizer fixture.

usage: gen.py COMFYUI_SRC_DIR COMFYUI_COMMIT CORPUS_JSON OUT_SAFETENSORS OUT_JSON

Run by run.sh inside a throwaway virtualenv (transformers 5.x or 4.x). For every prompt of the
corpus: comfy.text_encoders.flux.FluxTokenizer.tokenize_with_weights(prompt) (clip_l and t5xxl
streams, ids and weights) and the plain HF tokenizers' input_ids of the whole prompt. The
output has the layout of tests/fixtures/golden/tokenizers.safetensors (tests/fixtures/README.md
section 2). Prompts ComfyUI rejects (it raises) are left out of the safetensors file and listed,
with the exception, in the JSON file."""
import hashlib
import json
import os
import sys
import tempfile
import traceback


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    src, commit, corpus_path, out_st, out_json = sys.argv[1:]
    src, corpus_path, out_st, out_json = (os.path.abspath(x) for x in (src, corpus_path, out_st, out_json))
    sys.path.insert(0, src)
    os.chdir(src)
    sys.argv = [sys.argv[0], "--cpu"]
    import comfy.options
    comfy.options.enable_args_parsing()
    import numpy as np
    import tokenizers
    import torch
    import transformers
    from safetensors.numpy import save_file
    import comfy.text_encoders.flux as flux

    with open(corpus_path, "rb") as f:
        corpus_bytes = f.read()
    corpus = json.loads(corpus_bytes)
    emb_dir = tempfile.mkdtemp(prefix="fxtok_embeddings_")  # empty: every embedding is missing
    tok = flux.FluxTokenizer(embedding_directory=[emb_dir])

    tensors, meta, rejected = {}, {}, []
    n = 0
    for ci, prompt in enumerate(corpus):
        try:
            r = tok.tokenize_with_weights(prompt)
        except Exception as e:  # ComfyUI fails on this prompt
            rejected.append({"corpus_index": ci, "prompt": prompt,
                             "error": "%s: %s" % (type(e).__name__, e),
                             "where": traceback.extract_tb(e.__traceback__)[-1].name})
            continue
        clip, t5 = r["l"], r["t5xxl"]
        p = "p%d" % n
        tensors[p + "_clip_ids"] = np.array([[t for t, _ in row] for row in clip], dtype=np.int32)
        tensors[p + "_clip_w"] = np.array([[w for _, w in row] for row in clip], dtype=np.float32)
        tensors[p + "_t5_ids"] = np.array([[t for t, _ in row] for row in t5], dtype=np.int32)
        tensors[p + "_t5_w"] = np.array([[w for _, w in row] for row in t5], dtype=np.float32)
        tensors[p + "_clip_raw"] = np.array(tok.clip_l.tokenizer(prompt)["input_ids"], dtype=np.int32)
        tensors[p + "_t5_raw"] = np.array(tok.t5xxl.tokenizer(prompt)["input_ids"], dtype=np.int32)
        meta[p] = json.dumps(prompt, ensure_ascii=True)
        n += 1
    meta["count"] = str(n)
    save_file(tensors, out_st, metadata=meta)

    info = {
        "comfyui_commit": commit,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "clip_tokenizer_class": type(tok.clip_l.tokenizer).__name__,
        "t5_tokenizer_class": type(tok.t5xxl.tokenizer).__name__,
        "corpus_sha256": hashlib.sha256(corpus_bytes).hexdigest(),
        "corpus_prompts": len(corpus),
        "fixture_prompts": n,
        "rejected": rejected,
    }
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump(info, f, ensure_ascii=True, indent=1)
        f.write("\n")
    print("%s: %d prompts (%d rejected), transformers %s, tokenizers %s" %
          (out_st, n, len(rejected), transformers.__version__, tokenizers.__version__))


if __name__ == "__main__":
    main()
