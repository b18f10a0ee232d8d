#!/usr/bin/python3
"""Golden data for the BERT-family encoders (tests/golden/test_bert*.c).

Implements the Hugging Face forward passes of BertModel, BertForMaskedLM,
BertForSequenceClassification, DistilBertModel, DistilBertForMaskedLM and
DistilBertForSequenceClassification in float64 PyTorch, on parameters named
exactly as Hugging Face names them, for small random-weight models. Each
model is written as a real Hugging Face folder under tests/golden/bert/NAME/
(config.json, model.safetensors or shards + index, vocab.txt,
tokenizer_config.json), and its outputs for a padded batch of sentences and
a padded batch of sentence pairs go to tests/golden/bert/NAME.ref.safetensors:

  {single,pair}_input_ids, _attention_mask, _token_type_ids   I32 [B, S]
  {single,pair}_hidden       F32 [B, S, H]  last_hidden_state
  {single,pair}_pooler       F32 [B, H]     BERT pooler output (if a pooler)
  {single,pair}_mlm_logits   F32 [B, S, V]  masked-LM logits (if an MLM head)
  {single,pair}_cls_logits   F32 [B, L]     classifier logits (if a classifier)
  {single,pair}_embed_mean   F32 [B, H]     mean over the attention mask
  {single,pair}_embed_cls    F32 [B, H]     hidden state of [CLS]

Everything is computed in float64 and stored rounded to F32 (a relative
error of 6e-8, far under the 1e-5 the tests ask; it halves the files). The
references use the stored (rounded) weights, so F16/BF16 folders are
compared at fp32 precision too. The texts are in tests/golden/bert/cases.json
with their token ids. Fixed seeds; run from anywhere with /usr/bin/python3.
"""
import json
import math
import os
import re
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bert")

# ---- vocabulary and a BertTokenizer for plain lower-case ASCII text ----------

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = """
. , ! ? ' - ( ) : ;
the a an of is was are be to in on at and or not it this that i you he she
we they my your capital france paris germany berlin city country big small
red blue green cat dog sat ran mat away quick slow good bad great movie film
love hate like very really hello world day night today sun rain music book
read play un ##believ ##able ##ing ##ed ##ly ##s ##er ##est walk talk
""".split()
VOCAB = SPECIAL + WORDS
TOK = {w: i for i, w in enumerate(VOCAB)}
MAX_POS = 40


def wordpiece(word):
    out, start = [], 0
    while start < len(word):
        end, cur = len(word), None
        while start < end:
            sub = word[start:end]
            if start > 0:
                sub = "##" + sub
            if sub in TOK:
                cur = sub
                break
            end -= 1
        if cur is None:
            return ["[UNK]"]
        out.append(cur)
        start = end
    return out


def tokenize(text):
    toks = []
    for part in re.split(r"(\[MASK\]|\[SEP\]|\[CLS\]|\[PAD\]|\[UNK\])", text):
        if part in SPECIAL:
            toks.append(part)
            continue
        for w in re.findall(r"[a-z0-9]+|[^\sa-z0-9]", part.lower()):
            toks.extend(wordpiece(w))
    return toks


def encode(a, b=None):
    ids = [TOK["[CLS]"]] + [TOK[t] for t in tokenize(a)] + [TOK["[SEP]"]]
    types = [0] * len(ids)
    if b is not None:
        ib = [TOK[t] for t in tokenize(b)] + [TOK["[SEP]"]]
        ids += ib
        types += [1] * len(ib)
    return ids, types


def batch(encs):
    s = max(len(i) for i, _ in encs)
    ids = np.zeros((len(encs), s), np.int32)
    mask = np.zeros((len(encs), s), np.int32)
    types = np.zeros((len(encs), s), np.int32)
    for r, (i, t) in enumerate(encs):
        ids[r, :len(i)] = i
        mask[r, :len(i)] = 1
        types[r, :len(i)] = t
    return ids, mask, types


TEXTS = [
    "The capital of France is [MASK].",
    "Hello world!",
    "The dog ran away slowly, unbelievable!",
]
PAIRS = [
    ["The cat sat.", "The dog ran away."],
    ["Hello", "I really love this [MASK]!"],
]

# ---- the Hugging Face forward passes ----------------------------------------


def act_fn(name):
    if name == "gelu":
        return lambda x: torch.nn.functional.gelu(x)
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: torch.nn.functional.gelu(x, approximate="tanh")
    if name == "relu":
        return torch.relu
    raise ValueError(name)


