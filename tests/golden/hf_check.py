#!/usr/bin/env python3
"""Cross-checks the golden model folders against Hugging Face `transformers`.

The golden references under tests/golden/{bert,gpt2,llama,marian} are written
by this project's own float64 PyTorch implementations (gen_*.py). This script
loads the same folders with the `transformers` model classes named in their
config.json, runs the recorded inputs in float64 and prints, for every
recorded output, the relative error ||hf - ref|| / ||ref|| and whether token
sequences agree. It needs `transformers` (not used by the test suite; run it
where it is installed):

    python3 tests/golden/hf_check.py [tests/golden] > tests/golden/hf_check.txt

Exit status 1 when any output differs by more than 1e-5 or any token differs.
"""
import glob
import json
import os
import struct
import sys

import numpy as np
import torch

DT = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64,
      "F16": np.float16}
TOL = 1e-5
failures = []


def load_st(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=DT[v["dtype"]]).reshape(v["shape"])
    return out


def relerr(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    den = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / (den if den else 1.0))


def report(name, what, hf, ref):
    e = relerr(hf, ref)
    ok = e <= TOL
    print("%-28s %-22s relerr %.2e %s" % (name, what, e, "ok" if ok else "MISMATCH"))
    if not ok:
        failures.append((name, what))


def report_tokens(name, what, hf, ref):
    same = list(hf) == list(ref)
    print("%-28s %-22s %s" % (name, what, "identical" if same else "DIFFER hf=%s ref=%s" % (list(hf), list(ref))))
    if not same:
        failures.append((name, what))


def load_model(folder):
    import transformers
    cfg = json.load(open(os.path.join(folder, "config.json")))
    arch = cfg["architectures"][0]
    cls = getattr(transformers, arch)
    model = cls.from_pretrained(folder, torch_dtype=torch.float64)
    return model.double().eval(), cfg


def check_bert(folder, ref_path):
    name = "bert/" + os.path.basename(folder)
    model, cfg = load_model(folder)
    ref = load_st(ref_path)
    distil = cfg["model_type"] == "distilbert"
    for part in ("single", "pair"):
        ids = torch.tensor(ref[part + "_input_ids"], dtype=torch.long)
        mask = torch.tensor(ref[part + "_attention_mask"], dtype=torch.long)
        kw = {"input_ids": ids, "attention_mask": mask, "output_hidden_states": True}
        if not distil:
            kw["token_type_ids"] = torch.tensor(ref[part + "_token_type_ids"], dtype=torch.long)
        with torch.no_grad():
            out = model(**kw)
        m = mask.unsqueeze(-1).double()
        hidden = out.hidden_states[-1]
        if part + "_hidden" in ref:
            # compare unpadded positions only: padded rows are unspecified
            sel = mask.bool()
            report(name, part + "_hidden", hidden[sel].numpy(), ref[part + "_hidden"][sel.numpy()])
        if part + "_pooler" in ref:
            pooled = getattr(out, "pooler_output", None)
            base = model.bert if hasattr(model, "bert") else model
            if pooled is None and getattr(base, "pooler", None) is not None:
                with torch.no_grad():
                    pooled = base.pooler(hidden)
            if pooled is None:  # e.g. BertForMaskedLM has no pooler layer
                print("%-28s %-22s (no pooler in %s)" % (name, part + "_pooler", type(model).__name__))
            else:
                report(name, part + "_pooler", pooled.numpy(), ref[part + "_pooler"])
        if part + "_mlm_logits" in ref:
            sel = mask.bool()
            report(name, part + "_mlm_logits", out.logits[sel].numpy(), ref[part + "_mlm_logits"][sel.numpy()])
        if part + "_cls_logits" in ref:
            report(name, part + "_cls_logits", out.logits.numpy(), ref[part + "_cls_logits"])
        if part + "_embed_mean" in ref:
            mean = (hidden * m).sum(1) / m.sum(1)
            report(name, part + "_embed_mean", mean.numpy(), ref[part + "_embed_mean"])


