#!/usr/bin/env python3
"""Writes the generated seeds of the fuzz targets into OUT/<target>/: the
test data's tokenizer files, configs and weights in the layout each target
reads (a selector byte first where the target takes one), and small
llama2.c checkpoints and tokenizer.bin files made here with fixed values.
The committed corpora (tests/fuzz/corpus/) hold hand-made and crash
inputs; these are made from tests/golden at each run instead of being
copied into the repository. Standard library only.

    python3 tests/fuzz/seeds.py OUT
"""
import os
import random
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(ROOT, "tests", "golden")
# The HF folders of tests/model_step.h, in its order (the selector byte).
FOLDERS = ["llama/tiny_tied", "gpt2/tiny", "bert/bert_f16", "bert/distilbert_mlm",
           "marian/marian_tiny", "marian/transformer_tiny"]


def read(*parts):
    with open(os.path.join(GOLDEN, *parts), "rb") as f:
        return f.read()


def floats(rng, n):
    return struct.pack("<%df" % n, *[rng.uniform(-0.5, 0.5) for _ in range(n)])


def llama2c(rng, version, dim=8, hidden=16, layers=1, heads=2, kv=2, vocab=32, seq=8,
            shared=True):
    e = dim // heads
    kvd = kv * e
    per_layer = 2 * dim + 2 * dim * dim + 2 * kvd * dim + 3 * hidden * dim
    if version == 0:
        head = struct.pack("<7i", dim, hidden, layers, heads, kv, vocab if shared else -vocab,
                           seq)
        n = vocab * dim + layers * per_layer + dim + seq * e
    else:
        head = struct.pack("<Ii7iB", 0x616b3432, 1, dim, hidden, layers, heads, kv, vocab, seq,
                           1 if shared else 0)
        head += b"\0" * (256 - len(head))
        n = vocab * dim + layers * per_layer + dim
    if not shared:
        n += vocab * dim
    return head + floats(rng, n)


def tokbin(extra=(), max_len=16):
    out = struct.pack("<i", max_len)
    pieces = ["<unk>", "\n<s>\n", "\n</s>\n"] + ["<0x%02X>" % i for i in range(256)]
    pieces += [chr(ord("a") + i) for i in range(26)] + list(extra)
    for i, p in enumerate(pieces):
        b = p.encode()
        out += struct.pack("<fi", -float(i % 7), len(b)) + b
    return out


def main(out):
    rng = random.Random(1234)
    seeds = {
        "tokbin": {"bytes": tokbin(), "merges": tokbin(["\u2581t", "he", "\u2581the", "in"]),
                   "long_piece": tokbin(["x" * 16])},
        "vocab_txt": {"bert": read("bert", "bert_mlm", "vocab.txt") + b"\0" +
                      read("bert", "bert_mlm", "tokenizer_config.json"),
                      "no_config": read("bert", "bert_mlm", "vocab.txt")},
        "bpe": {"gpt2": read("gpt2", "tiny", "vocab.json") + b"\0" +
                read("gpt2", "tiny", "merges.txt")},
        "llama2c": {"v0": llama2c(rng, 0), "v0_unshared": llama2c(rng, 0, shared=False),
                    "v1": llama2c(rng, 1), "v1_gqa": llama2c(rng, 1, heads=4, kv=2, dim=16)},
        "config": {}, "folder": {},
    }
    for k, d in enumerate(FOLDERS):
        name = d.replace("/", "_")
        seeds["config"][name] = bytes([k]) + read(d, "config.json")
        seeds["folder"][name] = bytes([k]) + read(d, "model.safetensors")
    for target, files in seeds.items():
        os.makedirs(os.path.join(out, target), exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(out, target, "seed_" + name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
