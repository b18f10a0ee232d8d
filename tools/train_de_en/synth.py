"""Simple generated sentence pairs from the dictionary's own words.

lexicon() picks the nouns (gender, plural), adjectives and verbs that occur
most often in the dictionary's German examples, each with the English
translation that co-occurs most often with it in the example pairs (so
"Haus" is "house", not its first-listed sense "establishment"); sentences()
puts them into a few grammatical frames, with German articles declined by
gender and case. The frames are the sentence patterns a first lesson
teaches ("Der Hund ist im Haus." / "The dog is in the house."); the
dictionary's own examples are mostly idioms.
"""
import collections
import re

WORD = re.compile(r"[A-Za-z\u00c4\u00d6\u00dc\u00e4\u00f6\u00fc\u00df]+")
NOUN = re.compile(r"^[A-Z\u00c4\u00d6\u00dc][a-z\u00e4\u00f6\u00fc\u00df]+$")
LOWER_DE = re.compile(r"^[a-z\u00e4\u00f6\u00fc\u00df]+$")
LOWER_EN = re.compile(r"^[a-z]+$")
GENDERS = {"masc, n, sg": "m", "fem, n, sg": "f", "neut, n, sg": "n"}
SEPARABLE = ("ab", "an", "auf", "aus", "bei", "ein", "fest", "fort", "her", "hin", "los",
             "mit", "nach", "vor", "weg", "weiter", "zu", "zur\u00fcck", "zusammen", "dar",
             "vorbei", "heraus", "hinaus", "um", "durch", "\u00fcber", "wieder", "frei")
SKIP_VERBS = {"sein", "haben", "werden", "k\u00f6nnen", "m\u00fcssen", "wollen", "sollen",
              "d\u00fcrfen", "m\u00f6gen", "m\u00f6chten", "lassen"}
DEF = {"nom": {"m": "der", "f": "die", "n": "das", "p": "die"},
       "acc": {"m": "den", "f": "die", "n": "das", "p": "die"},
       "dat": {"m": "dem", "f": "der", "n": "dem", "p": "den"}}
INDEF = {"nom": {"m": "ein", "f": "eine", "n": "ein"},
         "acc": {"m": "einen", "f": "eine", "n": "ein"}}


def _alts(lines, alternatives):
    out = []
    for line in lines:
        for a in alternatives(line, False):
            out.append(a[3:] if a.startswith("to ") else a)
    return out


def _inflected(adj, heads):
    """Participles, declined and compared forms the dictionary lists as
    adjectives of their own (seiend, andere, kleiner, \u00e4lter)."""
    if adj.endswith(("end", "e")) or adj in ("viel", "wenig", "eigen", "ganz", "weiter"):
        return True
    plain = adj.replace("\u00e4", "a").replace("\u00f6", "o").replace("\u00fc", "u")
    return adj.endswith("er") and (adj[:-2] in heads or plain[:-2] in heads)


