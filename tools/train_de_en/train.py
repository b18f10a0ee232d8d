#!/usr/bin/python3
"""Trains the bundled German->English translator and exports it as a Marian folder.

usage: train.py WORK_DIR OUT_DIR [--minutes M] [--threads N] [options]

WORK_DIR holds train.tsv, generated.tsv and heldout.tsv from extract.py; OUT_DIR receives
config.json, model.safetensors (F16 unless --f32), vocab.json, source.spm,
target.spm, heldout.tsv (the scored pairs), heldout_pytorch.json,
PROVENANCE.md and scores.json. Steps:
  1. a joint SentencePiece unigram model on both sides of train.tsv
     (python3-sentencepiece); vocab.json maps its pieces to the model's ids
     as Marian folders do: </s> 0, <unk> 1, the pieces, <pad> last;
  2. the Marian-layout model of marian.py trained with label-smoothed
     cross-entropy, Adam and an inverse-square-root schedule, on the CPU with
     --threads threads, until --minutes have passed (per epoch: the
     dictionary's sentences --sent-repeat times, the generated sentences
     once, and --words of its word and phrase pairs, drawn afresh);
  3. the weights rounded to what the export stores, the held-out pairs
     translated greedily and with beam search (the library's rules), BLEU and
     chrF (metrics.py) written to scores.json and PROVENANCE.md, and the
     PyTorch outputs to OUT_DIR/heldout_pytorch.json, against which
     check_c.py and tests/sh/translate_bundled.sh compare the C library.
"""
import argparse
import json
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import marian  # noqa: E402
import metrics  # noqa: E402


def read_tsv(path):
    pairs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) == 2 and p[0] and p[1]:
                pairs.append((p[0], p[1]))
    return pairs


def train_spm(work, pairs, vocab_size, seed):
    import sentencepiece as spm
    txt = os.path.join(work, "spm_input.txt")
    with open(txt, "w", encoding="utf-8") as f:
        for de, en in pairs:
            f.write(de + "\n" + en + "\n")
    prefix = os.path.join(work, "spm")
    spm.SentencePieceTrainer.train(
        input=txt, model_prefix=prefix, vocab_size=vocab_size, model_type="unigram",
        character_coverage=0.9999, unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1,
        input_sentence_size=400000, shuffle_input_sentence=True, seed_sentencepiece_size=200000,
        num_threads=2, minloglevel=2)
    return prefix + ".model"


def vocab_of(sp):
    """Marian-style vocab.json: </s> 0, <unk> 1, pieces, <pad> last."""
    v = {"</s>": 0, "<unk>": 1}
    for i in range(1, sp.get_piece_size()):
        v[sp.id_to_piece(i)] = i + 1
    pad = sp.get_piece_size() + 1
    v["<pad>"] = pad
    return v, pad


def encode(sp, text):
    return [i + 1 if i > 0 else 1 for i in sp.encode(text)] + [0]


def batches(data, max_tokens, rng):
    idx = list(range(len(data)))
    rng.shuffle(idx)
    out = []
    chunk = 4096
    for c in range(0, len(idx), chunk):
        part = sorted(idx[c:c + chunk], key=lambda i: (len(data[i][0]), len(data[i][1])))
        cur, mx = [], 0
        for i in part:
            m = max(mx, len(data[i][0]), len(data[i][1]) + 1)
            if cur and m * (len(cur) + 1) > max_tokens:
                out.append(cur)
                cur, m = [], max(len(data[i][0]), len(data[i][1]) + 1)
            cur.append(i)
            mx = m
        if cur:
            out.append(cur)
    rng.shuffle(out)
    return out


def collate(data, b, pad, start):
    S = max(len(data[i][0]) for i in b)
    T = max(len(data[i][1]) for i in b)
    src = torch.full((len(b), S), pad, dtype=torch.long)
    dec = torch.full((len(b), T), pad, dtype=torch.long)
    lab = torch.full((len(b), T), pad, dtype=torch.long)
    for r, i in enumerate(b):
        s, t = data[i]
        src[r, : len(s)] = torch.tensor(s)
        dec[r, 0] = start
        dec[r, 1: len(t)] = torch.tensor(t[:-1])
        lab[r, : len(t)] = torch.tensor(t)
    return src, src == pad, dec, lab


