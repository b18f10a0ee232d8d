#!/usr/bin/python3
"""PyTorch side of bench/translate: a Marian folder translated with cached
self- and cross-attention in plain torch (float32), the same batches and the
search rules of libtransformer (include/transformer.h, Translation).

usage: translate_torch.py --model DIR [--threads N] [--batch B] [--beam K]
                          [--reps R] [--compare C_IDS_FILE]
Prints one Markdown fragment: "sent/s | tokens/s | same tokens" (the last
against the C library's ids, one line per sentence, when --compare is given).
"""
import argparse
import json
import math
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "train_de_en"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "golden"))
import beam_rules  # noqa: E402
import marian  # noqa: E402
import st  # noqa: E402


def load(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    m = marian.Marian(cfg, drop=0.0)
    sd = {k: torch.tensor(v).float() for k, v in st.load(os.path.join(d, "model.safetensors")).items()
          if k in m.state_dict()}
    m.load_state_dict(sd, strict=False)
    m.eval()
    return m, cfg


def attn_proj(a, x, H):
    B, S, D = x.shape
    return (a.k_proj(x).view(B, S, H, D // H).transpose(1, 2),
            a.v_proj(x).view(B, S, H, D // H).transpose(1, 2))


def attend(a, x, k, v, mask, H):
    B, S, D = x.shape
    E = D // H
    q = (a.q_proj(x) * E ** -0.5).view(B, S, H, E).transpose(1, 2)
    p = torch.softmax(q @ k.transpose(-1, -2) + mask, dim=-1)
    return a.out_proj((p @ v).transpose(1, 2).reshape(B, S, D))


class Decoder:
    """Incremental decoding: cross K/V once per source, self K/V appended."""

    def __init__(self, m, mem, src_pad):
        self.m, self.H = m, m.c["decoder_attention_heads"]
        self.mask = torch.zeros(src_pad.shape).masked_fill(src_pad, float("-inf"))[:, None, None, :]
        self.cross = [attn_proj(l.encoder_attn, mem, self.H) for l in m.model.decoder.layers]
        self.selfkv = [None] * len(self.cross)

    def expand(self, K):
        rep = lambda t: t.repeat_interleave(K, 0)  # noqa: E731
        self.mask = rep(self.mask)
        self.cross = [(rep(k), rep(v)) for k, v in self.cross]
        self.selfkv = [(rep(k), rep(v)) for k, v in self.selfkv]

    def reorder(self, idx):
        self.selfkv = [(k.index_select(0, idx), v.index_select(0, idx)) for k, v in self.selfkv]

    def step(self, tok, pos):
        m = self.m
        y = m.model.shared(tok[:, None]) * m.scale + m.pos[pos:pos + 1]
        nomask = torch.zeros(1)
        for i, l in enumerate(m.model.decoder.layers):
            k, v = attn_proj(l.self_attn, y, self.H)
            if self.selfkv[i] is not None:
                k = torch.cat([self.selfkv[i][0], k], 2)
                v = torch.cat([self.selfkv[i][1], v], 2)
            self.selfkv[i] = (k, v)
            y = l.self_attn_layer_norm(y + attend(l.self_attn, y, k, v, nomask, self.H))
            ck, cv = self.cross[i]
            y = l.encoder_attn_layer_norm(y + attend(l.encoder_attn, y, ck, cv, self.mask, self.H))
            y = l.final_layer_norm(y + l.fc2(torch.nn.functional.silu(l.fc1(y))))
        return (y[:, 0] @ m.model.shared.weight.T + m.final_logits_bias[0])


def log_probs(logits, c, last):
    lp = torch.log_softmax(logits.double(), dim=-1)
    lp[:, c["pad_token_id"]] = -math.inf
    if last and c.get("forced_eos_token_id") is not None:
        lp[:] = -math.inf
        lp[:, c["forced_eos_token_id"]] = 0.0
    return lp


@torch.no_grad()
def translate(m, c, src, src_pad, T, K):
    eos, start = c["eos_token_id"], c["decoder_start_token_id"]
    lpen = c.get("length_penalty", 1.0)
    B = src.shape[0]
    dec = Decoder(m, m.encode(src, src_pad), src_pad)
    logits = dec.step(torch.full((B,), start, dtype=torch.long), 0)
    if K == 1:
        out, done = [[] for _ in range(B)], [False] * B
        for t in range(T):
            tok = log_probs(logits, c, t == T - 1).argmax(-1)
            for b in range(B):
                if done[b]:
                    tok[b] = c["pad_token_id"]
                else:
                    out[b].append(int(tok[b]))
                    done[b] = int(tok[b]) == eos
            if all(done) or t == T - 1:
                break
            logits = dec.step(tok, t + 1)
        return out
    dec.expand(K)
    beams = [[([], 0.0)] for _ in range(B)]
    hyps = [[] for _ in range(B)]
    for t in range(T):
        last = t == T - 1
        lp = log_probs(logits, c, last)
        V = lp.shape[1]
        any_open = False
        nxt_tok, nxt_row = [], []
        for b in range(B):
            rows = [b] if t == 0 else list(range(b * K, b * K + K))
            scores = torch.tensor([sc for _, sc in beams[b]], dtype=torch.float64)
            tot = (lp[rows] + scores[:, None]).reshape(-1)
            vals, idx = torch.sort(tot, descending=True, stable=True)
            cands = [(vals[r].item(), int(idx[r]) // V, int(idx[r]) % V) for r in range(2 * K)]
            old = [tk for tk, _ in beams[b]]
            beams[b], can_gain = beam_rules.step(beams[b], hyps[b], cands, t, K, lpen, False,
                                                 last, eos)
            for tk, _ in beams[b]:  # beams are distinct, so the prefix names the row
                nxt_tok.append(tk[-1])
                nxt_row.append(b * K + old.index(tk[:-1]))
            any_open = any_open or can_gain
        if not any_open or last:
            break
        dec.reorder(torch.tensor(nxt_row))
        logits = dec.step(torch.tensor(nxt_tok), t + 1)
    return [max(h, key=lambda x: x[0])[1] for h in hyps]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--beam", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--compare")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    import sentencepiece as spm
    m, c = load(a.model)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(a.model, "source.spm"))
    vocab = json.load(open(os.path.join(a.model, "vocab.json"), encoding="utf-8"))
    unk, eos, pad = vocab.get("<unk>", 1), c["eos_token_id"], c["pad_token_id"]
    texts = [l.split("\t")[0] for l in open(os.path.join(a.model, "heldout.tsv"), encoding="utf-8")
             if "\t" in l]
    srcs = [[vocab.get(p, unk) for p in sp.encode(t, out_type=str)] + [eos] for t in texts]
    T = min(c.get("max_length", 257) - 1, 256, c["max_position_embeddings"])
    best, outs = 1e30, None
    for r in range(a.reps):
        t0 = time.time()
        out = []
        for i in range(0, len(srcs), a.batch):
            part = srcs[i:i + a.batch]
            S = max(map(len, part))
            x = torch.full((len(part), S), pad, dtype=torch.long)
            for j, s in enumerate(part):
                x[j, : len(s)] = torch.tensor(s)
            out += translate(m, c, x, x == pad, T, a.beam)
        best = min(best, time.time() - t0)
        outs = out
    tokens = sum(map(len, outs))
    same = "-"
    if a.compare:
        cl = [list(map(int, l.split())) for l in open(a.compare)]
        eq = sum(x == y for x, y in zip(outs, cl))
        same = "%s (%d of %d)" % ("yes" if eq == len(outs) else "no", eq, len(outs))
    print("%.1f | %.0f | %s" % (len(outs) / best, tokens / best, same))


if __name__ == "__main__":
    main()