def lexicon(ents, example_pairs, alternatives, n_nouns=1500, n_adj=300, n_verbs=250):
    de_index = collections.defaultdict(set)
    en_tokens = []
    for i, (de, en) in enumerate(example_pairs):
        for w in set(WORD.findall(de)):
            de_index[w].add(i)
        en_tokens.append(set(w.lower() for w in WORD.findall(en)))

    def score(de_forms, en_forms):
        rows = set()
        for f in de_forms:
            rows |= de_index.get(f, set())
        hits = sum(1 for r in rows if en_tokens[r] & en_forms)
        return hits, len(rows)

    best = {}

    def offer(kind, key, record, de_forms, en_forms, bonus):
        hits, freq = score(de_forms, en_forms)
        if hits < 2:
            return
        hits += bonus
        old = best.get((kind, key))
        if old is None or hits > old[0]:
            best[(kind, key)] = (hits, freq, record)

    adj_heads = {e["head"] for e in ents if e["tag"] == "adj"}
    for i, e in enumerate(ents):
        head, tag = e["head"], e["tag"]
        alts = _alts(e["lines"], alternatives)
        bonus = 3 * len(e["examples"])  # the dictionary illustrates its main senses
        if tag in GENDERS and NOUN.match(head):
            plural = None
            for f in ents[i + 1: i + 8]:
                if f["tag"] == "pl" and head in f["see"] and NOUN.match(f["head"]):
                    pl_alts = _alts(f["lines"], alternatives)
                    if len(pl_alts) == len(alts):
                        plural = (f["head"], pl_alts)
                    break
            for k, en in enumerate(alts):
                if not LOWER_EN.match(en):
                    continue
                de_pl, en_pl = None, None
                if plural and LOWER_EN.match(plural[1][k]):
                    de_pl, en_pl = plural[0], plural[1][k]
                de_forms = {head} | ({de_pl} if de_pl else set())
                en_forms = {en} | ({en_pl} if en_pl else {en + "s"})
                offer("noun", head, (head, GENDERS[tag], en, de_pl, en_pl), de_forms, en_forms,
                      bonus)
        elif tag == "adj" and LOWER_DE.match(head) and len(head) > 2 and \
                not _inflected(head, adj_heads):
            for en in alts:
                if LOWER_EN.match(en):
                    forms = {head + s for s in ("", "e", "en", "er", "es", "em")}
                    offer("adj", head, (head, en), forms, {en}, bonus)
        elif tag.startswith("v") and "refl" not in tag and LOWER_DE.match(head) and \
                head.endswith("en") and head not in SKIP_VERBS:
            stem = head[:-2]
            for en in alts:
                if LOWER_EN.match(en) and en not in ("be", "have", "get", "do"):
                    de_forms = {head, stem + "t", stem + "e", stem + "st", "ge" + stem + "t"}
                    en_forms = {en, en + "s", en + "ed", en + "d", en + "ing", en + "es"}
                    offer("verb", head, (head, en), de_forms, en_forms, bonus)

    def top(kind, n):
        rows = sorted(((v[1], k[1], v[2]) for k, v in best.items() if k[0] == kind),
                      key=lambda r: (-r[0], r[1]))
        return [r[2] for r in rows[:n]]

    return {"nouns": top("noun", n_nouns), "adjectives": top("adj", n_adj),
            "verbs": top("verb", n_verbs)}


def _a(en):
    return ("an " if en[0] in "aeiou" else "a ") + en


def _cap(s):
    return s[0].upper() + s[1:]


def _attr(adj):
    """Adjective ending after a definite article in the nominative singular."""
    if adj.endswith("e"):
        return adj
    if adj.endswith(("el", "er")):
        return None
    return adj + "e"


def _in(prep, g):
    if prep == "in":
        return "im" if g in "mn" else "in der"
    return prep + " " + DEF["dat"][g]


PREPS = (("in", "in"), ("auf", "on"), ("unter", "under"), ("neben", "next to"),
         ("hinter", "behind"), ("vor", "in front of"))
PRONOUNS = (("Ich bin", "I am"), ("Du bist", "You are"), ("Er ist", "He is"),
            ("Sie ist", "She is"), ("Es ist", "It is"), ("Wir sind", "We are"),
            ("Ihr seid", "You are"), ("Sie sind", "They are"))
MODALS = (("Ich kann", "I can"), ("Wir wollen", "We want to"), ("Er muss", "He has to"),
          ("Sie m\u00f6chte", "She would like to"), ("Du darfst", "You may"),
          ("Ich will", "I want to"), ("Wir k\u00f6nnen", "We can"), ("Er soll", "He should"))
OBJ_VERBS = (("Ich sehe", "I see"), ("Wir haben", "We have"), ("Ich brauche", "I need"),
             ("Er sucht", "He is looking for"), ("Sie kauft", "She buys"),
             ("Ich mag", "I like"), ("Wir kennen", "We know"))


