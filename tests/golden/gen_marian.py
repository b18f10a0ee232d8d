#!/usr/bin/python3
"""Float64 PyTorch references for the translation models (src/models/seq2seq*.c).

1. marian_tiny/: a Hugging Face MarianMTModel folder with small random weights
   and the exact HF parameter names (config.json, model.safetensors, vocab.json).
   The forward pass below is written from the MarianMTModel definition:
   post-norm layers, swish feed-forward, sinusoidal positions laid out as
   MarianSinusoidalPositionalEmbedding does (sines of the even-index angles in
   the first half, cosines of the odd-index ones in the second), embeddings
   scaled by sqrt(d_model), the classifier tied to model.shared plus
   final_logits_bias.
2. transformer_tiny/: the original transformer as torch.nn.Transformer builds
   it (post-norm, ReLU, final encoder/decoder norms; batch_first), with token
   embeddings scaled by sqrt(d_model), interleaved sinusoids, and a linear
   generator; the tensor names are those of the module below
   (docs/MODELS.md, "The original transformer").

Each folder gets <name>.ref.safetensors: a padded batch of sources and
teacher-forced targets with their logits, and the greedy and beam outputs of
the reference search written here (the rules of the Translation section of
include/transformer.h, those of transformers 5's generate), with the greedy
path's last-layer cross-attention averaged over heads.

Run with Debian's python3 (torch 1.13): /usr/bin/python3 tests/golden/gen_marian.py
"""
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import beam_rules  # noqa: E402
import st  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "marian")
torch.set_default_dtype(torch.float64)

# ---- Marian ---------------------------------------------------------------------------------

MCFG = dict(
    model_type="marian", architectures=["MarianMTModel"], d_model=32, encoder_layers=2,
    decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
    encoder_ffn_dim=64, decoder_ffn_dim=64, activation_function="swish", vocab_size=120,
    decoder_vocab_size=120, max_position_embeddings=64, scale_embedding=True,
    pad_token_id=119, eos_token_id=0, decoder_start_token_id=119, forced_eos_token_id=0,
    share_encoder_decoder_embeddings=True, tie_word_embeddings=True, normalize_before=False,
    num_beams=3, max_length=13, bad_words_ids=[[119]], dropout=0.0)


def marian_sinusoids(n_pos, dim):
    pe = np.array([[pos / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)]
                   for pos in range(n_pos)])
    out = np.zeros((n_pos, dim))
    half = dim // 2
    out[:, :half] = np.sin(pe[:, 0::2])
    out[:, half:] = np.cos(pe[:, 1::2])
    return torch.tensor(out)


def marian_weights(cfg, g):
    D, F, V = cfg["d_model"], cfg["encoder_ffn_dim"], cfg["vocab_size"]
    w = {}

    def r(*shape, s=0.15):
        return torch.randn(*shape, generator=g) * s

    w["model.shared.weight"] = r(V, D, s=0.5)
    flb = r(1, V, s=0.3)
    flb[0, cfg["eos_token_id"]] += 3.2  # sentences end now and then
    w["final_logits_bias"] = flb

    def attn(p):
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            w[p + n + ".weight"] = r(D, D, s=0.45)
            w[p + n + ".bias"] = r(D, s=0.1)

    def ln(p):
        w[p + ".weight"] = 1.0 + r(D, s=0.1)
        w[p + ".bias"] = r(D, s=0.1)

    for side, L in (("encoder", cfg["encoder_layers"]), ("decoder", cfg["decoder_layers"])):
        for l in range(L):
            p = "model.%s.layers.%d." % (side, l)
            attn(p + "self_attn.")
            ln(p + "self_attn_layer_norm")
            if side == "decoder":
                attn(p + "encoder_attn.")
                ln(p + "encoder_attn_layer_norm")
            w[p + "fc1.weight"] = r(F, D, s=0.4)
            w[p + "fc1.bias"] = r(F, s=0.1)
            w[p + "fc2.weight"] = r(D, F, s=0.4)
            w[p + "fc2.bias"] = r(D, s=0.1)
            ln(p + "final_layer_norm")
    return w


