"""Corpus BLEU and chrF, written for this project (no outside package).

bleu(hyps, refs): corpus BLEU-4 (Papineni et al. 2002) on the text split at
whitespace after punctuation is set apart (a simplified 13a tokenization),
uniform weights, brevity penalty; 0..100.
chrf(hyps, refs): character n-gram F-score (Popovic 2015), n = 1..6 averaged,
beta = 2, whitespace removed; 0..100.
"""
import math
import re
from collections import Counter

_PUNCT = re.compile(r"([^\w\s'])")


def tokenize(s):
    return _PUNCT.sub(r" \1 ", s).split()


def _ngrams(toks, n):
    return Counter(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))


def bleu(hyps, refs, max_n=4):
    match = [0] * max_n
    total = [0] * max_n
    hl = rl = 0
    for h, r in zip(hyps, refs):
        ht, rt = tokenize(h), tokenize(r)
        hl += len(ht)
        rl += len(rt)
        for n in range(1, max_n + 1):
            hn, rn = _ngrams(ht, n), _ngrams(rt, n)
            match[n - 1] += sum(min(c, rn[g]) for g, c in hn.items())
            total[n - 1] += max(len(ht) - n + 1, 0)
    if hl == 0 or min(match) == 0:
        return 0.0
    logp = sum(math.log(match[i] / total[i]) for i in range(max_n)) / max_n
    bp = 1.0 if hl > rl else math.exp(1 - rl / hl)
    return 100.0 * bp * math.exp(logp)


def chrf(hyps, refs, max_n=6, beta=2.0):
    prec = [0.0] * max_n
    rec = [0.0] * max_n
    cnt = [0] * max_n
    # corpus statistics: sums of matches and counts per order
    m = [0] * max_n
    hc = [0] * max_n
    rc = [0] * max_n
    for h, r in zip(hyps, refs):
        h = re.sub(r"\s+", "", h)
        r = re.sub(r"\s+", "", r)
        for n in range(1, max_n + 1):
            hn = Counter(h[i:i + n] for i in range(len(h) - n + 1))
            rn = Counter(r[i:i + n] for i in range(len(r) - n + 1))
            m[n - 1] += sum(min(c, rn[g]) for g, c in hn.items())
            hc[n - 1] += sum(hn.values())
            rc[n - 1] += sum(rn.values())
    for i in range(max_n):
        prec[i] = m[i] / hc[i] if hc[i] else 0.0
        rec[i] = m[i] / rc[i] if rc[i] else 0.0
        cnt[i] = 1
    p = sum(prec) / max_n
    r = sum(rec) / max_n
    if p + r == 0:
        return 0.0
    b2 = beta * beta
    return 100.0 * (1 + b2) * p * r / (b2 * p + r)


if __name__ == "__main__":
    h = ["the cat sat on the mat .", "hello world"]
    r = ["the cat sat on the mat .", "hello there world"]
    print("bleu", round(bleu(h, r), 2), "chrf", round(chrf(h, r), 2))
    assert abs(bleu(h[:1], r[:1]) - 100.0) < 1e-9
    assert abs(chrf(h[:1], r[:1]) - 100.0) < 1e-9