def sentences(lex, n, rng):
    nouns, adjs, verbs = lex["nouns"], lex["adjectives"], lex["verbs"]
    plurals = [x for x in nouns if x[3]]

    def frame():
        de_n, g, en_n, de_pl, en_pl = rng.choice(nouns)
        de_a, en_a = rng.choice(adjs)
        the = DEF["nom"][g]
        r = rng.randrange(16)
        if r == 0:
            return "%s %s ist %s." % (the, de_n, de_a), "The %s is %s." % (en_n, en_a)
        if r == 1:
            return "%s %s ist nicht %s." % (the, de_n, de_a), \
                "The %s is not %s." % (en_n, en_a)
        if r == 2:
            return "%s %s war sehr %s." % (the, de_n, de_a), \
                "The %s was very %s." % (en_n, en_a)
        if r == 3:
            return "Ist %s %s %s?" % (the, de_n, de_a), "Is the %s %s?" % (en_n, en_a)
        if r == 4 and plurals:
            de_n, g, en_n, de_pl, en_pl = rng.choice(plurals)
            return "Die %s sind %s." % (de_pl, de_a), "The %s are %s." % (en_pl, en_a)
        if r == 5 and g in INDEF["nom"]:
            return "Das ist %s %s." % (INDEF["nom"][g], de_n), "That is %s." % _a(en_n)
        if r == 6:
            pro = rng.choice(OBJ_VERBS)
            if rng.random() < 0.5:
                return "%s %s %s." % (pro[0], DEF["acc"][g], de_n), \
                    "%s the %s." % (pro[1], en_n)
            return "%s %s %s." % (pro[0], INDEF["acc"][g], de_n), \
                "%s %s." % (pro[1], _a(en_n))
        if r == 7:
            return "Wo ist %s %s?" % (the, de_n), "Where is the %s?" % en_n
        if r == 8:
            mine = {"m": "mein", "f": "meine", "n": "mein"}[g]
            return "%s %s ist %s." % (mine, de_n, de_a), "My %s is %s." % (en_n, en_a)
        if r == 9:
            de2, g2, en2, _, _ = rng.choice(nouns)
            p_de, p_en = rng.choice(PREPS)
            return "%s %s ist %s %s." % (the, de_n, _in(p_de, g2), de2), \
                "The %s is %s the %s." % (en_n, p_en, en2)
        if r == 10:
            pro = rng.choice(PRONOUNS)
            return "%s %s." % (pro[0], de_a), "%s %s." % (pro[1], en_a)
        if r == 11:
            de_v, en_v = rng.choice(verbs)
            pro = rng.choice(MODALS)
            return "%s %s." % (pro[0], de_v), "%s %s." % (pro[1], en_v)
        if r == 12:
            de_v, en_v = rng.choice(verbs)
            if de_v.startswith(SEPARABLE):
                return None
            adv = rng.choice((("gern", "We like to %s."), ("oft", "We often %s."),
                              ("heute", "We %s today.")))
            return "Wir %s %s." % (de_v, adv[0]), adv[1] % en_v
        if r == 13:
            att = _attr(de_a)
            de2, en2 = rng.choice(adjs)
            if att is None:
                return None
            return "%s %s %s ist %s." % (the, att, de_n, de2), \
                "The %s %s is %s." % (en_a, en_n, en2)
        if r == 14:
            return "Hier ist %s %s." % (the, de_n), "Here is the %s." % en_n
        de_v, en_v = rng.choice(verbs)
        return "%s %s kann %s." % (the, de_n, de_v), "The %s can %s." % (en_n, en_v)

    out, seen = [], set()
    tries = 0
    while len(out) < n and tries < 20 * n:
        tries += 1
        p = frame()
        if p is None:
            continue
        de, en = _cap(p[0]), p[1]
        if de in seen:
            continue
        seen.add(de)
        out.append((de, en))
    return out