def marian_attention(w, p, xq, xkv, H, add_mask):
    """MarianAttention: q scaled by head_dim^-0.5; add_mask [B|1, 1|H, Sq, Sk]."""
    B, Sq, D = xq.shape
    Sk = xkv.shape[1]
    E = D // H

    def lin(x, n):
        return x @ w[p + n + ".weight"].T + w[p + n + ".bias"]

    q = (lin(xq, "q_proj") * E ** -0.5).view(B, Sq, H, E).transpose(1, 2)
    k = lin(xkv, "k_proj").view(B, Sk, H, E).transpose(1, 2)
    v = lin(xkv, "v_proj").view(B, Sk, H, E).transpose(1, 2)
    s = q @ k.transpose(-1, -2) + add_mask
    a = torch.softmax(s, dim=-1)
    o = (a @ v).transpose(1, 2).reshape(B, Sq, D)
    return lin(o, "out_proj"), a


def layer_norm(w, p, x):
    return torch.nn.functional.layer_norm(x, x.shape[-1:], w[p + ".weight"], w[p + ".bias"], 1e-5)


def pad_mask(src_mask):
    """[B, S] 1 keep / 0 pad -> additive [B, 1, 1, S]."""
    m = torch.zeros(src_mask.shape, dtype=torch.float64)
    m[src_mask == 0] = -math.inf
    return m[:, None, None, :]


class MarianRef:
    def __init__(self, cfg, w):
        self.c, self.w = cfg, w
        self.D, self.H = cfg["d_model"], cfg["encoder_attention_heads"]
        self.pos = marian_sinusoids(cfg["max_position_embeddings"], self.D)
        self.scale = math.sqrt(self.D) if cfg["scale_embedding"] else 1.0

    def ffn(self, p, x):
        h = torch.nn.functional.silu(x @ self.w[p + "fc1.weight"].T + self.w[p + "fc1.bias"])
        return h @ self.w[p + "fc2.weight"].T + self.w[p + "fc2.bias"]

    def encode(self, src, src_mask):
        w, S = self.w, src.shape[1]
        x = w["model.shared.weight"][src] * self.scale + self.pos[:S]
        am = pad_mask(src_mask)
        for l in range(self.c["encoder_layers"]):
            p = "model.encoder.layers.%d." % l
            a, _ = marian_attention(w, p + "self_attn.", x, x, self.H, am)
            x = layer_norm(w, p + "self_attn_layer_norm", x + a)
            x = layer_norm(w, p + "final_layer_norm", x + self.ffn(p, x))
        return x

    def decode(self, tgt, mem, src_mask):
        """Logits [B, T, V] and the last layer's cross-attention [B, H, T, S]."""
        w, T = self.w, tgt.shape[1]
        y = w["model.shared.weight"][tgt] * self.scale + self.pos[:T]
        causal = torch.triu(torch.full((T, T), -math.inf), diagonal=1)[None, None]
        am = pad_mask(src_mask)
        cross = None
        for l in range(self.c["decoder_layers"]):
            p = "model.decoder.layers.%d." % l
            a, _ = marian_attention(w, p + "self_attn.", y, y, self.H, causal)
            y = layer_norm(w, p + "self_attn_layer_norm", y + a)
            a, cross = marian_attention(w, p + "encoder_attn.", y, mem, self.H, am)
            y = layer_norm(w, p + "encoder_attn_layer_norm", y + a)
            y = layer_norm(w, p + "final_layer_norm", y + self.ffn(p, y))
        logits = y @ w["model.shared.weight"].T + w["final_logits_bias"][0]
        return logits, cross


# ---- nn.Transformer --------------------------------------------------------------------------

TCFG = dict(
    model_type="transformer", d_model=32, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
    dim_feedforward=64, activation="relu", layer_norm_eps=1e-5, norm_first=False,
    src_vocab_size=90, tgt_vocab_size=100, max_position_embeddings=64,
    positional_encoding="interleaved", scale_embedding=True, share_embeddings=False,
    tie_word_embeddings=False, pad_token_id=1, bos_token_id=2, eos_token_id=3, unk_token_id=0,
    num_beams=3, max_length=13)


