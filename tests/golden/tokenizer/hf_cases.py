#!/usr/bin/env python3
"""Expected tokenizations from the Hugging Face `transformers` tokenizers.

Writes bert_hf_cases.jsonl and gpt2_hf_cases.jsonl beside this file: for a
fixed, seeded set of texts (accents, CJK, emoji, punctuation, whitespace runs,
control characters, contractions, digits, long words, mixed scripts), the ids
that BertTokenizer (bert-base-uncased files) and GPT2Tokenizer (gpt2 files)
produce, and their decodings. Needs `transformers`; run where it is installed:

    python3 hf_cases.py VOCAB_DIR    # VOCAB_DIR holds bert-base-uncased/ and gpt2/

The committed .jsonl files are what the C tests read; this script is how they
were made.
"""
import json
import os
import random
import sys

PIECES = [
    "Hello", "world", "HELLO", "naïve", "café", "Ünïcödé", "résumé", "Ångström", "façade",
    "Straße", "ÉCOLE", "crème brûlée", "São Paulo", "Zürich", "Dvořák", "Łódź",
    "中文", "我爱北京天安门", "日本語のテキスト", "한국어", "ひらがな", "カタカナ",
    "😀", "👍🏽", "🇩🇪", "👨‍👩‍👧", "❤️", "★", "→", "∑", "√2", "½", "²", "①",
    "don't", "I'm", "we'll", "they've", "she'd", "it's", "'s", "O'Reilly", "rock'n'roll",
    "12345", "3.14159", "1,000,000", "2026-11-26", "v1.2.3", "#hashtag", "@user",
    "e-mail", "state-of-the-art", "C++", "f(x)=x^2", "<tag>", "[MASK]", "[CLS]", "<|endoftext|>",
    "http://example.com/a?b=c&d=e", "user@example.com", "...", "!!!", "?!", "--", "—", "–",
    "«quoted»", "“smart”", "‘single’", "¿Qué?", "¡Hola!", "Привет", "мир", "Ελληνικά", "Σίσυφος",
    "עברית", "العربية", "हिन्दी", "ภาษาไทย", "tiếng Việt", "Ⅻ", "ﬁ", "ﬀ",
    "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "a" * 120, "xyz" * 40, "\t", "\n", "  ", "   ", "\r\n", "\u00a0", "\u3000", "\u200b",
    "\u0007", "\u001b", "\u0085", "\u2028", "x\u0301", "e\u0308", "\ufeff", "\ufffd",
    "The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", ".", ",", ";", ":",
    "Das", "Haus", "ist", "klein", "Mädchen", "über", "größer", "Öl",
]


def make_texts(seed, n):
    rng = random.Random(seed)
    texts = ["", " ", "a", "A.", "hello world", "Hello, world!", "  leading and trailing  ",
             "multiple   spaces\tand\ttabs\n\nnewlines", "The capital of France is [MASK]."]
    for _ in range(n):
        k = rng.randint(1, 8)
        seps = [" ", " ", " ", "", "  ", "\t", "\n", ", ", ". "]
        parts = []
        for i in range(k):
            parts.append(rng.choice(PIECES))
            if i + 1 < k:
                parts.append(rng.choice(seps))
        texts.append("".join(parts))
    return texts


def main():
    from transformers import BertTokenizer, GPT2Tokenizer

    vocab_dir = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    texts = make_texts(20261126, 400)

    bert = BertTokenizer(os.path.join(vocab_dir, "bert-base-uncased", "vocab.txt"),
                         do_lower_case=True)
    with open(os.path.join(here, "bert_hf_cases.jsonl"), "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            enc = bert(t)
            ids = enc["input_ids"]
            rec = {"id": "hf-%03d" % i, "text": t, "ids": ids,
                   "tokens": bert.convert_ids_to_tokens(ids),
                   "decoded": bert.decode(ids, skip_special_tokens=True)}
            if i % 5 == 0 and i + 1 < len(texts):
                pair = texts[i + 1]
                penc = bert(t, pair)
                rec["text_pair"] = pair
                rec["pair_ids"] = penc["input_ids"]
                rec["pair_type_ids"] = penc["token_type_ids"]
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")

    gpt2 = GPT2Tokenizer(os.path.join(vocab_dir, "gpt2", "vocab.json"),
                         os.path.join(vocab_dir, "gpt2", "merges.txt"))
    with open(os.path.join(here, "gpt2_hf_cases.jsonl"), "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            ids = gpt2(t)["input_ids"]
            rec = {"id": "hf-%03d" % i, "text": t, "ids": ids,
                   "tokens": gpt2.convert_ids_to_tokens(ids),
                   "decoded": gpt2.decode(ids)}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print("wrote", len(texts), "cases per tokenizer")


if __name__ == "__main__":
    main()
