#!/usr/bin/python3
"""SentencePiece golden data for tests/unit/test_tokenizer_spm.c.

Trains five small SentencePiece models with fixed seeds on German and
English messages from Debian's German translation catalogs (the .mo files of
apt, tar and the ISO 3166 country names, read with Python's gettext), then
records what SentencePiece (Debian's python3-sentencepiece 0.1.97) gives for
a few hundred inputs: ids and pieces of Encode, and Decode of those ids, plus
Decode of random id sequences (byte pieces that break UTF-8, control and
unknown pieces in the middle).

Models (vocabularies of 300-800 pieces):
  uni.model        unigram, nmt_nfkc (SentencePiece's default), pad piece
  bpe.model        BPE, a small custom rule table (full-width letters,
                   ligatures, a two-code-point rule, a deletion), a
                   denormalization table, T5-like ids (pad 0, eos 1, unk 2)
  uni_bytes.model  unigram, byte_fallback, low character coverage
  bpe_bytes.model  BPE, byte_fallback, user-defined symbols, identity
  ident.model      unigram, identity, user-defined symbols, no dummy prefix,
                   whitespace kept

Also writes the seed corpus of tests/fuzz/fuzz_spm.c (tests/fuzz/corpus/spm/):
a small model, cut and damaged copies, and hand-made models with every kind
of protobuf field.

Output: the models and cases.jsonl, one JSON object per line:
  {"model": M, "info": {"vocab": V, "unk": u, "bos": b, "eos": e, "pad": p}}
  {"model": M, "text": T, "ids": [...], "pieces": [...], "decoded": D}
  (pieces only for the hand-picked inputs)
  {"model": M, "decode_ids": [...], "decoded": D}

Run from the repository root: /usr/bin/python3 tests/golden/spm/gen_spm.py
"""
import gettext
import json
import os
import random
import shutil
import struct
import tempfile

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
MO = "/usr/share/locale/de/LC_MESSAGES/%s.mo"


def corpus():
    """Lines of German and English text, sorted and deduplicated."""
    lines = set()
    for name in ("apt", "tar", "iso_3166-1"):
        with open(MO % name, "rb") as f:
            cat = gettext.GNUTranslations(f)._catalog
        for k, v in cat.items():
            if isinstance(k, tuple):
                k = k[0]
            for s in (k, v):
                for line in s.split("\n"):
                    line = line.strip()
                    if 3 <= len(line) <= 200:
                        lines.add(line)
    return sorted(lines)


# A few normalization rules (source code points, target code points).
RULES = [
    ("FF21", "41"), ("FF22", "42"), ("FF23", "43"), ("FF41", "61"), ("FF42", "62"),
    ("FF43", "63"), ("FB01", "66 69"), ("FB02", "66 6C"), ("2460", "31"),
    ("41 300", "C0"), ("65 301", "E9"), ("200B", ""), ("3000", "20"), ("9", "20"),
    ("2126", "3A9"), ("212B", "C5"),
]
DENORM = [("40", "28 61 74 29")]  # "@" -> "(at)" when decoding


def write_tsv(path, rules):
    with open(path, "w") as f:
        for a, b in rules:
            f.write("%s\t%s\n" % (a, b))


MODELS = {
    "uni": dict(model_type="unigram", vocab_size=800, pad_id=3),
    "bpe": dict(model_type="bpe", vocab_size=600, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
                normalization_rule_tsv="rules.tsv", denormalization_rule_tsv="denorm.tsv"),
    "uni_bytes": dict(model_type="unigram", vocab_size=700, byte_fallback=True,
                      character_coverage=0.98, normalization_rule_tsv="rules.tsv"),
    "bpe_bytes": dict(model_type="bpe", vocab_size=700, byte_fallback=True,
                      character_coverage=0.99, normalization_rule_name="identity",
                      user_defined_symbols=["<sep>", "[MASK]", "@@", "ß"],
                      control_symbols=["<ctl>"]),
    "ident": dict(model_type="unigram", vocab_size=500, normalization_rule_name="identity",
                  user_defined_symbols=["<sep>", "[MASK]", "http://", "ÄÖÜ"],
                  add_dummy_prefix=False, remove_extra_whitespaces=False),
}

