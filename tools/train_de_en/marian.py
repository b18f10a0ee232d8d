"""A Marian-layout encoder-decoder in PyTorch for training, with the exact
Hugging Face MarianMTModel parameter names, its export to a Marian folder,
and the greedy and beam searches of libtransformer (the rules of the
Translation section of include/transformer.h).

The state_dict names are HF's: model.shared.weight, final_logits_bias,
model.{encoder,decoder}.layers.N.{self_attn.{q,k,v,out}_proj, self_attn_layer_norm,
encoder_attn.*, encoder_attn_layer_norm, fc1, fc2, final_layer_norm}.
Positions are the static sinusoids of MarianSinusoidalPositionalEmbedding
(sines first, cosines second), embeddings are scaled by sqrt(d_model),
layers are post-norm with swish, and the classifier is tied to the
embeddings plus final_logits_bias.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "golden"))
import beam_rules  # noqa: E402  (the search rules the golden generator uses too)
import st  # noqa: E402  (the project's safetensors writer)


def sinusoids(n_pos, dim):
    pe = np.array([[p / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)]
                   for p in range(n_pos)])
    out = np.zeros((n_pos, dim))
    out[:, : dim // 2] = np.sin(pe[:, 0::2])
    out[:, dim // 2:] = np.cos(pe[:, 1::2])
    return torch.tensor(out, dtype=torch.float32)


class Attention(nn.Module):
    def __init__(self, d, h, drop):
        super().__init__()
        self.h, self.drop = h, drop
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)

    def forward(self, x, kv, mask):
        B, S, D = x.shape
        T = kv.shape[1]
        E = D // self.h
        q = (self.q_proj(x) * E ** -0.5).view(B, S, self.h, E).transpose(1, 2)
        k = self.k_proj(kv).view(B, T, self.h, E).transpose(1, 2)
        v = self.v_proj(kv).view(B, T, self.h, E).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) + mask, dim=-1)
        a = F.dropout(a, self.drop, self.training)
        return self.out_proj((a @ v).transpose(1, 2).reshape(B, S, D)), a


class Layer(nn.Module):
    def __init__(self, d, h, f, drop, decoder):
        super().__init__()
        self.drop = drop
        self.self_attn = Attention(d, h, drop)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        if decoder:
            self.encoder_attn = Attention(d, h, drop)
            self.encoder_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, f)
        self.fc2 = nn.Linear(f, d)
        self.final_layer_norm = nn.LayerNorm(d)

    def forward(self, x, mask, mem=None, mem_mask=None):
        d = lambda t: F.dropout(t, self.drop, self.training)  # noqa: E731
        a, _ = self.self_attn(x, x, mask)
        x = self.self_attn_layer_norm(x + d(a))
        cross = None
        if mem is not None:
            a, cross = self.encoder_attn(x, mem, mem_mask)
            x = self.encoder_attn_layer_norm(x + d(a))
        h = self.fc2(d(F.silu(self.fc1(x))))
        return self.final_layer_norm(x + d(h)), cross


class Stack(nn.Module):
    def __init__(self, n, d, h, f, drop, decoder):
        super().__init__()
        self.layers = nn.ModuleList([Layer(d, h, f, drop, decoder) for _ in range(n)])


class Inner(nn.Module):
    def __init__(self, c, drop):
        super().__init__()
        self.shared = nn.Embedding(c["vocab_size"], c["d_model"])
        self.encoder = Stack(c["encoder_layers"], c["d_model"], c["encoder_attention_heads"],
                             c["encoder_ffn_dim"], drop, False)
        self.decoder = Stack(c["decoder_layers"], c["d_model"], c["decoder_attention_heads"],
                             c["decoder_ffn_dim"], drop, True)


class Marian(nn.Module):
    def __init__(self, c, drop=0.1):
        super().__init__()
        self.c = c
        self.drop = drop
        self.model = Inner(c, drop)
        self.final_logits_bias = nn.Parameter(torch.zeros(1, c["vocab_size"]))
        self.register_buffer("pos", sinusoids(c["max_position_embeddings"], c["d_model"]),
                             persistent=False)
        self.scale = math.sqrt(c["d_model"])
        nn.init.normal_(self.model.shared.weight, std=c["d_model"] ** -0.5)

    def embed(self, ids, start=0):
        x = self.model.shared(ids) * self.scale + self.pos[start:start + ids.shape[1]]
        return F.dropout(x, self.drop, self.training)

    def encode(self, src, src_pad):
        """src [B, S]; src_pad [B, S] bool (True = padding) -> memory [B, S, D]."""
        mask = torch.zeros(src_pad.shape, dtype=torch.float32, device=src.device)
        mask = mask.masked_fill(src_pad, float("-inf"))[:, None, None, :]
        x = self.embed(src)
        for l in self.model.encoder.layers:
            x, _ = l(x, mask)
        return x

    def decode(self, tgt, mem, src_pad):
        """tgt [B, T] (starting with the start token) -> logits [B, T, V] and the
        last layer's cross-attention [B, H, T, S]."""
        T = tgt.shape[1]
        causal = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)[None, None]
        mm = torch.zeros(src_pad.shape).masked_fill(src_pad, float("-inf"))[:, None, None, :]
        y = self.embed(tgt)
        cross = None
        for l in self.model.decoder.layers:
            y, cross = l(y, causal, mem, mm)
        return y @ self.model.shared.weight.T + self.final_logits_bias[0], cross


