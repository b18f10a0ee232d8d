#!/usr/bin/python3
"""Compares the C library's translations of the held-out set with PyTorch's.

usage: check_c.py TFM_BINARY MODEL_DIR [REFERENCE_JSON] [--only greedy|beam]
Reads REFERENCE_JSON (default MODEL_DIR/heldout_pytorch.json, written by
train.py: the source ids and the PyTorch greedy and beam outputs), runs `tfm translate MODEL_DIR --ids
... --json` in batches for greedy and beam search, and reports how many
translations agree token for token. Exit status 0 when all do.
"""
import json
import subprocess
import sys


def run(tfm, model, srcs, beam, max_len):
    out = []
    for c in range(0, len(srcs), 32):
        args = [tfm, "translate", model, "--ids", "--json", "--beam", str(beam),
                "--max-length", str(max_len)]
        args += [" ".join(map(str, s)) for s in srcs[c:c + 32]]
        r = subprocess.run(args, capture_output=True, text=True, check=True)
        out += [t["ids"] for t in json.loads(r.stdout)["translations"]]
    return out


def main():
    args, only = sys.argv[1:], None
    if "--only" in args:
        i = args.index("--only")
        only = args[i + 1]
        del args[i: i + 2]
    tfm, model = args[:2]
    path = args[2] if len(args) > 2 else model + "/heldout_pytorch.json"
    ref = json.load(open(path))
    srcs, T = ref["source_ids"], ref["max_length"]
    ok = True
    for name, beam in (("greedy", 1), ("beam", ref["beam_size"])):
        if not ref[name] or (only and only != name):
            continue
        got = run(tfm, model, srcs, beam, T)
        same = sum(a == b for a, b in zip(got, ref[name]))
        print("%s: %d of %d identical" % (name, same, len(srcs)))
        for i, (a, b) in enumerate(zip(got, ref[name])):
            if a != b and same + 3 > len(srcs):
                print("  sentence %d: C %s\n              PyTorch %s" % (i, a, b))
        ok = ok and same == len(srcs)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