def interleaved_sinusoids(n_pos, dim):
    pe = torch.zeros(n_pos, dim)
    pos = torch.arange(n_pos, dtype=torch.float64)[:, None]
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float64) * (-math.log(10000.0) / dim))
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


class Seq2SeqTransformer(torch.nn.Module):
    """The exported module: its state_dict names are the tensor names."""

    def __init__(self, c):
        super().__init__()
        D = c["d_model"]
        self.c = c
        self.src_embed = torch.nn.Embedding(c["src_vocab_size"], D)
        self.tgt_embed = torch.nn.Embedding(c["tgt_vocab_size"], D)
        self.transformer = torch.nn.Transformer(
            d_model=D, nhead=c["nhead"], num_encoder_layers=c["num_encoder_layers"],
            num_decoder_layers=c["num_decoder_layers"], dim_feedforward=c["dim_feedforward"],
            dropout=0.0, activation=c["activation"], layer_norm_eps=c["layer_norm_eps"],
            batch_first=True, norm_first=c["norm_first"])
        self.generator = torch.nn.Linear(D, c["tgt_vocab_size"])
        self.register_buffer("pe", interleaved_sinusoids(c["max_position_embeddings"], D),
                             persistent=False)
        self.scale = math.sqrt(D)

    def encode(self, src, src_mask):
        x = self.src_embed(src) * self.scale + self.pe[: src.shape[1]]
        return self.transformer.encoder(x, src_key_padding_mask=(src_mask == 0))

    def decode(self, tgt, mem, src_mask):
        T = tgt.shape[1]
        y = self.tgt_embed(tgt) * self.scale + self.pe[:T]
        causal = torch.triu(torch.full((T, T), -math.inf), diagonal=1)
        # the last layer's cross-attention weights (averaged over heads by MHA)
        cap = {}
        last = self.transformer.decoder.layers[-1].multihead_attn

        def hook(mod, inp, out):
            cap["w"] = out[1]

        orig = last.forward

        def fwd(*a, **k):
            k["need_weights"] = True
            k["average_attn_weights"] = True
            return orig(*a, **k)

        last.forward = fwd
        h = last.register_forward_hook(hook)
        out = self.transformer.decoder(y, mem, tgt_mask=causal,
                                       memory_key_padding_mask=(src_mask == 0))
        h.remove()
        last.forward = orig
        return self.generator(out), cap["w"][:, None]  # [B, 1, T, S]


# ---- reference search (the rules of include/transformer.h, Translation) -------------------------

def log_probs(logits, cfg_ban_pad, pad, forced_eos, last):
    """Log-softmax, then the processors: pad banned; at the last step only the
    forced EOS, with log-probability 0 (ForcedEOSTokenLogitsProcessor)."""
    lp = torch.log_softmax(logits, dim=-1).clone()
    if cfg_ban_pad and pad is not None and pad >= 0:
        lp[pad] = -math.inf
    if last and forced_eos is not None and forced_eos >= 0:
        lp[:] = -math.inf
        lp[forced_eos] = 0.0
    return lp


def greedy(model, src, src_mask, start, eos, pad, T, ban_pad, forced_eos):
    """Greedy search per sentence: ids (EOS included), score, attention [n, S]."""
    out = []
    for b in range(src.shape[0]):
        s, m = src[b:b + 1], src_mask[b:b + 1]
        mem = model.encode(s, m)
        toks, score, att = [], 0.0, []
        for t in range(T):
            logits, cross = model.decode(torch.tensor([[start] + toks]), mem, m)
            lp = log_probs(logits[0, -1], ban_pad, pad, forced_eos, t == T - 1)
            tok = int(torch.argmax(lp))
            toks.append(tok)
            score += lp[tok].item()
            att.append(cross[0, :, -1].mean(0).numpy())
            if tok == eos:
                break
        out.append((toks, score, np.array(att)))
    return out


