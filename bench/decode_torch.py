#!/usr/bin/python3
"""GPT-2 generation speed in plain PyTorch, for bench/decode.

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/decode_torch.py \
        --model DIR [--threads 1] [--prompt 128] [--gen 32] [--reps 5]

DIR is the Hugging Face GPT-2 folder bench/decode writes (config.json,
model.safetensors, read here with tests/golden/st.py). The forward pass is
Hugging Face's GPT-2 written out in torch (float32, eager, inference mode):
learned positions, pre-norm LayerNorm, Conv1D weights [in, out] used with
addmm, tanh GELU, causal attention over a preallocated KV cache, the
classifier tied to wte; only the last position's logits are computed, as
libtransformer's session does. The same procedure as bench/decode: the
prompt as one batch, then --gen greedy steps; one warm-up, then the median
of --reps runs. Prints one line:

    torch prefill_tps=... decode_tps=... next=ID

(next: the greedy token after the prompt, which bench/decode compares with
its own). With --serve (how bench/decode runs it) it prints "ready" once
loaded, then one such line per "run [GEN]" line on stdin, until EOF.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time
import warnings

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "golden"))
import st  # noqa: E402

# The weights are read-only views of the file's bytes, never written.
warnings.filterwarnings("ignore", message="The given NumPy array is not writable")


class GPT2:
    def __init__(self, folder, max_len):
        with open(os.path.join(folder, "config.json")) as f:
            cfg = json.load(f)
        self.D = cfg["n_embd"]
        self.L = cfg["n_layer"]
        self.H = cfg["n_head"]
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)
        w = {k: torch.from_numpy(v) for k, v in st.load(os.path.join(folder, "model.safetensors")).items()}
        self.w = {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in w.items()}
        E = self.D // self.H
        self.k = torch.zeros(self.L, self.H, max_len, E)
        self.v = torch.zeros(self.L, self.H, max_len, E)
        self.pos = 0

    def forward(self, ids):
        """Runs ids (a list) at positions pos.., appends to the cache and
        returns the logits of the last one."""
        w, D, H, T = self.w, self.D, self.H, len(ids)
        E, p0 = D // H, self.pos
        x = w["wte.weight"][ids] + w["wpe.weight"][p0:p0 + T]
        mask = None
        if T > 1:
            mask = torch.full((T, p0 + T), float("-inf")).triu(p0 + 1)
        for layer in range(self.L):
            n = "h.%d." % layer
            h = F.layer_norm(x, (D,), w[n + "ln_1.weight"], w[n + "ln_1.bias"], self.eps)
            qkv = torch.addmm(w[n + "attn.c_attn.bias"], h, w[n + "attn.c_attn.weight"])
            q, k, v = qkv.split(D, dim=1)
            q = q.view(T, H, E).transpose(0, 1)
            self.k[layer, :, p0:p0 + T] = k.view(T, H, E).transpose(0, 1)
            self.v[layer, :, p0:p0 + T] = v.view(T, H, E).transpose(0, 1)
            kk = self.k[layer, :, :p0 + T]
            vv = self.v[layer, :, :p0 + T]
            a = torch.matmul(q, kk.transpose(1, 2)) / math.sqrt(E)
            if mask is not None:
                a = a + mask
            a = torch.softmax(a, dim=-1)
            y = torch.matmul(a, vv).transpose(0, 1).reshape(T, D)
            x = x + torch.addmm(w[n + "attn.c_proj.bias"], y, w[n + "attn.c_proj.weight"])
            h = F.layer_norm(x, (D,), w[n + "ln_2.weight"], w[n + "ln_2.bias"], self.eps)
            h = F.gelu(torch.addmm(w[n + "mlp.c_fc.bias"], h, w[n + "mlp.c_fc.weight"]),
                       approximate="tanh")
            x = x + torch.addmm(w[n + "mlp.c_proj.bias"], h, w[n + "mlp.c_proj.weight"])
        h = F.layer_norm(x[-1:], (D,), w["ln_f.weight"], w["ln_f.bias"], self.eps)
        self.pos += T
        return F.linear(h, w["wte.weight"])[0]


def one_run(m, prompt, gen):
    """The prompt as one batch, then gen greedy steps: (prefill tok/s,
    decode tok/s, the greedy token after the prompt)."""
    m.pos = 0
    t0 = time.perf_counter()
    first = tok = int(m.forward(prompt).argmax())
    t1 = time.perf_counter()
    for _ in range(gen):
        tok = int(m.forward([tok]).argmax())
    t2 = time.perf_counter()
    return len(prompt) / (t1 - t0), gen / (t2 - t1), first


def report(pre, dec, first):
    print("torch prefill_tps=%.3f decode_tps=%.3f next=%d" % (pre, dec, first), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--gen", type=int, default=32)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--serve", action="store_true",
                    help="print 'ready', then one run (one result line) per 'run [GEN]' line "
                         "read from stdin, until EOF (bench/decode interleaves its runs so)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    m = GPT2(a.model, a.prompt + a.gen + 1)
    V = m.w["wte.weight"].shape[0]
    prompt = [(i * 7919 + 13) % V for i in range(a.prompt)]  # as bench/decode
    with torch.inference_mode():
        if a.serve:
            print("ready", flush=True)
            for line in sys.stdin:
                words = line.split()
                if not words or words[0] != "run":
                    break
                gen = int(words[1]) if len(words) > 1 else a.gen
                report(*one_run(m, prompt, min(gen, a.gen)))
            return
        one_run(m, prompt, 2)  # warm-up
        runs = [one_run(m, prompt, a.gen) for _ in range(a.reps)]
    report(statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
           runs[0][2])


if __name__ == "__main__":
    main()