CRAFTED = [
    "", " ", "   ", "\t", "\n", "a", "Das Haus ist klein.", "The house is small.",
    "  Das   Haus\t ist \n klein.  ", "Größe Übung Äpfel öffnen", "caf\u00e9 cafe\u0301",
    "A\u0300 la carte", "\uff21\uff22\uff23 \uff41\uff42\uff43 full width",
    "\ufb01le \ufb02ow ligatures", "\u2460\u2461\u2462 \u2163 \u2122 \u33a1 \u00bd",
    "\u2126 \u212b \u00c5ngstr\u00f6m", "zero\u200bwidth\u200bspace", "ideographic\u3000space",
    "emoji \U0001F600\U0001F44D\U0001F3FD done", "\U0001F600", "日本語のテキスト",
    "中文 测试", "한국어", "Ελληνικά κείμενα", "русский текст", "עברית", "العربية",
    "ﾊﾝｶｸｶﾀｶﾅ", "<s> </s> <unk> <pad>", "<0x41><0xFF>", "<sep>[MASK]<sep>",
    "a<sep>b [MASK] c", "http://example.org/path?x=1", "ÄÖÜ äöü ÄÖÜÄÖÜ", "ßtraße Straße",
    "@@ foo@@bar @", "mail an jemand@example.org", "<ctl> ctl", "1234567890 3.14159 1,000,000",
    "!!!??? ... --- ((( )))", "\u00a0non\u00a0breaking\u00a0", "tab\tand\nnewline\r\nend",
    "x" * 60, "abcdefghijklmnopqrstuvwxyz " * 3, "ÆØÅ æøå Þ ð Ł ł", "\u0301 leading mark",
    "a\u0308o\u0308u\u0308", "Ǆ ǅ ǆ", "Ⅻ ⅻ", "㍻ ㌀", "\ufdfa", "€ £ ¥ ₹ ₿",
    "Kontrollzeichen \u0007 \u001b drin", "soft\u00adhyphen", "ＨｅｌｌｏＷｏｒｌｄ",
    "Paket konnte nicht gefunden werden", "E: Unable to locate package foo",
    "Sie müssen zuerst einige »Quellen« eintragen.", "Vereinigte Staaten von Amerika",
    "Korea, Demokratische Volksrepublik", "   leading", "trailing   ", "mid    run",
    "\u2581 lower block", "\u2581\u2581", "a\u2581b",
]


def random_text(rng, pool):
    """A random mix of corpus words, odd characters and whitespace."""
    odd = list("äöüßÄÖÜé ́\u00a0\t\n  ,.!?-") + ["\U0001F600", "\uff21", "\ufb01", "中", "Ж",
                                                   "<sep>", "[MASK]", "\u200b", "ǅ", "\u2460"]
    out = []
    for _ in range(rng.randint(1, 8)):
        if rng.random() < 0.6:
            out.append(rng.choice(pool))
        else:
            out.append("".join(rng.choice(odd) for _ in range(rng.randint(1, 4))))
    return " ".join(out) if rng.random() < 0.5 else "".join(out)


def train(name, args, lines, tmp):
    """Trains in tmp with relative names, so the model holds no paths."""
    spm.set_random_generator_seed(1234)
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_prefix=name, num_threads=1,
            hard_vocab_limit=False, shuffle_input_sentence=False, minloglevel=2, **args)
    finally:
        os.chdir(cwd)
    dst = os.path.join(HERE, name + ".model")
    shutil.copyfile(os.path.join(tmp, name + ".model"), dst)
    return spm.SentencePieceProcessor(model_file=dst)


# ---- protobuf writing, for the fuzz seeds ---------------------------------------

def pb_varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def pb_key(field, wt):
    return pb_varint(field << 3 | wt)


def pb_len(field, data):
    return pb_key(field, 2) + pb_varint(len(data)) + data


def pb_int(field, v):
    return pb_key(field, 0) + pb_varint(v)


def pb_piece(piece, score, typ=None):
    body = pb_len(1, piece.encode()) + pb_key(2, 5) + struct.pack("<f", score)
    if typ is not None:
        body += pb_int(3, typ)
    return pb_len(1, body)


def pb_junk():
    """Fields of every wire type, a group with a group inside."""
    return (pb_int(900, -5) + pb_key(901, 1) + bytes(range(8)) + pb_key(902, 5) + b"abcd"
            + pb_len(903, b"skip") + pb_key(904, 3) + pb_int(1, 7) + pb_key(2, 3)
            + pb_len(3, b"x") + pb_key(2, 4) + pb_key(904, 4))