def beam(model, src, src_mask, start, eos, pad, T, K, lpen, early, ban_pad, forced_eos):
    """The beam search of transformers 5 (generation/utils.py _beam_search),
    the whole batch in lockstep, no cache: each step takes the 2K best
    continuations of a sentence's beams; a candidate among the first K that
    ends (EOS, or any token at the last step) becomes a hypothesis scored
    sum / (tokens, the last included) ** lpen; the K best other candidates
    run on. A sentence stops taking hypotheses only with early stopping and
    K of them; the batch stops at max length or when no sentence can gain:
    each has K hypotheses and (early stopping, or) its best running beam
    over the current length does not beat its worst hypothesis."""
    B = src.shape[0]
    mems = [model.encode(src[b:b + 1], src_mask[b:b + 1]) for b in range(B)]
    beams = [[([], 0.0)] for _ in range(B)]
    hyps = [[] for _ in range(B)]
    for t in range(T):
        last = t == T - 1
        any_open = False
        for b in range(B):
            if early and len(hyps[b]) >= K:
                continue
            m = src_mask[b:b + 1]
            cands = []
            for k, (toks, sc) in enumerate(beams[b]):
                logits, _ = model.decode(torch.tensor([[start] + toks]), mems[b], m)
                lp = log_probs(logits[0, -1], ban_pad, pad, forced_eos, last)
                for v in range(lp.shape[0]):
                    cands.append((sc + lp[v].item(), k, v))
            cands.sort(key=lambda c: -c[0])
            beams[b], can_gain = beam_rules.step(beams[b], hyps[b], cands[: 2 * K], t, K, lpen,
                                                 early, last, eos)
            any_open = any_open or can_gain
        if not any_open:
            break
    out = []
    for b in range(B):
        best = max(hyps[b], key=lambda h: h[0])
        out.append((best[1], best[0]))
    return out


def pack_ids(seqs, fill=-1):
    n = max(len(x) for x in seqs)
    a = np.full((len(seqs), n), fill, dtype=np.int32)
    for i, x in enumerate(seqs):
        a[i, : len(x)] = x
    return a, np.array([len(x) for x in seqs], dtype=np.int32)


def record(name, model, cfg, src, src_mask, tgt, start, eos, pad, ban_pad, forced_eos, extra):
    with torch.no_grad():
        mem = model.encode(src, src_mask)
        logits, _ = model.decode(tgt, mem, src_mask)
        T = cfg["max_length"] - 1
        K = cfg["num_beams"]
        g = greedy(model, src, src_mask, start, eos, pad, T, ban_pad, forced_eos)
        b1 = beam(model, src, src_mask, start, eos, pad, T, K, 1.0, False, ban_pad, forced_eos)
        b2 = beam(model, src, src_mask, start, eos, pad, T, 4, 0.6, True, ban_pad, forced_eos)
    gi, gl = pack_ids([x[0] for x in g])
    att = np.zeros((len(g), gi.shape[1], src.shape[1]))
    for i, x in enumerate(g):
        att[i, : len(x[0])] = x[2]
    bi, bl = pack_ids([x[0] for x in b1])
    ci, cl = pack_ids([x[0] for x in b2])
    ref = {
        "src_ids": src.numpy().astype(np.int32), "src_mask": src_mask.numpy().astype(np.int32),
        "tgt_ids": tgt.numpy().astype(np.int32), "logits": logits.numpy(),
        "greedy_ids": gi, "greedy_len": gl, "greedy_score": np.array([x[1] for x in g]),
        "greedy_att": att,
        "beam3_ids": bi, "beam3_len": bl, "beam3_score": np.array([x[1] for x in b1]),
        "beam4_ids": ci, "beam4_len": cl, "beam4_score": np.array([x[1] for x in b2]),
    }
    ref.update(extra)
    st.save(os.path.join(OUT, name + ".ref.safetensors"), ref)
    for i in range(len(g)):
        print(name, "greedy", g[i][0], "beam3", b1[i][0], "beam4/0.6/early", b2[i][0])


