#!/usr/bin/python3
"""German-English pairs from Debian's dict-freedict-deu-eng (the Ding dictionary).

Reads /usr/share/dictd/freedict-deu-eng.dict.dz (dictd format: gzip-compatible),
whose entries are a headword line "German /IPA/ <grammar>" followed by the
English translations (alternatives separated by ", "), then optional quoted
usage examples ('"German"  - English'), "Synonym", "see:" and "Note:" lines.
Keeps:
  - sentences: headwords and usage examples of several words ending in
    . ? or ! (example sentences and sayings), with the first English
    alternative that is a whole sentence;
  - phrases and words: every other headword and usage example, with its
    first translation;
  - generated sentences (synth.py): simple sentences made from the
    dictionary's most frequent nouns (with gender and plural), adjectives
    and verbs in a few grammatical frames ("Das Haus ist klein." /
    "The house is small."), so that the model sees the basic sentence
    patterns that the dictionary's idiomatic examples rarely show;
drops entries with placeholders (etw., jdn., sth., sb. ...), slashed variants
and annotations ([Am.], <n>, {...}, (...)), deduplicates the pairs, and
splits them by German text (all pairs of one German string on the same
side) with a fixed seed: the held-out set is dictionary sentences only,
and no generated sentence equals a held-out German sentence.

usage: extract.py OUT_DIR [--heldout N] [--synth N] [--seed S] [--dict PATH]
writes OUT_DIR/train.tsv (dictionary pairs), OUT_DIR/generated.tsv,
OUT_DIR/heldout.tsv (German TAB English) and OUT_DIR/extract.json (counts).
"""
import argparse
import gzip
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synth  # noqa: E402

DICT = "/usr/share/dictd/freedict-deu-eng.dict.dz"
HEAD = re.compile(r"^(\S.*?) /[^/]*/(?: <([^>]*)>)?\s*$")
EXAMPLE = re.compile(r'^\s+"(.+)"\s+-\s+(.+)$')
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
    """Entries in file order: dicts with head, tag, lines (English), examples
    ([(German, English)]) and see (the names of its see: line)."""
    e = None
    for line in text.split("\n"):
        m = HEAD.match(line)
        if m:
            if e is not None:
                yield e
            e = {"head": m.group(1).strip(), "tag": m.group(2) or "", "lines": [],
                 "examples": [], "see": []}
            continue
        if e is None or not line:
            continue
        x = EXAMPLE.match(line)
        if x:
            e["examples"].append((x.group(1).strip(), x.group(2).strip()))
        elif line.startswith(" see:"):
            e["see"] = re.findall(r"\{([^}]*)\}", line)
        elif not line.startswith("   ") and not line.startswith("         Note"):
            e["lines"].append(line.strip())
    if e is not None:
        yield e


def alternatives(line, sentence):
    line = clean(line)
    alts = re.split(r"(?<=[.?!]), ", line) if sentence else line.split(", ")
    return [a.strip().rstrip(";").strip() for a in alts]


def first_translation(lines, sentence):
    for line in lines:
        for a in alternatives(line, sentence):
            if not a or "/" in a or "|" in a or "\u2026" in a or PLACEHOLDER.search(a):
                continue
            if sentence and not SENT_END.search(a):
                continue
            return a
    return None


def dictionary_pairs(ents):
    """(German, English, is_sentence) from headwords and usage examples."""
    out, seen = [], set()

    def add(de_raw, lines):
        de = clean(de_raw)
        if not de or "/" in de or "|" in de or "\u2026" in de or PLACEHOLDER.search(de) \
                or len(de) > 200:
            return
        sentence = " " in de and bool(SENT_END.search(de))
        en = first_translation(lines, sentence)
        if not en or len(en) > 200 or (de, en) in seen:
            return
        seen.add((de, en))
        out.append((de, en, sentence))

    for e in ents:
        add(e["head"], e["lines"])
        for de, en in e["examples"]:
            add(de, [en])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--heldout", type=int, default=500)
    ap.add_argument("--synth", type=int, default=80000, help="generated sentence pairs")
    ap.add_argument("--seed", type=int, default=20240607)
    ap.add_argument("--dict", default=DICT)
    a = ap.parse_args()
    text = gzip.open(a.dict, "rb").read().decode("utf-8")
    ents = list(entries(text))
    pairs = dictionary_pairs(ents)
    # split by German string, sentences only in the held-out set
    rng = random.Random(a.seed)
    sent_de = sorted({de for de, en, s in pairs if s})
    rng.shuffle(sent_de)
    held = set(sent_de[: a.heldout])
    lex = synth.lexicon(ents, [(de, en) for de, en, s in pairs if " " in de], alternatives)
    gen = [(de, en) for de, en in synth.sentences(lex, a.synth, random.Random(a.seed + 1))
           if de not in held]
    os.makedirs(a.out, exist_ok=True)
    n_train = n_held = n_sent = 0
    with open(os.path.join(a.out, "train.tsv"), "w", encoding="utf-8") as ft, \
            open(os.path.join(a.out, "generated.tsv"), "w", encoding="utf-8") as fg, \
            open(os.path.join(a.out, "heldout.tsv"), "w", encoding="utf-8") as fh:
        for de, en, s in pairs:
            if de in held:
                if s:
                    fh.write(de + "\t" + en + "\n")
                    n_held += 1
            else:
                ft.write(de + "\t" + en + "\n")
                n_train += 1
                n_sent += s
        for de, en in gen:
            fg.write(de + "\t" + en + "\n")
    info = {"source": a.dict, "dictionary_pairs": len(pairs),
            "dictionary_sentences": len(sent_de), "train_dictionary": n_train,
            "train_dictionary_sentences": n_sent, "train_generated": len(gen),
            "heldout": n_held, "lexicon": {k: len(v) for k, v in lex.items()}, "seed": a.seed}
    with open(os.path.join(a.out, "extract.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