def linear(p, name, x):
    return x @ p[name + ".weight"].T + p[name + ".bias"]


def layer_norm(p, name, x, eps):
    return torch.nn.functional.layer_norm(x, x.shape[-1:], p[name + ".weight"], p[name + ".bias"], eps)


def bert_forward(p, cfg, ids, mask, types):
    """BertModel + heads. p: {HF name without 'bert.': tensor}."""
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    hd, eps = H // nh, cfg["layer_norm_eps"]
    act = act_fn(cfg["hidden_act"])
    B, S = ids.shape
    pos = torch.arange(S)
    x = p["embeddings.word_embeddings.weight"][ids] + p["embeddings.position_embeddings.weight"][pos] \
        + p["embeddings.token_type_embeddings.weight"][types]
    x = layer_norm(p, "embeddings.LayerNorm", x, eps)
    ext = (1.0 - mask[:, None, None, :].double()) * torch.finfo(torch.float64).min
    for i in range(cfg["num_hidden_layers"]):
        L = "encoder.layer.%d." % i

        def heads(t):
            return t.view(B, S, nh, hd).transpose(1, 2)
        q = heads(linear(p, L + "attention.self.query", x))
        k = heads(linear(p, L + "attention.self.key", x))
        v = heads(linear(p, L + "attention.self.value", x))
        sc = q @ k.transpose(-1, -2) / math.sqrt(hd) + ext
        ctx = (torch.softmax(sc, -1) @ v).transpose(1, 2).reshape(B, S, H)
        a = layer_norm(p, L + "attention.output.LayerNorm", linear(p, L + "attention.output.dense", ctx) + x, eps)
        h = act(linear(p, L + "intermediate.dense", a))
        x = layer_norm(p, L + "output.LayerNorm", linear(p, L + "output.dense", h) + a, eps)
    out = {"hidden": x}
    if "pooler.dense.weight" in p:
        out["pooler"] = torch.tanh(linear(p, "pooler.dense", x[:, 0]))
    if "cls.predictions.bias" in p:
        t = act(linear(p, "cls.predictions.transform.dense", x))
        t = layer_norm(p, "cls.predictions.transform.LayerNorm", t, eps)
        w = p.get("cls.predictions.decoder.weight", p["embeddings.word_embeddings.weight"])
        out["mlm_logits"] = t @ w.T + p["cls.predictions.bias"]
    if "classifier.weight" in p:
        out["cls_logits"] = linear(p, "classifier", out["pooler"])
    return out


def distilbert_forward(p, cfg, ids, mask, types):
    D, nh = cfg["dim"], cfg["n_heads"]
    hd, eps = D // nh, 1e-12
    act = act_fn(cfg["activation"])
    B, S = ids.shape
    x = p["embeddings.word_embeddings.weight"][ids] + p["embeddings.position_embeddings.weight"][torch.arange(S)]
    x = layer_norm(p, "embeddings.LayerNorm", x, eps)
    for i in range(cfg["n_layers"]):
        L = "transformer.layer.%d." % i

        def heads(t):
            return t.view(B, S, nh, hd).transpose(1, 2)
        q = heads(linear(p, L + "attention.q_lin", x)) / math.sqrt(hd)
        k = heads(linear(p, L + "attention.k_lin", x))
        v = heads(linear(p, L + "attention.v_lin", x))
        sc = q @ k.transpose(-1, -2)
        sc = sc.masked_fill((mask == 0)[:, None, None, :], torch.finfo(torch.float64).min)
        ctx = (torch.softmax(sc, -1) @ v).transpose(1, 2).reshape(B, S, D)
        a = layer_norm(p, L + "sa_layer_norm", linear(p, L + "attention.out_lin", ctx) + x, eps)
        f = linear(p, L + "ffn.lin2", act(linear(p, L + "ffn.lin1", a)))
        x = layer_norm(p, L + "output_layer_norm", f + a, eps)
    out = {"hidden": x}
    if "vocab_projector.bias" in p:
        t = act(linear(p, "vocab_transform", x))
        t = layer_norm(p, "vocab_layer_norm", t, eps)
        w = p.get("vocab_projector.weight", p["embeddings.word_embeddings.weight"])
        out["mlm_logits"] = t @ w.T + p["vocab_projector.bias"]
    if "classifier.weight" in p:
        pooled = torch.relu(linear(p, "pre_classifier", x[:, 0]))
        out["cls_logits"] = linear(p, "classifier", pooled)
    return out