def config(vocab, pad, d=256, layers=3, heads=4, ffn=1024, max_pos=256):
    return dict(
        model_type="marian", architectures=["MarianMTModel"], d_model=d, encoder_layers=layers,
        decoder_layers=layers, encoder_attention_heads=heads, decoder_attention_heads=heads,
        encoder_ffn_dim=ffn, decoder_ffn_dim=ffn, activation_function="swish",
        vocab_size=vocab, decoder_vocab_size=vocab, max_position_embeddings=max_pos,
        scale_embedding=True, pad_token_id=pad, eos_token_id=0, decoder_start_token_id=pad,
        forced_eos_token_id=0, bad_words_ids=[[pad]], share_encoder_decoder_embeddings=True,
        tie_word_embeddings=True, normalize_before=False, num_beams=4, max_length=65,
        dropout=0.1, attention_dropout=0.0, activation_dropout=0.0, init_std=0.02)


def export(model, out_dir, vocab, spm_path, dtype="F16"):
    """Writes the Marian folder: config.json, model.safetensors, vocab.json,
    source.spm and target.spm (the joint SentencePiece model)."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(model.c, f, indent=1)
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    st.save(os.path.join(out_dir, "model.safetensors"), sd, dtype=dtype,
            metadata={"format": "pt"})
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, indent=0)
    data = open(spm_path, "rb").read()
    for name in ("source.spm", "target.spm"):
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)


# ---- search (the rules of libtransformer's Translation API) -------------------------------------

def _log_probs(logits, pad, forced_eos, last):
    lp = torch.log_softmax(logits.double(), dim=-1)
    lp[..., pad] = float("-inf")
    if last:
        lp[...] = float("-inf")
        lp[..., forced_eos] = 0.0
    return lp


@torch.no_grad()
def greedy(model, src, src_pad, max_len):
    """Batched greedy search: lists of ids (EOS included when produced)."""
    c = model.c
    start, eos, pad = c["decoder_start_token_id"], c["eos_token_id"], c["pad_token_id"]
    mem = model.encode(src, src_pad)
    B = src.shape[0]
    ys = torch.full((B, 1), start, dtype=torch.long)
    done = [False] * B
    out = [[] for _ in range(B)]
    for t in range(max_len):
        logits, _ = model.decode(ys, mem, src_pad)
        lp = _log_probs(logits[:, -1], pad, eos, t == max_len - 1)
        nxt = lp.argmax(-1)
        for b in range(B):
            if done[b]:
                nxt[b] = pad
                continue
            out[b].append(int(nxt[b]))
            done[b] = int(nxt[b]) == eos
        if all(done):
            break
        ys = torch.cat([ys, nxt[:, None]], 1)
    return out


@torch.no_grad()
def beam(model, src, src_pad, max_len, K=4, lpen=1.0, early=False):
    """Beam search of a batch in lockstep, with the rules of libtransformer
    (those of transformers 5's generate; include/transformer.h, Translation):
    the result of a sentence may depend on its batch, so translate the
    held-out set in the same batches as the C check does."""
    c = model.c
    start, eos, pad = c["decoder_start_token_id"], c["eos_token_id"], c["pad_token_id"]
    B = src.shape[0]
    mem = model.encode(src, src_pad)
    beams = [[([], 0.0)] for _ in range(B)]
    hyps = [[] for _ in range(B)]
    for t in range(max_len):
        last = t == max_len - 1
        any_open = False
        for b in range(B):
            if early and len(hyps[b]) >= K:
                continue
            n = len(beams[b])
            ys = torch.tensor([[start] + tk for tk, _ in beams[b]])
            logits, _ = model.decode(ys, mem[b:b + 1].expand(n, -1, -1),
                                     src_pad[b:b + 1].expand(n, -1))
            lp = _log_probs(logits[:, -1], pad, eos, last)
            tot = lp + torch.tensor([sc for _, sc in beams[b]], dtype=torch.float64)[:, None]
            V = tot.shape[1]
            vals, idx = torch.sort(tot.reshape(-1), descending=True, stable=True)
            cands = [(vals[i].item(), int(idx[i]) // V, int(idx[i]) % V) for i in range(2 * K)]
            beams[b], can_gain = beam_rules.step(beams[b], hyps[b], cands, t, K, lpen, early,
                                                 last, eos)
            any_open = any_open or can_gain
        if not any_open:
            break
    return [max(h, key=lambda x: x[0])[1] for h in hyps]
