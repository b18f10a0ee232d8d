"""The hypothesis rules of the beam search (include/transformer.h, Translation;
those of transformers 5's generate), shared by the golden generator
(gen_marian.py) and the training tools (tools/train_de_en/marian.py), which
differ only in how they run the model.

Plain Python: no torch, no side effects on import.
"""


def keep(hyps, K, score, toks):
    """Adds a finished hypothesis (score, toks) to a sentence's K best."""
    if len(hyps) < K or score > min(h[0] for h in hyps):
        hyps.append((score, toks))
        if len(hyps) > K:
            hyps.remove(min(hyps, key=lambda h: h[0]))


def step(beams, hyps, cands, t, K, lpen, early, last, eos):
    """One step of one sentence. beams: its running (toks, score); cands: its
    2K best continuations (score, beam index, token), best first. A candidate
    among the first K that ends (EOS, or any token at the last step) becomes
    a hypothesis scored sum / (tokens, the last included) ** lpen; the K best
    other candidates run on. Returns the next running beams and whether the
    sentence can still gain: fewer than K hypotheses, or (without early
    stopping) its best running beam over the current length beats its worst
    hypothesis."""
    nxt = []
    for rank, (sc, k, v) in enumerate(cands):
        if last or v == eos:
            if rank < K:
                keep(hyps, K, sc / ((t + 1) ** lpen), beams[k][0] + [v])
            continue
        nxt.append((beams[k][0] + [v], sc))
        if len(nxt) == K:
            break
    can_gain = not last and (len(hyps) < K or (not early and nxt[0][1] / ((t + 1) ** lpen) >
                                               min(h[0] for h in hyps)))
    return nxt, can_gain