# ---- random parameters with HF names ----------------------------------------


def bert_params(g, cfg, pooler, mlm, n_labels):
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    p = {}

    def lin(name, o, i):
        p[name + ".weight"] = torch.randn(o, i, generator=g) * (1.0 / math.sqrt(i))
        p[name + ".bias"] = torch.randn(o, generator=g) * 0.1

    def ln(name, n):
        p[name + ".weight"] = 1.0 + torch.randn(n, generator=g) * 0.1
        p[name + ".bias"] = torch.randn(n, generator=g) * 0.1
    p["embeddings.word_embeddings.weight"] = torch.randn(V, H, generator=g) * 0.5
    p["embeddings.position_embeddings.weight"] = torch.randn(cfg["max_position_embeddings"], H, generator=g) * 0.5
    p["embeddings.token_type_embeddings.weight"] = torch.randn(cfg["type_vocab_size"], H, generator=g) * 0.5
    ln("embeddings.LayerNorm", H)
    for i in range(cfg["num_hidden_layers"]):
        L = "encoder.layer.%d." % i
        for n in ("query", "key", "value"):
            lin(L + "attention.self." + n, H, H)
        lin(L + "attention.output.dense", H, H)
        ln(L + "attention.output.LayerNorm", H)
        lin(L + "intermediate.dense", I, H)
        lin(L + "output.dense", H, I)
        ln(L + "output.LayerNorm", H)
    if pooler:
        lin("pooler.dense", H, H)
    if mlm:
        lin("cls.predictions.transform.dense", H, H)
        ln("cls.predictions.transform.LayerNorm", H)
        p["cls.predictions.bias"] = torch.randn(V, generator=g) * 0.1
    if n_labels:
        lin("classifier", n_labels, H)
    return p


def distilbert_params(g, cfg, mlm, n_labels):
    D, I, V = cfg["dim"], cfg["hidden_dim"], cfg["vocab_size"]
    p = {}

    def lin(name, o, i):
        p[name + ".weight"] = torch.randn(o, i, generator=g) * (1.0 / math.sqrt(i))
        p[name + ".bias"] = torch.randn(o, generator=g) * 0.1

    def ln(name, n):
        p[name + ".weight"] = 1.0 + torch.randn(n, generator=g) * 0.1
        p[name + ".bias"] = torch.randn(n, generator=g) * 0.1
    p["embeddings.word_embeddings.weight"] = torch.randn(V, D, generator=g) * 0.5
    p["embeddings.position_embeddings.weight"] = torch.randn(cfg["max_position_embeddings"], D, generator=g) * 0.5
    ln("embeddings.LayerNorm", D)
    for i in range(cfg["n_layers"]):
        L = "transformer.layer.%d." % i
        for n in ("q_lin", "k_lin", "v_lin", "out_lin"):
            lin(L + "attention." + n, D, D)
        ln(L + "sa_layer_norm", D)
        lin(L + "ffn.lin1", I, D)
        lin(L + "ffn.lin2", D, I)
        ln(L + "output_layer_norm", D)
    if mlm:
        lin("vocab_transform", D, D)
        ln("vocab_layer_norm", D)
        p["vocab_projector.bias"] = torch.randn(V, generator=g) * 0.1
    if n_labels:
        lin("pre_classifier", D, D)
        lin("classifier", n_labels, D)
    return p


# ---- writing Hugging Face folders --------------------------------------------


def stored_map(p, prefix, keep_at_top, old_ln=False):
    """{checkpoint name: parameter name}: the encoder under `prefix`, the
    heads (names starting with keep_at_top) at the top; old_ln spells
    LayerNorm.weight/bias as LayerNorm.gamma/beta (old TF-converted files)."""
    out = {}
    for k in p:
        name = k if k.startswith(keep_at_top) else prefix + k
        if old_ln:
            name = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        out[name] = k
    return out


