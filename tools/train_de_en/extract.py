#!/usr/bin/python3
"""German-English pairs from Debian's dict-freedict-deu-eng (the Ding dictionary).

Reads /usr/share/dictd/freedict-deu-eng.dict.dz (dictd format: gzip-compatible),
whose entries are a headword line "German /IPA/ <grammar>" followed by the
English translations (alternatives separated by ", "), then optional
"Synonym", "see:" and "Note:" lines. Keeps:
  - sentences: headwords of several words ending in . ? or ! (the example
    sentences and sayings), with the first English alternative that is a
    whole sentence;
  - phrases and words: every other headword, with its first translation;
drops entries with placeholders (etw., jdn., sth., sb. ...), slashed variants
and annotations ([Am.], <n>, {...}, (...)), deduplicates the pairs, and
splits them by German text (all pairs of one German string on the same
side) with a fixed seed: the held-out set is sentences only.

usage: extract.py OUT_DIR [--heldout N] [--seed S] [--dict PATH]
writes OUT_DIR/train.tsv, OUT_DIR/heldout.tsv (German TAB English) and
OUT_DIR/extract.json (counts).
"""
import argparse
import gzip
import json
import os
import random
import re

DICT = "/usr/share/dictd/freedict-deu-eng.dict.dz"
HEAD = re.compile(r"^(\S.*?) /[^/]*/(?: <[^>]*>)?\s*$")
PLACEHOLDER = re.compile(r"\b(etw|jdn|jdm|jds|jd|sth|sb|sb's|o\.s|so|usw|etc)\.", re.I)
SENT_END = re.compile(r"[.?!]$")


def clean(s):
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"<[^>]*>", " ", s)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\([^)]*\)", " ", s)
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r" ([.,?!;:])", r"\1", s)
    return s


def entries(text):
    """(german headword, [english lines]) in file order."""
    head, body = None, []
    for line in text.split("\n"):
        m = HEAD.match(line)
        if m:
            if head is not None:
                yield head, body
            head, body = m.group(1).strip(), []
        elif head is not None and line and not line.startswith("   ") and \
                not line.startswith(" see:") and not line.startswith("         Note"):
            body.append(line.strip())
    if head is not None:
        yield head, body


def first_translation(de, lines, sentence):
    for line in lines:
        line = clean(line)
        if not line:
            continue
        if sentence:
            alts = re.split(r"(?<=[.?!]), ", line)
        else:
            alts = line.split(", ")
        for a in alts:
            a = a.strip().rstrip(";").strip()
            if not a or "/" in a or "|" in a or PLACEHOLDER.search(a):
                continue
            if sentence and not SENT_END.search(a):
                continue
            return a
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--heldout", type=int, default=500)
    ap.add_argument("--seed", type=int, default=20240607)
    ap.add_argument("--dict", default=DICT)
    a = ap.parse_args()
    text = gzip.open(a.dict, "rb").read().decode("utf-8")
    pairs, seen = [], set()
    n_sent = 0
    for head, body in entries(text):
        de = clean(head)
        if not de or "/" in de or "|" in de or PLACEHOLDER.search(de) or len(de) > 200:
            continue
        sentence = " " in de and bool(SENT_END.search(de))
        en = first_translation(de, body, sentence)
        if not en or len(en) > 200:
            continue
        if (de, en) in seen:
            continue
        seen.add((de, en))
        pairs.append((de, en, sentence))
        n_sent += sentence
    # split by German string, sentences only in the held-out set
    rng = random.Random(a.seed)
    sent_de = sorted({de for de, en, s in pairs if s})
    rng.shuffle(sent_de)
    held = set(sent_de[: a.heldout])
    os.makedirs(a.out, exist_ok=True)
    n_train = n_held = 0
    with open(os.path.join(a.out, "train.tsv"), "w", encoding="utf-8") as ft, \
            open(os.path.join(a.out, "heldout.tsv"), "w", encoding="utf-8") as fh:
        for de, en, s in pairs:
            if de in held:
                if s:
                    fh.write(de + "\t" + en + "\n")
                    n_held += 1
            else:
                ft.write(de + "\t" + en + "\n")
                n_train += 1
    info = {"source": a.dict, "pairs": len(pairs), "sentences": n_sent, "train": n_train,
            "heldout": n_held, "seed": a.seed}
    with open(os.path.join(a.out, "extract.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