def fuzz_seeds():
    out = os.path.join(HERE, "..", "..", "fuzz", "corpus", "spm")
    os.makedirs(out, exist_ok=True)
    seeds = {}
    with open(os.path.join(HERE, "ident.model"), "rb") as f:
        seeds["ident"] = f.read()
    with open(os.path.join(HERE, "bpe.model"), "rb") as f:
        bpe = bytearray(f.read())
    seeds["truncated"] = bytes(bpe[:3000])
    flipped = bytearray(bpe)
    rng = random.Random(5)
    for _ in range(12):
        flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
    seeds["flipped"] = bytes(flipped)
    sp = "\u2581"
    tiny = (pb_junk() + pb_piece("<unk>", 0, 2) + pb_piece("<s>", 0, 3) + pb_piece("</s>", 0, 3)
            + pb_piece(sp + "ab", -1) + pb_piece(sp + "a", -2, 1) + pb_piece("a", -3)
            + pb_piece("b", -3) + pb_piece(sp, -4) + pb_piece("<sep>", 0, 4)
            + pb_piece("<0x41>", 0, 6) + pb_piece("<0xF0>", 0, 6) + pb_piece("x", 0, 5))
    seeds["tiny_unigram"] = tiny + pb_len(2, pb_junk() + pb_int(3, 1) + pb_int(35, 1)) \
        + pb_len(3, pb_len(1, b"identity") + pb_junk())
    seeds["tiny_bpe"] = tiny + pb_len(2, pb_int(3, 2) + pb_int(35, 1)) \
        + pb_len(3, pb_int(3, 0) + pb_int(4, 0))
    # a map of 2 units and two replacements: "a" -> "bc"
    charsmap = (struct.pack("<I", 8) + struct.pack("<II", 0x60 << 10, 0x61 | 0x100 | 3 << 10)
                + b"bc\0")
    seeds["tiny_map"] = tiny + pb_len(2, pb_int(35, 1)) + pb_len(3, pb_len(2, charsmap))
    seeds["empty"] = b""
    seeds["bad_varint"] = pb_key(1, 0) + b"\xff" * 11
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


def main():
    lines = corpus()
    held = lines[::10]
    train_lines = [l for i, l in enumerate(lines) if i % 10]
    words = sorted({w for l in held for w in l.split()})
    tmp = tempfile.mkdtemp()
    write_tsv(os.path.join(tmp, "rules.tsv"), RULES)
    write_tsv(os.path.join(tmp, "denorm.tsv"), DENORM)
    records = []
    try:
        for name in sorted(MODELS):
            sp = train(name, MODELS[name], train_lines, tmp)
            rng = random.Random(sum(map(ord, name)))
            V = sp.get_piece_size()
            records.append({"model": name, "info": {
                "vocab": V, "unk": sp.unk_id(), "bos": sp.bos_id(), "eos": sp.eos_id(),
                "pad": sp.pad_id()}})
            texts = list(CRAFTED) + held[:60] + [random_text(rng, words) for _ in range(45)]
            for k, text in enumerate(texts):
                ids = sp.encode(text)
                rec = {"model": name, "text": text, "ids": ids}
                if k < len(CRAFTED):  # pieces too, for the hand-picked inputs
                    rec["pieces"] = [sp.id_to_piece(i) for i in ids]
                rec["decoded"] = sp.decode(ids)
                records.append(rec)
            # decoding of arbitrary sequences, byte pieces and specials among them
            specials = [i for i in range(V) if sp.is_control(i) or sp.is_unknown(i)
                        or sp.is_byte(i)]
            for _ in range(40):
                seq = []
                for _ in range(rng.randint(0, 12)):
                    r = rng.random()
                    if r < 0.35 and specials:
                        seq.append(rng.choice(specials))
                    else:
                        seq.append(rng.randrange(V))
                records.append({"model": name, "decode_ids": seq, "decoded": sp.decode(seq)})
    finally:
        shutil.rmtree(tmp)
    with open(os.path.join(HERE, "cases.jsonl"), "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    fuzz_seeds()


if __name__ == "__main__":
    main()