def write_folder(name, cfg, tensors, dtype, shards=1):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(VOCAB) + "\n")
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "model_max_length": MAX_POS, "tokenizer_class":
                   "DistilBertTokenizer" if cfg["model_type"] == "distilbert" else "BertTokenizer",
                   "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                   "cls_token": "[CLS]", "mask_token": "[MASK]"}, f, indent=2)
        f.write("\n")
    meta = {"format": "pt"}
    names = list(tensors)
    if shards == 1:
        st.save(os.path.join(d, "model.safetensors"), tensors, dtype=dtype, metadata=meta)
        return
    per = (len(names) + shards - 1) // shards
    weight_map, total = {}, 0
    for s in range(shards):
        fname = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
        part = {n: tensors[n] for n in names[s * per:(s + 1) * per]}
        st.save(os.path.join(d, fname), part, dtype=dtype, metadata=meta)
        for n, t in part.items():
            weight_map[n] = fname
            total += t.numel() * {"F32": 4, "F16": 2, "BF16": 2}[dtype]
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
        f.write("\n")


def rounded(p, dtype):
    return {k: torch.from_numpy(st.round_to(v.numpy(), dtype)) for k, v in p.items()}


def references(forward, p, cfg):
    refs = {}
    sets = {"single": [encode(t) for t in TEXTS], "pair": [encode(a, b) for a, b in PAIRS]}
    for key, encs in sets.items():
        ids, mask, types = batch(encs)
        if cfg["model_type"] == "distilbert":
            types = np.zeros_like(types)
        refs[key + "_input_ids"] = ids
        refs[key + "_attention_mask"] = mask
        refs[key + "_token_type_ids"] = types
        with torch.no_grad():
            o = forward(p, cfg, torch.from_numpy(ids).long(), torch.from_numpy(mask).long(),
                        torch.from_numpy(types).long())
        for k, v in o.items():
            refs[key + "_" + k] = v.numpy().astype(np.float32)
        h, m = o["hidden"], torch.from_numpy(mask).double()[:, :, None]
        refs[key + "_embed_mean"] = ((h * m).sum(1) / m.sum(1).clamp(min=1e-9)).numpy().astype(np.float32)
        refs[key + "_embed_cls"] = h[:, 0].numpy().astype(np.float32)
    return refs


def bert_config(arch, H, L, nh, I, labels=None, act="gelu"):
    cfg = {"architectures": [arch], "model_type": "bert", "vocab_size": len(VOCAB), "hidden_size": H,
           "num_hidden_layers": L, "num_attention_heads": nh, "intermediate_size": I, "hidden_act": act,
           "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
           "max_position_embeddings": MAX_POS, "type_vocab_size": 2, "initializer_range": 0.02,
           "layer_norm_eps": 1e-12, "pad_token_id": 0, "position_embedding_type": "absolute",
           "use_cache": True, "classifier_dropout": None, "torch_dtype": "float32",
           "transformers_version": "4.40.0"}
    if labels:
        cfg["id2label"] = {str(i): l for i, l in enumerate(labels)}
        cfg["label2id"] = {l: i for i, l in enumerate(labels)}
    return cfg


def distilbert_config(arch, D, L, nh, I, labels=None):
    cfg = {"architectures": [arch], "model_type": "distilbert", "vocab_size": len(VOCAB), "dim": D,
           "n_layers": L, "n_heads": nh, "hidden_dim": I, "activation": "gelu", "dropout": 0.1,
           "attention_dropout": 0.1, "max_position_embeddings": MAX_POS, "sinusoidal_pos_embds": False,
           "initializer_range": 0.02, "qa_dropout": 0.1, "seq_classif_dropout": 0.2, "pad_token_id": 0,
           "tie_weights_": True, "torch_dtype": "float32", "transformers_version": "4.40.0"}
    if labels:
        cfg["id2label"] = {str(i): l for i, l in enumerate(labels)}
        cfg["label2id"] = {l: i for i, l in enumerate(labels)}
    return cfg


