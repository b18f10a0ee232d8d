#!/usr/bin/python3
"""Golden data for the Hugging Face GPT-2 decoder (tests/golden/test_decoder*.c).

Implements the Hugging Face GPT2LMHeadModel forward pass (learned positions,
pre-norm LayerNorm with layer_norm_epsilon, gelu_new, Conv1D weights stored
[in, out], classifier tied to wte) in float64 PyTorch on parameters named
exactly as Hugging Face names them, for small random-weight models written as
real folders under tests/golden/gpt2/:

  tiny/           names without a prefix ("h.0.attn.c_attn.weight"), with a
                  small byte-level BPE tokenizer (vocab.json + merges.txt)
  tiny_prefixed/  names with "transformer." and the weights stored as F16

Outputs go to tests/golden/gpt2/NAME.ref.safetensors:

  prompt_ids     I32 [P]     the prompt
  prompt_logits  F32 [P, V]  logits of every prompt position (full sequence)
  greedy_ids     I32 [N]     greedy continuation (argmax, full recomputation)
  step_logits    F32 [N, V]  logits after feeding greedy_ids[i] at position P+i

Computed in float64 from the stored (rounded) weights, stored as F32.
Fixed seeds; run with /usr/bin/python3.
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import decoder_ref  # noqa: E402
import st  # noqa: E402

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gpt2")

MERGES = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "o n", "Ġ s", "r e", "Ġ w",
          "a t", "e n", "Ġ o", "o u", "i s", "Ġ b", "l l", "Ġ c", "Ġ h", "a n"]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def vocab():
    v = {}
    for ch in bytes_to_unicode():
        v[ch] = len(v)
    for m in MERGES:
        v[m.replace(" ", "")] = len(v)
    v["<|endoftext|>"] = len(v)
    return v


VOCAB = vocab()
CFG = {
    "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
    "n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 32, "n_ctx": 32,
    "vocab_size": len(VOCAB), "layer_norm_epsilon": 1e-5, "n_inner": None,
    "activation_function": "gelu_new", "bos_token_id": len(VOCAB) - 1,
    "eos_token_id": len(VOCAB) - 1, "torch_dtype": "float32",
}


def make_params(cfg, gen, dtype):
    D, L, V, T = cfg["n_embd"], cfg["n_layer"], cfg["vocab_size"], cfg["n_positions"]
    F = cfg["n_inner"] or 4 * D

    def r(*shape, s=0.2):
        return torch.randn(*shape, generator=gen) * s

    p = {"wte.weight": r(V, D, s=0.5), "wpe.weight": r(T, D, s=0.1)}
    for i in range(L):
        pre = "h.%d." % i
        p[pre + "ln_1.weight"] = 1.0 + r(D, s=0.1)
        p[pre + "ln_1.bias"] = r(D, s=0.1)
        p[pre + "attn.c_attn.weight"] = r(D, 3 * D)   # Conv1D: [in, out]
        p[pre + "attn.c_attn.bias"] = r(3 * D, s=0.1)
        p[pre + "attn.c_proj.weight"] = r(D, D)
        p[pre + "attn.c_proj.bias"] = r(D, s=0.1)
        p[pre + "ln_2.weight"] = 1.0 + r(D, s=0.1)
        p[pre + "ln_2.bias"] = r(D, s=0.1)
        p[pre + "mlp.c_fc.weight"] = r(D, F)
        p[pre + "mlp.c_fc.bias"] = r(F, s=0.1)
        p[pre + "mlp.c_proj.weight"] = r(F, D)
        p[pre + "mlp.c_proj.bias"] = r(D, s=0.1)
    p["ln_f.weight"] = 1.0 + r(D, s=0.1)
    p["ln_f.bias"] = r(D, s=0.1)
    # The values the file holds: the reference uses exactly these.
    return {k: torch.from_numpy(st.round_to(v.numpy(), dtype)) for k, v in p.items()}


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def forward(cfg, p, ids):
    """HF GPT2LMHeadModel logits [S, V] for ids [S], float64."""
    D, L, H = cfg["n_embd"], cfg["n_layer"], cfg["n_head"]
    E = D // H
    eps = cfg["layer_norm_epsilon"]
    S = len(ids)
    x = p["wte.weight"][torch.tensor(ids)] + p["wpe.weight"][:S]
    mask = torch.full((S, S), float("-inf")).triu(1)
    for i in range(L):
        pre = "h.%d." % i
        h = layer_norm(x, p[pre + "ln_1.weight"], p[pre + "ln_1.bias"], eps)
        qkv = h @ p[pre + "attn.c_attn.weight"] + p[pre + "attn.c_attn.bias"]
        q, k, v = qkv.split(D, dim=-1)
        q, k, v = (t.view(S, H, E).transpose(0, 1) for t in (q, k, v))
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(E) + mask, dim=-1) @ v
        a = a.transpose(0, 1).reshape(S, D)
        x = x + a @ p[pre + "attn.c_proj.weight"] + p[pre + "attn.c_proj.bias"]
        h = layer_norm(x, p[pre + "ln_2.weight"], p[pre + "ln_2.bias"], eps)
        h = gelu_new(h @ p[pre + "mlp.c_fc.weight"] + p[pre + "mlp.c_fc.bias"])
        x = x + h @ p[pre + "mlp.c_proj.weight"] + p[pre + "mlp.c_proj.bias"]
    x = layer_norm(x, p["ln_f.weight"], p["ln_f.bias"], eps)
    return x @ p["wte.weight"].T


def build(name, cfg, seed, prompt, n_gen, dtype="F32", prefix="", tokenizer=False):
    gen = torch.Generator().manual_seed(seed)
    p = make_params(cfg, gen, dtype)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    st.save(os.path.join(d, "model.safetensors"),
            {prefix + k: v.numpy() for k, v in p.items()}, dtype=dtype,
            metadata={"format": "pt"})
    if tokenizer:
        with open(os.path.join(d, "vocab.json"), "w") as f:
            json.dump(VOCAB, f, ensure_ascii=False)
        with open(os.path.join(d, "merges.txt"), "w") as f:
            f.write("#version: 0.2\n" + "\n".join(MERGES) + "\n")
    greedy = decoder_ref.save_greedy(os.path.join(OUT, name + ".ref.safetensors"),
                                     lambda ids: forward(cfg, p, ids), prompt, n_gen)
    print(name, "prompt", prompt, "greedy", greedy)


if __name__ == "__main__":
    build("tiny", CFG, 4321, [65, 258, 100, 3, 270, 44, 200, 12], 10, tokenizer=True)
    build("tiny_prefixed", CFG, 77, [276, 30, 31, 32], 6, dtype="F16", prefix="transformer.")
