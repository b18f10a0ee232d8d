#!/usr/bin/python3
"""Trains and exports the tiny text classifier that examples/classifier.c runs.

The model is the classic one of the Keras text-classification tutorial:
token embedding + learned position embedding -> one post-norm transformer
block (self-attention, ReLU feed-forward, residuals and LayerNorm) ->
average pooling over the (unpadded) positions -> dense -> softmax.

It learns a toy sentiment task (negative / neutral / positive) on generated
sentences, so the example prints sensible answers. Outputs:
  examples/classifier_data/vocab.txt              one word per line (id = line)
  examples/classifier_data/classifier.safetensors weights (f32, PyTorch names)
  tests/golden/layers_classifier.safetensors      test batch + float64 probabilities
Run with Debian's /usr/bin/python3 (torch 1.13). Seeds are fixed.
"""
import os
import random
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "golden"))
import st  # noqa: E402

MAXLEN, D, HEADS, FF = 16, 16, 2, 32
CLASSES = ["negative", "neutral", "positive"]
POS = "good great excellent wonderful love enjoyed best fun happy brilliant".split()
NEG = "bad awful terrible boring hate worst poor dull sad horrible".split()
NEU = ("the a movie film plot actors story was is it this and very quite but "
       "ending music scenes i of to").split()
VOCAB = ["<pad>", "<unk>"] + NEU + POS + NEG
IDS = {w: i for i, w in enumerate(VOCAB)}


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(len(VOCAB), D)
        self.pos = nn.Embedding(MAXLEN, D)
        self.block = nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, activation="relu",
                                                batch_first=True, norm_first=False)
        self.dense = nn.Linear(D, len(CLASSES))

    def logits(self, ids, pad):
        s = ids.shape[1]
        x = self.tok(ids) + self.pos(torch.arange(s))[None]
        x = self.block(x, src_key_padding_mask=pad)
        keep = (~pad).to(x.dtype)[..., None]
        pooled = (x * keep).sum(1) / keep.sum(1)
        return self.dense(pooled)

    def forward(self, ids, pad):
        return torch.softmax(self.logits(ids, pad), dim=-1)


def sentence(rng):
    n = rng.randint(4, MAXLEN)
    words = [rng.choice(NEU) for _ in range(n)]
    label = rng.randint(0, 2)
    k = rng.randint(1, 3)
    for _ in range(k if label != 1 else rng.choice([0, 1])):
        pool = NEG if label == 0 else POS if label == 2 else rng.choice([NEG, POS])
        words[rng.randrange(n)] = rng.choice(pool)
    if label == 1:  # neutral: no sentiment words, or one of each
        if any(w in POS or w in NEG for w in words):
            words[rng.randrange(n)] = rng.choice(POS)
            words[rng.randrange(n)] = rng.choice(NEG)
    npos = sum(w in POS for w in words)
    nneg = sum(w in NEG for w in words)
    label = 2 if npos > nneg else 0 if nneg > npos else 1
    return words, label


def batch(sents):
    ids = torch.zeros(len(sents), MAXLEN, dtype=torch.long)
    pad = torch.ones(len(sents), MAXLEN, dtype=torch.bool)
    for i, ws in enumerate(sents):
        for j, w in enumerate(ws[:MAXLEN]):
            ids[i, j] = IDS.get(w, 1)
            pad[i, j] = False
    return ids, pad


def main():
    torch.manual_seed(7)
    rng = random.Random(7)
    model = Classifier()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(600):
        data = [sentence(rng) for _ in range(64)]
        ids, pad = batch([w for w, _ in data])
        y = torch.tensor([l for _, l in data])
        p = model(ids, pad)
        loss = nn.functional.nll_loss(torch.log(p + 1e-9), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    test = [sentence(rng) for _ in range(200)]
    ids, pad = batch([w for w, _ in test])
    acc = (model(ids, pad).argmax(-1) == torch.tensor([l for _, l in test])).double().mean()
    print(f"final loss {loss.item():.3f}, held-out accuracy {acc.item():.3f}")

    os.makedirs(os.path.join(HERE, "classifier_data"), exist_ok=True)
    with open(os.path.join(HERE, "classifier_data", "vocab.txt"), "w") as f:
        f.write("\n".join(VOCAB) + "\n")
    sd = {k: v.detach().float() for k, v in model.state_dict().items()}
    st.save(os.path.join(HERE, "classifier_data", "classifier.safetensors"), sd, dtype="F32",
            metadata={"max_len": MAXLEN, "d_model": D, "n_heads": HEADS, "d_ff": FF,
                      "classes": ",".join(CLASSES)})

    # Reference: the f32 weights in float64, on sentences of different lengths.
    model = model.double()
    with torch.no_grad():
        for k, v in model.state_dict().items():
            v.copy_(sd[k].double())
    texts = ["the movie was great and the music was wonderful",
             "a boring plot and awful actors",
             "it is a film",
             "i love this film but the ending was sad and dull",
             "excellent"]
    ids, pad = batch([t.split() for t in texts])
    logits = model.logits(ids, pad)  # grad enabled: PyTorch's reference path
    probs = torch.softmax(logits, dim=-1)
    for t, p in zip(texts, probs):
        print(f"{CLASSES[int(p.argmax())]:>8}  {t}")
    st.save(os.path.join(HERE, "..", "tests", "golden", "layers_classifier.safetensors"),
            {"logits": logits.detach(), "probs": probs.detach(), "ids": ids.to(torch.int32)},
            dtypes={"ids": "I32", "logits": "F64", "probs": "F64"},
            metadata={"texts": "|".join(texts)})


if __name__ == "__main__":
    main()