def make(name, seed, cfg, params, forward, dtype, stored, shards=1):
    """stored: {checkpoint name: model name} of the tensors to write."""
    p = rounded(params, dtype)
    tensors = {k: p[v] for k, v in stored.items()}
    write_folder(name, cfg, tensors, dtype, shards)
    st.save(os.path.join(OUT, name + ".ref.safetensors"), references(forward, p, cfg),
            metadata={"model": name, "seed": seed})


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed

    # 1. BertForMaskedLM, F32, "bert." prefix, decoder tied (not stored), no pooler.
    cfg = bert_config("BertForMaskedLM", 32, 2, 4, 37)
    p = bert_params(g(1), cfg, pooler=False, mlm=True, n_labels=0)
    make("bert_mlm", 1, cfg, p, bert_forward, "F32", stored_map(p, "bert.", "cls."))

    # 2. The bert-base-uncased layout in F16: pooler, MLM head with the decoder
    #    stored (weight + bias), next-sentence head, position_ids, old gamma/beta
    #    names, 6 heads of 8.
    cfg = bert_config("BertForMaskedLM", 48, 2, 6, 80)
    p = bert_params(g(2), cfg, pooler=True, mlm=True, n_labels=0)
    p["cls.predictions.decoder.weight"] = p["embeddings.word_embeddings.weight"]
    stored = stored_map(p, "bert.", "cls.", old_ln=True)
    extra = {"cls.predictions.decoder.bias": "cls.predictions.bias",
             "cls.seq_relationship.weight": "nsp.weight", "cls.seq_relationship.bias": "nsp.bias",
             "bert.embeddings.position_ids": "position_ids"}
    gg = g(22)
    p["nsp.weight"] = torch.randn(2, 48, generator=gg)
    p["nsp.bias"] = torch.randn(2, generator=gg)
    stored.update(extra)
    pr = rounded(p, "F16")
    tensors = {k: pr[v] for k, v in stored.items() if v != "position_ids"}
    tensors["bert.embeddings.position_ids"] = torch.arange(MAX_POS)[None, :]
    write_folder("bert_f16", cfg, {k: tensors[k] for k in sorted(tensors)}, "F16")
    del pr["nsp.weight"], pr["nsp.bias"]
    st.save(os.path.join(OUT, "bert_f16.ref.safetensors"), references(bert_forward, pr, cfg),
            metadata={"model": "bert_f16", "seed": 2})

    # 3. BertForSequenceClassification, BF16, three labels, GELU-tanh activation.
    cfg = bert_config("BertForSequenceClassification", 32, 2, 2, 48,
                      labels=["negative", "neutral", "positive"], act="gelu_new")
    p = bert_params(g(3), cfg, pooler=True, mlm=False, n_labels=3)
    make("bert_cls_bf16", 3, cfg, p, bert_forward, "BF16",
         stored_map(p, "bert.", "classifier."))

    # 4. BertModel, no prefix, sharded over three files with an index.
    cfg = bert_config("BertModel", 32, 2, 4, 48)
    p = bert_params(g(4), cfg, pooler=True, mlm=False, n_labels=0)
    make("bert_sharded", 4, cfg, p, bert_forward, "F32", {k: k for k in p}, shards=3)

    # 5. DistilBertForMaskedLM, F32, "distilbert." prefix, projector tied.
    cfg = distilbert_config("DistilBertForMaskedLM", 32, 2, 4, 40)
    p = distilbert_params(g(5), cfg, mlm=True, n_labels=0)
    make("distilbert_mlm", 5, cfg, p, distilbert_forward, "F32",
         stored_map(p, "distilbert.", "vocab_"))

    # 6. DistilBertForSequenceClassification, F16, sharded in two, two labels.
    cfg = distilbert_config("DistilBertForSequenceClassification", 32, 2, 4, 64, labels=["NEGATIVE", "POSITIVE"])
    p = distilbert_params(g(6), cfg, mlm=False, n_labels=2)
    make("distilbert_cls", 6, cfg, p, distilbert_forward, "F16",
         stored_map(p, "distilbert.", ("pre_classifier", "classifier")), shards=2)

    # 7. DistilBertModel, no prefix, BF16, 3 layers of width 24 with 3 heads.
    cfg = distilbert_config("DistilBertModel", 24, 3, 3, 40)
    p = distilbert_params(g(7), cfg, mlm=False, n_labels=0)
    make("distilbert_model", 7, cfg, p, distilbert_forward, "BF16", {k: k for k in p})

    cases = {"texts": TEXTS, "pairs": PAIRS,
             "ids": [encode(t)[0] for t in TEXTS],
             "pair_ids": [encode(a, b)[0] for a, b in PAIRS],
             "pair_type_ids": [encode(a, b)[1] for a, b in PAIRS],
             "tokens": [["[CLS]"] + tokenize(t) + ["[SEP]"] for t in TEXTS],
             "max_position_embeddings": MAX_POS}
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        f.write("{\n" + ",\n".join(" %s: %s" % (json.dumps(k), json.dumps(v)) for k, v in cases.items()) + "\n}")
        f.write("\n")


if __name__ == "__main__":
    main()
