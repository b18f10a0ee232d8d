"""Objects are freed: 10,000 create/free cycles keep the resident size flat,
and a counting allocator installed in the Context sees every byte returned."""
import ctypes
import gc

import numpy as np

import libtransformer as tfm
from conftest import golden

CYCLES = 10000


def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (ctypes.sizeof(ctypes.c_void_p) and 4096) // 1024


def _cycle(i, x):
    # deterministic (with-statements) on even cycles, garbage collector on odd
    if i % 2 == 0:
        with tfm.Context() as c:
            c.softmax(x)
            with tfm.Model.load(golden("gpt2", "tiny"), ctx=c) as m, m.session(max_context=8) as s:
                s.prefill(m.tokenizer.encode("the cat"))
    else:
        m = tfm.Model.load(golden("gpt2", "tiny"))
        s = m.session(max_context=8)
        s.prefill(m.tokenizer.encode("the cat"))
        m.ctx.softmax(x)
        del m, s


class CountingAllocator:
    """A tfm_alloc_fn in Python: tracks live blocks by address."""

    def __init__(self):
        self.live = {}
        self.calls = 0

    def __call__(self, ud, ptr, osize, nsize, align):
        self.calls += 1
        if nsize == 0:
            if ptr:
                self.live.pop(ptr)
            return None
        buf = ctypes.create_string_buffer(nsize + align)
        addr = (ctypes.addressof(buf) + align - 1) // align * align
        if ptr:
            ctypes.memmove(addr, ptr, min(osize, nsize))
            self.live.pop(ptr)
        self.live[addr] = buf
        return addr


def test_rss_flat_over_10000_cycles():
    x = np.ones((4, 8), np.float32)
    for i in range(300):
        _cycle(i, x)
    gc.collect()
    before = rss_kb()
    for i in range(CYCLES):
        _cycle(i, x)
    gc.collect()
    grown = rss_kb() - before
    # a leak of one model (about 150 KB of weights and packed copies) per
    # cycle would be 1.5 GB; allow allocator noise only
    assert grown < 8 * 1024, "resident size grew by %d KB over %d cycles" % (grown, CYCLES)


def test_counting_allocator_sees_everything_freed():
    al = CountingAllocator()
    c = tfm.Context(n_threads=2, _alloc=al)
    for i in range(20):
        m = tfm.Model.load(golden("gpt2", "tiny"), ctx=c)
        s = m.session()
        s.generate_text("the cat", temperature=0, max_new_tokens=4, stop_token=-1)
        tok = tfm.Tokenizer.load(golden("gpt2", "tiny"), ctx=c)
        tok.encode("hello")
        mha = tfm.MultiheadAttention(c, {"wqkv": np.ones((24, 8), np.float32),
                                         "wo": np.ones((8, 8), np.float32)},
                                     d_model=8, n_heads=2)
        mha(np.ones((1, 3, 8), np.float32))
        if i % 2:
            s.close(), m.close(), tok.close(), mha.close()
        else:
            del s, m, tok, mha
            gc.collect()
    live = dict(al.live)
    calls = al.calls
    c.close()
    assert calls > 100
    # what is left while the ctx lives is the ctx's own (pool, error buffer)
    assert len(live) < 8, "%d blocks still allocated" % len(live)
    assert not al.live, "%d blocks not freed by tfm_ctx_free" % len(al.live)