def translate_all(model, sp_dec, data, pad, max_len, beam_k, bs=32):
    greedy_ids, beam_ids = [], []
    for c in range(0, len(data), bs):
        part = data[c:c + bs]
        S = max(len(s) for s in part)
        src = torch.full((len(part), S), pad, dtype=torch.long)
        for r, s in enumerate(part):
            src[r, : len(s)] = torch.tensor(s)
        greedy_ids += marian.greedy(model, src, src == pad, max_len)
        if beam_k > 1:
            beam_ids += marian.beam(model, src, src == pad, max_len, K=beam_k)
    return greedy_ids, beam_ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("work")
    ap.add_argument("out")
    ap.add_argument("--minutes", type=float, default=80.0, help="training time budget")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=1024)
    ap.add_argument("--max-len", type=int, default=64, help="tokens per side (EOS included)")
    ap.add_argument("--max-tokens", type=int, default=2500, help="tokens per batch and side")
    ap.add_argument("--sent-repeat", type=int, default=3)
    ap.add_argument("--words", type=int, default=250000,
                    help="word and phrase pairs per epoch (0: all)")
    ap.add_argument("--max-pairs", type=int, default=0, help="0: all")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=400)
    ap.add_argument("--beam", type=int, default=4)
    ap.add_argument("--heldout", type=int, default=0, help="held-out pairs scored (0: all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--f32", action="store_true", help="store F32 weights (default F16)")
    a = ap.parse_args()
    t0 = time.time()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    train = read_tsv(os.path.join(a.work, "train.tsv"))
    gen_path = os.path.join(a.work, "generated.tsv")
    generated = read_tsv(gen_path) if os.path.exists(gen_path) else []
    held = read_tsv(os.path.join(a.work, "heldout.tsv"))
    if a.max_pairs:
        rng.shuffle(train)
        train = train[: a.max_pairs]
    if a.heldout:
        held = held[: a.heldout]
    import sentencepiece as spm
    spm_path = train_spm(a.work, train + generated, a.vocab, a.seed)
    sp = spm.SentencePieceProcessor(model_file=spm_path)
    vocab, pad = vocab_of(sp)
    V = pad + 1
    sents, gen, words = [], [], []
    for i, (de, en) in enumerate(train + generated):
        s, t = encode(sp, de), encode(sp, en)
        if len(s) <= a.max_len and len(t) <= a.max_len:
            if i >= len(train):
                gen.append((s, t))
            elif de.endswith((".", "?", "!")) and " " in de:
                sents.append((s, t))
            else:
                words.append((s, t))
    sents = sents * a.sent_repeat + gen
    n_words = min(a.words or len(words), len(words))

    def epoch_data():
        rng.shuffle(words)
        return sents + words[:n_words]
    print("pairs %d + %d generated; per epoch %d sentences, %d words; vocab %d, spm %.0fs" %
          (len(train), len(generated), len(sents), n_words, V, time.time() - t0), flush=True)
    inv = {i: p for p, i in vocab.items()}

    def detok(ids):
        s = "".join(inv[i] for i in ids if i not in (0, 1, pad)).replace("\u2581", " ")
        return s[1:] if s.startswith(" ") else s

    examples = ["Das Haus ist klein.", "Ich habe Hunger.", "Wo ist der Bahnhof?",
                "Das ist ein gutes Buch.", "Er kommt morgen."]
    ex_ids = [encode(sp, x) for x in examples]
    cfg = marian.config(V, pad, d=a.d_model, layers=a.layers, heads=a.heads, ffn=a.ffn,
                        max_pos=max(256, a.max_len + 2))
    cfg["max_length"] = a.max_len + 1
    cfg["num_beams"] = a.beam
    model = marian.Marian(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.98), eps=1e-9)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / a.warmup, (a.warmup / (s + 1)) ** 0.5))
    start = cfg["decoder_start_token_id"]
    deadline = t0 + a.minutes * 60.0
    step = epoch = 0
    tokens = 0
    loss_avg = None
    model.train()
    while time.time() < deadline:
        epoch += 1
        data = epoch_data()
        for b in batches(data, a.max_tokens, rng):
            if time.time() >= deadline:
                break
            src, src_pad, dec, lab = collate(data, b, pad, start)
            mem = model.encode(src, src_pad)
            logits, _ = model.decode(dec, mem, src_pad)
            loss = F.cross_entropy(logits.reshape(-1, V), lab.reshape(-1), ignore_index=pad,
                                   label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            tokens += int((lab != pad).sum())
            loss_avg = loss.item() if loss_avg is None else 0.98 * loss_avg + 0.02 * loss.item()
            if step % 100 == 0:
                print("epoch %d step %d loss %.3f target tokens %d, %.1f min" %
                      (epoch, step, loss_avg, tokens, (time.time() - t0) / 60), flush=True)
            if step % 500 == 0:
                model.eval()
                g, _ = translate_all(model, sp, ex_ids, pad, 24, 1)
                print("  " + " | ".join(detok(x) for x in g), flush=True)
                model.train()
    train_min = (time.time() - t0) / 60
    # ---- the weights as exported, then the held-out scores
    model.eval()
    dtype = "F32" if a.f32 else "F16"
    with torch.no_grad():
        for p in model.parameters():
            if dtype == "F16":
                p.copy_(p.half().float())
    marian.export(model, a.out, vocab, spm_path, dtype=dtype)
    # the held-out pairs travel with the model (scores, checks, bench/translate)
    with open(os.path.join(a.out, "heldout.tsv"), "w", encoding="utf-8") as f:
        for de, en in held:
            f.write(de + "\t" + en + "\n")
    src_ids = [encode(sp, de)[: a.max_len] for de, _ in held]
    g, bm = translate_all(model, sp, src_ids, pad, a.max_len, a.beam)
    refs = [en for _, en in held]
    g_txt = [detok(x) for x in g]
    b_txt = [detok(x) for x in bm] if bm else []
    scores = {
        "heldout_pairs": len(held), "greedy_bleu": metrics.bleu(g_txt, refs),
        "greedy_chrf": metrics.chrf(g_txt, refs), "train_minutes": round(train_min, 1),
        "steps": step, "target_tokens": tokens, "parameters": n_params, "dtype": dtype,
        "final_loss": loss_avg, "threads": a.threads, "args": vars(a)}
    if b_txt:
        scores["beam"] = a.beam
        scores["beam_bleu"] = metrics.bleu(b_txt, refs)
        scores["beam_chrf"] = metrics.chrf(b_txt, refs)
    ex_g, _ = translate_all(model, sp, ex_ids, pad, a.max_len, 1)
    scores["examples"] = {x: detok(y) for x, y in zip(examples, ex_g)}
    with open(os.path.join(a.out, "scores.json"), "w") as f:
        json.dump(scores, f, indent=1, ensure_ascii=False)
    with open(os.path.join(a.out, "heldout_pytorch.json"), "w") as f:
        json.dump({"source_ids": src_ids, "greedy": g, "beam": bm, "beam_size": a.beam,
                   "max_length": a.max_len}, f)
    with open(os.path.join(a.out, "PROVENANCE.md"), "w", encoding="utf-8") as f:
        flat = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in scores.items()}
        f.write(PROVENANCE % dict(
            flat, cmd=" ".join(["tools/train_de_en/train.py"] + sys.argv[1:]),
            beam=("beam %d: BLEU %.1f, chrF %.1f" % (a.beam, scores["beam_bleu"],
                                                   scores["beam_chrf"])) if b_txt else "",
            ex="\n".join("    %s -> %s" % kv for kv in scores["examples"].items())))
    print(json.dumps({k: v for k, v in scores.items() if k != "args"}, ensure_ascii=False,
                     indent=1))


