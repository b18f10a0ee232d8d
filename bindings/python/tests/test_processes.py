"""The package under multiprocessing: with "fork" the children use the model
and the Context the parent made (after the parent's pool threads ran: the
library starts them again in each child), with "spawn" each child loads the
model itself; both give the parent's results."""
import multiprocessing as mp
import os

import numpy as np

import libtransformer as tfm
from conftest import golden

BERT = golden("bert", "bert_mlm")
GPT2 = golden("gpt2", "tiny")
TEXTS = ["the quick brown fox", "a b c d", "hello"]

# Set in the parent before a fork; the children inherit them.
_shared = {}


def _work(enc, dec, ctx, i):
    emb = enc.embed(TEXTS[i % 3:] + TEXTS[:i % 3], ctx=ctx)
    with dec.session(ctx) as s:
        ids = list(s.generate([5, 17, 3], temperature=0.8, seed=i, max_new_tokens=16,
                              with_ids=True))
    return emb, [t for t, _ in ids]


def _forked(i):
    return _work(_shared["enc"], _shared["dec"], _shared["ctx"], i)


def _spawned(i):
    with tfm.Context(2) as ctx, tfm.Model.load(BERT) as enc, tfm.Model.load(GPT2) as dec:
        return _work(enc, dec, ctx, i)


def _same(got, want):
    assert len(got) == len(want)
    for (e, ids), (we, wids) in zip(got, want):
        np.testing.assert_array_equal(e, we)  # bit-identical
        assert ids == wids


def test_fork_children_use_parent_objects():
    with tfm.Context(2) as ctx, tfm.Model.load(BERT) as enc, tfm.Model.load(GPT2) as dec:
        want = [_work(enc, dec, ctx, i) for i in range(4)]  # the pool has run
        _shared.update(enc=enc, dec=dec, ctx=ctx)
        try:
            with mp.get_context("fork").Pool(2) as pool:
                got = pool.map(_forked, range(4), chunksize=1)
        finally:
            _shared.clear()
        _same(got, want)
        _same([_work(enc, dec, ctx, i) for i in range(4)], want)  # the parent's still work


def test_spawn_children_load_their_own():
    with tfm.Context(2) as ctx, tfm.Model.load(BERT) as enc, tfm.Model.load(GPT2) as dec:
        want = [_work(enc, dec, ctx, i) for i in range(4)]
    env = os.environ.get("TFM_LIBRARY")
    with mp.get_context("spawn").Pool(2) as pool:
        got = pool.map(_spawned, range(4), chunksize=1)
    assert os.environ.get("TFM_LIBRARY") == env
    _same(got, want)