def marian_pieces(V, pad, eos):
    pieces = {}
    letters = "abcdefghijklmnopqrstuvwxyz"
    for i in range(V):
        if i == eos:
            p = "</s>"
        elif i == 1:
            p = "<unk>"
        elif i == pad:
            p = "<pad>"
        elif i % 3 == 0:
            p = letters[i % 26] + letters[(i // 26) % 26]
        else:
            p = "\u2581" + letters[i % 26] + letters[(i // 7) % 26]
        pieces[p] = i
    return pieces


def detok(ids, inv, specials):
    s = "".join(inv[i] for i in ids if i not in specials).replace("\u2581", " ")
    return s[1:] if s.startswith(" ") else s


SPM_CORPUS = """Das Haus ist klein. Der Garten ist gross. Die Katze schlaeft im Haus.
Wir gehen morgen in die Stadt. Ich trinke gern Kaffee mit Milch.
The house is small. The garden is big. The cat sleeps in the house.
We are going to town tomorrow. I like to drink coffee with milk.
Wo ist der Bahnhof? Where is the station? Guten Morgen! Good morning!"""


def marian_spm(g):
    """marian_spm/: a Marian folder with source.spm / target.spm (one tiny
    unigram model trained here) and vocab.json mapping its pieces to ids as
    Marian does (</s> 0, <unk> 1, the pieces, <pad> last). The reference
    encodes as MarianTokenizer (pieces of the source model looked up in
    vocab.json, then </s>) and decodes with the target model's decode_pieces
    (special tokens skipped)."""
    import sentencepiece as spm
    d = os.path.join(OUT, "marian_spm")
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(OUT, "_corpus.txt")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(SPM_CORPUS.replace(". ", ".\n").replace("? ", "?\n").replace("! ", "!\n"))
    prefix = os.path.join(OUT, "_spm")
    spm.SentencePieceTrainer.train(
        input=tmp, model_prefix=prefix, vocab_size=70, model_type="unigram",
        character_coverage=1.0, unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, num_threads=1,
        normalization_rule_name="identity",
        minloglevel=2)
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    data = open(prefix + ".model", "rb").read()
    for name in ("source.spm", "target.spm"):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    for ext in (".model", ".vocab"):
        os.remove(prefix + ext)
    os.remove(tmp)
    vocab = {"</s>": 0, "<unk>": 1}
    for i in range(1, sp.get_piece_size()):
        vocab[sp.id_to_piece(i)] = i + 1
    pad = sp.get_piece_size() + 1
    vocab["<pad>"] = pad
    V = pad + 1
    cfg = dict(MCFG, vocab_size=V, decoder_vocab_size=V, pad_token_id=pad, d_model=16,
               encoder_ffn_dim=32, decoder_ffn_dim=32, encoder_attention_heads=2,
               decoder_attention_heads=2,
               decoder_start_token_id=pad, bad_words_ids=[[pad]], max_length=11)
    w = marian_weights(cfg, g)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    st.save(os.path.join(d, "model.safetensors"), w, dtype="F32", metadata={"format": "pt"})
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    w64 = {k: torch.tensor(st.round_to(v.numpy(), "F32")) for k, v in w.items()}
    model = MarianRef(cfg, w64)
    texts = ["Das Haus ist klein.", "Wo ist der Bahnhof?", "Guten Morgen, Katze!"]
    srcs = [[vocab.get(p, 1) for p in sp.encode(t, out_type=str)] + [0] for t in texts]
    S = max(map(len, srcs))
    src = torch.full((len(texts), S), pad, dtype=torch.long)
    mask = torch.zeros((len(texts), S), dtype=torch.long)
    for i, x in enumerate(srcs):
        src[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    T = cfg["max_length"] - 1
    with torch.no_grad():
        gr = greedy(model, src, mask, pad, 0, pad, T, True, 0)
        bm = beam(model, src, mask, pad, 0, pad, T, 3, 1.0, False, True, 0)
    inv = {i: p for p, i in vocab.items()}

    def decode(ids):
        return sp.decode_pieces([inv[i] for i in ids if i not in (0, 1, pad)])

    gi, gl = pack_ids([x[0] for x in gr])
    bi, bl = pack_ids([x[0] for x in bm])
    ref = {"src_ids": src.numpy().astype(np.int32), "src_mask": mask.numpy().astype(np.int32),
           "greedy_ids": gi, "greedy_len": gl, "beam3_ids": bi, "beam3_len": bl}
    st.save(os.path.join(OUT, "marian_spm.ref.safetensors"), ref)
    with open(os.path.join(OUT, "marian_spm.texts.json"), "w", encoding="utf-8") as f:
        json.dump({"texts": texts, "greedy_text": [decode(x[0]) for x in gr],
                   "beam3_text": [decode(x[0]) for x in bm]}, f, ensure_ascii=False, indent=1)
    for t, x, y in zip(texts, gr, bm):
        print("marian_spm", t, srcs[texts.index(t)], "greedy", x[0], repr(decode(x[0])),
              "beam3", y[0])


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(1234)
    # ---- Marian
    cfg = MCFG
    w = marian_weights(cfg, g)
    d = os.path.join(OUT, "marian_tiny")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    st.save(os.path.join(d, "model.safetensors"), w, dtype="F32", metadata={"format": "pt"})
    pieces = marian_pieces(cfg["vocab_size"], cfg["pad_token_id"], cfg["eos_token_id"])
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(pieces, f, ensure_ascii=False)
    # the reference reads the weights as stored (float32)
    w64 = {k: torch.tensor(st.round_to(v.numpy(), "F32")) for k, v in w.items()}
    model = MarianRef(cfg, w64)
    V, pad, eos = cfg["vocab_size"], cfg["pad_token_id"], cfg["eos_token_id"]
    lens = [7, 4, 9]
    S = max(lens)
    src = torch.full((3, S), pad, dtype=torch.long)
    mask = torch.zeros((3, S), dtype=torch.long)
    for i, L in enumerate(lens):
        src[i, : L - 1] = torch.randint(2, V - 1, (L - 1,), generator=g)
        src[i, L - 1] = eos
        mask[i, :L] = 1
    tgt = torch.randint(2, V - 1, (3, 6), generator=g)
    tgt[:, 0] = cfg["decoder_start_token_id"]
    inv = {v: k for k, v in pieces.items()}
    text = detok([5, 6, 7, 9, eos], inv, {pad, eos, 1})
    record("marian_tiny", model, cfg, src, mask, tgt, cfg["decoder_start_token_id"], eos, pad,
           True, cfg["forced_eos_token_id"], {})
    with open(os.path.join(OUT, "marian_tiny.detok.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    # ---- Marian with SentencePiece models: text in, text out
    marian_spm(torch.Generator().manual_seed(4321))
    # ---- nn.Transformer
    c = TCFG
    torch.manual_seed(99)
    tm = Seq2SeqTransformer(c)
    with torch.no_grad():
        for p in tm.parameters():
            p.copy_(torch.tensor(st.round_to(p.numpy(), "F32")))
        tm.generator.weight.mul_(4.0)
        tm.generator.bias[c["eos_token_id"]] += 2.4
    tm.train()  # dropout is 0; train mode keeps PyTorch off its fused fast path
    d = os.path.join(OUT, "transformer_tiny")
    os.makedirs(d, exist_ok=True)
    cfgfile = dict(c)
    del cfgfile["num_beams"]
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(c, f, indent=1)
    st.save(os.path.join(d, "model.safetensors"),
            {k: v for k, v in tm.state_dict().items()}, dtype="F32")
    lens = [5, 8]
    S = max(lens)
    src = torch.full((2, S), c["pad_token_id"], dtype=torch.long)
    mask = torch.zeros((2, S), dtype=torch.long)
    for i, L in enumerate(lens):
        src[i, : L - 1] = torch.randint(4, c["src_vocab_size"], (L - 1,), generator=g)
        src[i, L - 1] = c["eos_token_id"]
        mask[i, :L] = 1
    tgt = torch.randint(4, c["tgt_vocab_size"], (2, 5), generator=g)
    tgt[:, 0] = c["bos_token_id"]
    record("transformer_tiny", tm, c, src, mask, tgt, c["bos_token_id"], c["eos_token_id"],
           c["pad_token_id"], True, None, {})


if __name__ == "__main__":
    main()