def check_decoder(folder, ref_path):
    name = os.path.basename(os.path.dirname(folder)) + "/" + os.path.basename(folder)
    model, cfg = load_model(folder)
    ref = load_st(ref_path)
    prompt = torch.tensor(ref["prompt_ids"], dtype=torch.long).unsqueeze(0)
    with torch.no_grad():
        logits = model(prompt).logits[0]
    report(name, "prompt_logits", logits.numpy(), ref["prompt_logits"])
    greedy = ref["greedy_ids"]
    with torch.no_grad():
        gen = model.generate(prompt, max_new_tokens=len(greedy), do_sample=False,
                             num_beams=1, eos_token_id=None, pad_token_id=0,
                             min_new_tokens=len(greedy))
    report_tokens(name, "greedy_ids", gen[0, prompt.shape[1]:].tolist(), greedy.tolist())
    # step logits: logits after each prompt+greedy prefix (teacher forced)
    full = torch.cat([prompt, torch.tensor(greedy, dtype=torch.long).unsqueeze(0)], 1)
    with torch.no_grad():
        all_logits = model(full).logits[0]
    n = len(greedy)
    p = prompt.shape[1]
    steps = ref["step_logits"]
    # step i is the logits of the token fed at position p+i-1 .. (align on count)
    cand = all_logits[p - 1:p - 1 + n].numpy()
    cand2 = all_logits[p:p + n].numpy()
    e1, e2 = relerr(cand, steps), relerr(cand2, steps)
    report(name, "step_logits", cand if e1 <= e2 else cand2, steps)


def check_marian(folder, ref_path):
    name = "marian/" + os.path.basename(folder)
    model, cfg = load_model(folder)
    ref = load_st(ref_path)
    if "src_ids" not in ref:
        print("%-28s (records text-level outputs only: %s)" % (name, ", ".join(sorted(ref))))
        return
    src = torch.tensor(ref["src_ids"], dtype=torch.long)
    mask = torch.tensor(ref["src_mask"], dtype=torch.long)
    if "tgt_ids" in ref:
        tgt = torch.tensor(ref["tgt_ids"], dtype=torch.long)
        with torch.no_grad():
            out = model(input_ids=src, attention_mask=mask, decoder_input_ids=tgt)
        report(name, "logits", out.logits.numpy(), ref["logits"])
    # the recorded searches: greedy; 3 beams, length penalty 1, HF's default
    # stopping; 4 beams, length penalty 0.6, early stopping (gen_marian.py)
    for key, beams, lpen, early in (("greedy", 1, 1.0, False), ("beam3", 3, 1.0, False),
                                    ("beam4", 4, 0.6, True)):
        if key + "_ids" not in ref:
            continue
        max_len = ref[key + "_ids"].shape[1]
        kw = {} if beams == 1 else {"length_penalty": lpen, "early_stopping": early}
        with torch.no_grad():
            gen = model.generate(input_ids=src, attention_mask=mask, num_beams=beams,
                                 do_sample=False, max_length=max_len + 1, **kw)
        for b in range(src.shape[0]):
            n = int(ref[key + "_len"][b])
            want = ref[key + "_ids"][b][:n].tolist()
            got = gen[b, 1:].tolist()  # drop the decoder start token
            pad = cfg.get("pad_token_id", 0)
            while got and got[-1] == pad and len(got) > n:
                got.pop()
            report_tokens(name, "%s_ids[%d]" % (key, b), got[:max(n, len(got))], want)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    import transformers
    print("transformers", transformers.__version__, "torch", torch.__version__)
    for ref_path in sorted(glob.glob(os.path.join(root, "*", "*.ref.safetensors"))):
        folder = ref_path[:-len(".ref.safetensors")]
        if not os.path.exists(os.path.join(folder, "config.json")):
            continue
        kind = os.path.basename(os.path.dirname(folder))
        cfg = json.load(open(os.path.join(folder, "config.json")))
        if "architectures" not in cfg:
            print("%-28s (no transformers class: %s)" % (kind + "/" + os.path.basename(folder),
                                                          cfg.get("model_type")))
            continue
        try:
            if kind == "bert":
                check_bert(folder, ref_path)
            elif kind in ("gpt2", "llama"):
                check_decoder(folder, ref_path)
            elif kind == "marian":
                check_marian(folder, ref_path)
        except Exception as e:  # report and go on with the other folders
            print("%-28s ERROR %s: %s" % (kind + "/" + os.path.basename(folder), type(e).__name__, e))
            failures.append((folder, "error"))
    print("%d mismatches" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