PROVENANCE = """# German-English translator (Marian layout)

Made by `tools/train_de_en` of libtransformer: `%(cmd)s`
(after `tools/train_de_en/extract.py`), from scratch, on the CPU.

## Data and license

The training pairs are the example sentences, phrases and word translations
of the German-English Ding dictionary as Debian ships it in the package
`dict-freedict-deu-eng` (FreeDict edition; /usr/share/dictd/freedict-deu-eng.dict.dz),
and simple sentences that tools/train_de_en/synth.py generates from the
dictionary's own nouns, adjectives and verbs in fixed grammatical frames
("Der Hund ist im Haus." / "The dog is in the house."). The dictionary is
Copyright (C) Frank Richter 1995-2020, Einhard Leichtfuss 2020-2022,
Sebastian Humenda 2021, distributed under the GNU General Public License
version 3 and the GNU Affero General Public License version 3 (the Ding data
itself GPLv2+). This model is trained on that work and is distributed under
the same terms (GPLv3 / AGPLv3); see https://www.gnu.org/licenses/ and the
package's /usr/share/doc/dict-freedict-deu-eng/copyright.

## Scores

On %(heldout_pairs)s held-out sentence pairs the extraction set aside (their
German sentences never appear in training):
greedy: BLEU %(greedy_bleu)s, chrF %(greedy_chrf)s; %(beam)s
(corpus BLEU-4 and chrF of tools/train_de_en/metrics.py). heldout_pytorch.json
holds PyTorch's greedy and beam outputs for them; tools/train_de_en/check_c.py
and libtransformer's tests/sh/translate_bundled.sh compare the C library's
translations with them token for token.

Training: %(train_minutes)s minutes, %(steps)s steps, %(parameters)s
parameters, %(threads)s threads, weights stored as %(dtype)s.

Examples (greedy):
%(ex)s
"""


if __name__ == "__main__":
    main()
