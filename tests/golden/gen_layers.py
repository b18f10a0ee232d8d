#!/usr/bin/python3
"""Float64 PyTorch references for the layer API (tests/golden/test_layers.c).

Writes tests/golden/layers.safetensors: for each case "<case>.<name>" the
inputs and weights (stored f32; the references are computed from the values
rounded to f32) and the float64 outputs. Run with Debian's /usr/bin/python3
(torch 1.13); seeds are fixed, so the file is reproducible.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

torch.manual_seed(1234)
torch.set_default_dtype(torch.float64)
OUT = {}
DT = {}


def r32(t):
    """Values of t rounded to f32, kept in float64."""
    return t.detach().float().double()


def put(name, t, dtype="F32"):
    t = t.detach()
    if t.dtype == torch.bool:
        OUT[name] = t.to(torch.uint8).numpy()
        DT[name] = "U8"
    elif t.dtype in (torch.int32, torch.int64):
        OUT[name] = t.to(torch.int32).numpy()
        DT[name] = "I32"
    else:
        OUT[name] = t.numpy()
        DT[name] = dtype


def ref(name, t):
    put(name, t, "F64")


def randn(*shape, scale=1.0):
    return r32(torch.randn(*shape) * scale)


def randomize(module, scale=0.3):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(r32(torch.randn_like(p) * scale))
        for name, p in module.named_parameters():
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or \
                    name.endswith("norm3.weight"):
                p.copy_(r32(1.0 + torch.randn_like(p) * 0.1))


def put_params(prefix, module):
    for name, p in module.named_parameters():
        put(f"{prefix}.{name}", p)


def causal_float(n):
    return torch.triu(torch.full((n, n), float("-inf")), diagonal=1)


# ---- nn.MultiheadAttention: self-attention, fused in_proj, masks -----------------------
def mha_self():
    E, H, B, S = 16, 4, 2, 5
    m = nn.MultiheadAttention(E, H, dropout=0.0, bias=True, batch_first=True)
    randomize(m)
    x = randn(B, S, E)
    kpm = torch.zeros(B, S, dtype=torch.bool)
    kpm[1, 3:] = True
    am = randn(S, S, scale=0.5)
    out, w = m(x, x, x, key_padding_mask=kpm, attn_mask=am, need_weights=True,
               average_attn_weights=False)
    put_params("mha_self", m)
    put("mha_self.x", x)
    put("mha_self.kpm", kpm)
    put("mha_self.attn_mask", am)
    ref("mha_self.out", out)
    ref("mha_self.weights", w)
    # a boolean causal mask (True = not allowed), no padding
    bm = torch.triu(torch.ones(S, S, dtype=torch.bool), diagonal=1)
    out2, w2 = m(x, x, x, attn_mask=bm, need_weights=True, average_attn_weights=False)
    put("mha_self.bool_mask", bm)
    ref("mha_self.out_causal", out2)
    ref("mha_self.weights_causal", w2)


# ---- nn.MultiheadAttention: cross-attention with kdim/vdim ------------------------------
def mha_cross():
    E, H, B, Sq, Sk, KD, VD = 16, 2, 2, 3, 6, 12, 10
    m = nn.MultiheadAttention(E, H, dropout=0.0, bias=True, batch_first=True, kdim=KD, vdim=VD)
    randomize(m)
    q = randn(B, Sq, E)
    k = randn(B, Sk, KD)
    v = randn(B, Sk, VD)
    kpm = torch.zeros(B, Sk, dtype=torch.bool)
    kpm[0, 4:] = True
    out, w = m(q, k, v, key_padding_mask=kpm, need_weights=True, average_attn_weights=False)
    put_params("mha_cross", m)
    put("mha_cross.q", q)
    put("mha_cross.k", k)
    put("mha_cross.v", v)
    put("mha_cross.kpm", kpm)
    ref("mha_cross.out", out)
    ref("mha_cross.weights", w)


# ---- scaled dot-product attention with GQA, a per-batch float mask, ALiBi ------------------
def sdpa_gqa():
    B, H, HKV, Sq, Sk, D = 2, 4, 2, 3, 5, 8
    q = randn(B, H, Sq, D)
    k = randn(B, HKV, Sk, D)
    v = randn(B, HKV, Sk, D)
    mask = randn(B, 1, Sq, Sk, scale=0.5)
    mask[1, 0, 0, 1] = float("-inf")
    kk = k.repeat_interleave(H // HKV, dim=1)
    vv = v.repeat_interleave(H // HKV, dim=1)
    s = q @ kk.transpose(-1, -2) / math.sqrt(D) + mask
    causal = torch.ones(Sq, Sk, dtype=torch.bool).tril(diagonal=Sk - Sq)
    s = s.masked_fill(~causal, float("-inf"))
    p = torch.softmax(s, dim=-1)
    for n, t in (("q", q), ("k", k), ("v", v), ("mask", mask)):
        put("sdpa." + n, t)
    ref("sdpa.out", p @ vv)
    ref("sdpa.probs", p)


def alibi_slopes(n):
    def pow2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start ** i for i in range(n)]
    if math.log2(n).is_integer():
        return pow2(n)
    c = 2 ** math.floor(math.log2(n))
    return pow2(c) + alibi_slopes(2 * c)[0::2][:n - c]


def alibi():
    B, H, S, D = 1, 6, 5, 8
    q, k, v = randn(B, H, S, D), randn(B, H, S, D), randn(B, H, S, D)
    sl = torch.tensor(alibi_slopes(H))
    pos = torch.arange(S)
    bias = sl[:, None, None] * (pos[None, None, :] - pos[None, :, None]).double()
    s = q @ k.transpose(-1, -2) / math.sqrt(D) + bias + causal_float(S)
    p = torch.softmax(s, dim=-1)
    put("alibi.q", q)
    put("alibi.k", k)
    put("alibi.v", v)
    ref("alibi.slopes", sl)
    ref("alibi.out", p @ v)


# ---- encoder and decoder layers ----------------------------------------------------------
def enc_layer(name, norm_first, act):
    E, H, FF, B, S = 16, 4, 32, 2, 5
    m = nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, activation=act, batch_first=True,
                                   norm_first=norm_first)
    randomize(m)
    x = randn(B, S, E)
    kpm = torch.zeros(B, S, dtype=torch.bool)
    kpm[1, 3:] = True
    m.train(False)
    out = m(x, src_key_padding_mask=kpm)  # grad enabled: PyTorch's reference path
    put_params(name, m)
    put(name + ".x", x)
    put(name + ".kpm", kpm)
    ref(name + ".out", out)


def dec_layer(name, norm_first, act):
    E, H, FF, B, T, S = 16, 4, 32, 2, 4, 5
    m = nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, activation=act, batch_first=True,
                                   norm_first=norm_first)
    randomize(m)
    tgt = randn(B, T, E)
    mem = randn(B, S, E)
    mkpm = torch.zeros(B, S, dtype=torch.bool)
    mkpm[0, 3:] = True
    out = m(tgt, mem, tgt_mask=causal_float(T), memory_key_padding_mask=mkpm)
    put_params(name, m)
    put(name + ".tgt", tgt)
    put(name + ".mem", mem)
    put(name + ".mkpm", mkpm)
    ref(name + ".out", out)


# ---- positions ---------------------------------------------------------------------------
def sinusoids():
    D = 16
    # interleaved, "Attention Is All You Need" (PyTorch tutorial's PositionalEncoding)
    pos = torch.arange(3, 9).double()[:, None]
    div = torch.exp(torch.arange(0, D, 2).double() * (-math.log(10000.0) / D))
    pe = torch.zeros(6, D)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    ref("sin.interleaved_off3", pe)
    # Hugging Face Marian: sin half, cos half, w_i = 10000^(-2i/D)
    n = 7
    enc = np.array([[p / np.power(10000, 2 * (j // 2) / D) for j in range(D)] for p in range(n)])
    pe = torch.zeros(n, D)
    pe[:, : D // 2] = torch.tensor(np.sin(enc[:, 0::2]))
    pe[:, D // 2:] = torch.tensor(np.cos(enc[:, 1::2]))
    ref("sin.half", pe)
    # fairseq SinusoidalPositionalEmbedding.get_embedding, positions from 2
    half = D // 2
    e = math.log(10000) / (half - 1)
    e = torch.exp(torch.arange(half).double() * -e)
    e = torch.arange(2, 7).double()[:, None] * e[None, :]
    ref("sin.fairseq_off2", torch.cat([torch.sin(e), torch.cos(e)], dim=1))


def rope():
    B, S, H, D = 2, 5, 3, 8
    x = randn(B, S, H, D)
    put("rope.x", x)
    # pairs (llama2.c / Meta Llama: complex multiplication), theta 10000, offset 4
    fr = 1.0 / (10000.0 ** (torch.arange(0, D, 2).double() / D))
    ang = torch.arange(4, 4 + S).double()[:, None] * fr[None, :]
    xc = torch.view_as_complex(x.reshape(B, S, H, D // 2, 2).contiguous())
    rot = torch.polar(torch.ones_like(ang), ang)[None, :, None, :]
    ref("rope.pairs_off4", torch.view_as_real(xc * rot).reshape(B, S, H, D))
    # rotate_half (GPT-NeoX / HF Llama) over the first 6 dims, theta 500000, offset 0
    R = 6
    fr = 1.0 / (500000.0 ** (torch.arange(0, R, 2).double() / R))
    ang = torch.arange(S).double()[:, None] * fr[None, :]
    emb = torch.cat([ang, ang], dim=-1)[None, :, None, :]
    xr, xp = x[..., :R], x[..., R:]
    rh = torch.cat([-xr[..., R // 2:], xr[..., : R // 2]], dim=-1)
    ref("rope.half_rot6", torch.cat([xr * emb.cos() + rh * emb.sin(), xp], dim=-1))


def embed():
    V, P, T, D, B, S = 20, 10, 2, 8, 2, 4
    tok, pos, typ = randn(V, D), randn(P, D), randn(T, D)
    ids = torch.randint(0, V, (B, S), dtype=torch.int32)
    tids = torch.randint(0, T, (B, S), dtype=torch.int32)
    start = 3
    out = tok[ids.long()] + pos[start:start + S][None] + typ[tids.long()]
    for n, t in (("tokens", tok), ("positions", pos), ("types", typ), ("ids", ids),
                 ("type_ids", tids)):
        put("embed." + n, t)
    ref("embed.out_start3", out)


# ---- additive attention, feed-forward, norms -------------------------------------------------
def additive():
    B, Sq, Sk, DQ, DK, DV, A = 2, 3, 5, 6, 7, 4, 8
    q, k, v = randn(B, Sq, DQ), randn(B, Sk, DK), randn(B, Sk, DV)
    wq, wk, b, va = randn(A, DQ, scale=0.5), randn(A, DK, scale=0.5), randn(A), randn(A)
    kpm = torch.zeros(B, Sk, dtype=torch.bool)
    kpm[1, 3:] = True
    s = torch.tanh((q @ wq.T + b)[:, :, None, :] + (k @ wk.T)[:, None, :, :]) @ va
    s = s.masked_fill(kpm[:, None, :], float("-inf"))
    w = torch.softmax(s, dim=-1)
    for n, t in (("q", q), ("k", k), ("v", v), ("wq", wq), ("wk", wk), ("b", b), ("va", va),
                 ("kpm", kpm)):
        put("additive." + n, t)
    ref("additive.context", w @ v)
    ref("additive.weights", w)


def ffn():
    R, D, FF = 3, 8, 16
    x = randn(R, D)
    w1, b1, w2, b2, w3 = randn(FF, D, scale=0.5), randn(FF), randn(D, FF, scale=0.5), randn(D), \
        randn(FF, D, scale=0.5)
    for n, t in (("x", x), ("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2), ("w3", w3)):
        put("ffn." + n, t)
    lin1 = x @ w1.T + b1
    ref("ffn.relu", F.relu(lin1) @ w2.T + b2)
    ref("ffn.gelu", F.gelu(lin1) @ w2.T + b2)
    ref("ffn.gelu_tanh", F.gelu(lin1, approximate="tanh") @ w2.T + b2)
    # gated, no b1 (Llama's SwiGLU; GeGLU)
    g, u = x @ w1.T, x @ w3.T
    ref("ffn.swiglu", (F.silu(g) * u) @ w2.T + b2)
    ref("ffn.geglu", (F.gelu(g) * u) @ w2.T + b2)


def norms():
    R, D = 4, 12
    x, g, b = randn(R, D), randn(D), randn(D)
    put("norm.x", x)
    put("norm.g", g)
    put("norm.b", b)
    ref("norm.layer", F.layer_norm(x, (D,), g, b, eps=1e-5))
    ref("norm.rms", x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * g)


mha_self()
mha_cross()
sdpa_gqa()
alibi()
enc_layer("enc_post_relu", False, "relu")
enc_layer("enc_pre_gelu", True, "gelu")
dec_layer("dec_post_relu", False, "relu")
dec_layer("dec_pre_gelu", True, "gelu")
sinusoids()
rope()
embed()
additive()
ffn()
norms()

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layers.safetensors")
# Widest dtypes first, so every tensor's data is aligned to its element size.
SIZE = {"F64": 8, "F32": 4, "I32": 4, "U8": 1}
order = sorted(OUT, key=lambda n: -SIZE[DT[n]])
st.save(path, {n: OUT[n] for n in order}, dtypes=DT,
        metadata={"generator": "gen_layers.py", "version": "1"})
print(path, os.path.getsize(path), "bytes,", len(OUT), "tensors")
