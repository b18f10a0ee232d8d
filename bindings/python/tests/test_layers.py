"""The layer API against the float64 PyTorch references of
tests/golden/layers.safetensors (the ones the C tests use)."""
import numpy as np
import pytest

import libtransformer as tfm
from conftest import golden

TOL = 1e-5


@pytest.fixture(scope="module")
def st():
    with tfm.SafeTensors(golden("layers.safetensors")) as s:
        yield s


def relerr(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30)


def test_safetensors_views(st):
    assert "mha_self.x" in st and "nope" not in st
    assert len(st) == len(st.keys()) > 100
    x = st["mha_self.x"]
    assert x.dtype == np.float32 and x.shape == (2, 5, 16) and x.flags.writeable
    v = st.get("mha_self.x", copy=False)
    assert not v.flags.writeable
    np.testing.assert_array_equal(v, x)
    with pytest.raises(KeyError):
        st["nope"]
    with pytest.raises(tfm.NotFoundError, match="nothing.safetensors"):
        tfm.SafeTensors("/nonexistent/nothing.safetensors")


def test_mha_self_with_probs(ctx, st):
    w = {"wqkv": st["mha_self.in_proj_weight"], "bqkv": st["mha_self.in_proj_bias"],
         "wo": st["mha_self.out_proj.weight"], "bo": st["mha_self.out_proj.bias"]}
    with tfm.MultiheadAttention(ctx, w, d_model=16, n_heads=4) as mha:
        out, probs = mha(st["mha_self.x"], key_padding_mask=st["mha_self.kpm"],
                         attn_mask=st["mha_self.attn_mask"], return_probs=True)
        assert probs.shape == (2, 4, 5, 5)
        assert relerr(out, st["mha_self.out"]) < TOL
        assert relerr(probs, st["mha_self.weights"]) < TOL
        out2, p2 = mha(st["mha_self.x"], attn_mask=st["mha_self.bool_mask"], return_probs=True)
        assert relerr(out2, st["mha_self.out_causal"]) < TOL
        assert relerr(p2, st["mha_self.weights_causal"]) < TOL
        # three threads give the same bits
        with tfm.Context(3) as c3:
            out3 = mha(st["mha_self.x"], key_padding_mask=st["mha_self.kpm"],
                       attn_mask=st["mha_self.attn_mask"], ctx=c3)
        np.testing.assert_array_equal(out, out3)
        with pytest.raises(tfm.ShapeError, match="key_padding_mask"):
            mha(st["mha_self.x"], key_padding_mask=st["mha_self.bool_mask"])
    with pytest.raises(TypeError, match="unknown weight"):
        tfm.MultiheadAttention(ctx, {"w_qkv": w["wqkv"]}, d_model=16, n_heads=4)
    with pytest.raises(TypeError, match="no parameter 'heads'"):
        tfm.MultiheadAttention(ctx, w, d_model=16, heads=4)
    with pytest.raises(tfm.ShapeError):
        tfm.MultiheadAttention(ctx, w, d_model=16, n_heads=5)


def test_sdpa_and_alibi(ctx, st):
    out, probs = tfm.attention(ctx, st["sdpa.q"], st["sdpa.k"], st["sdpa.v"], causal=True,
                               attn_mask=st["sdpa.mask"], return_probs=True)
    assert relerr(out, st["sdpa.out"]) < TOL
    assert relerr(probs, st["sdpa.probs"]) < TOL
    sl = tfm.alibi_slopes(6)
    assert relerr(sl, st["alibi.slopes"]) < 1e-7
    out = tfm.attention(ctx, st["alibi.q"], st["alibi.k"], st["alibi.v"], causal=True,
                        alibi_slopes=sl)
    assert relerr(out, st["alibi.out"]) < TOL


def test_positions_rope_embed(ctx, st):
    assert relerr(tfm.pos_sinusoidal(ctx, 6, 16, "interleaved", 3), st["sin.interleaved_off3"]) < 1e-7
    assert relerr(tfm.pos_sinusoidal(ctx, 7, 16, "half"), st["sin.half"]) < 1e-7
    assert relerr(tfm.pos_sinusoidal(ctx, 5, 16, "half_fairseq", 2), st["sin.fairseq_off2"]) < 1e-7
    with pytest.raises(tfm.InvalidArgumentError):
        tfm.pos_sinusoidal(ctx, 5, 15, "half")
    x = st["rope.x"]
    y = tfm.rope(ctx, x.copy(), "pairs", 10000.0, 0, 4)
    assert relerr(y, st["rope.pairs_off4"]) < TOL
    y = tfm.rope(ctx, x.copy(), "half", 500000.0, 6, 0)
    assert relerr(y, st["rope.half_rot6"]) < TOL
    with pytest.raises(TypeError, match="in place"):
        tfm.rope(ctx, x.T, "pairs")
    e = tfm.embed(ctx, st["embed.ids"], st["embed.tokens"], positions=st["embed.positions"],
                  types=st["embed.types"], type_ids=st["embed.type_ids"], start=3)
    assert relerr(e, st["embed.out_start3"]) < TOL
    with pytest.raises(tfm.RangeError, match="past the position table"):
        tfm.embed(ctx, st["embed.ids"], st["embed.tokens"], positions=st["embed.positions"],
                  start=7)


def test_additive_ffn_norms(ctx, st):
    c, w = tfm.additive_attention(ctx, st["additive.q"], st["additive.k"], st["additive.v"],
                                  st["additive.kpm"], wq=st["additive.wq"], wk=st["additive.wk"],
                                  b=st["additive.b"], v=st["additive.va"], return_weights=True)
    assert relerr(c, st["additive.context"]) < TOL
    assert relerr(w, st["additive.weights"]) < TOL
    for name, act, gated in (("ffn.relu", "relu", 0), ("ffn.gelu", "gelu", 0),
                             ("ffn.gelu_tanh", "gelu_tanh", 0), ("ffn.swiglu", "silu", 1),
                             ("ffn.geglu", "gelu", 1)):
        wts = {"w1": st["ffn.w1"], "w2": st["ffn.w2"], "b2": st["ffn.b2"]}
        if gated:
            wts["w3"] = st["ffn.w3"]
        else:
            wts["b1"] = st["ffn.b1"]
        with tfm.FeedForward(ctx, wts, d_model=8, d_ff=16, act=act, gated=gated) as f:
            assert relerr(f(st["ffn.x"]), st[name]) < TOL, name
    x, g, b = st["norm.x"], st["norm.g"], st["norm.b"]
    assert relerr(tfm.norm(ctx, x, "layer", g, b, 1e-5), st["norm.layer"]) < TOL
    assert relerr(tfm.norm(ctx, x, "rms", g, None, 1e-6), st["norm.rms"]) < TOL


def _layer(st, pre, decoder=False):
    w = {"self_attn.wqkv": st[pre + ".self_attn.in_proj_weight"],
         "self_attn.bqkv": st[pre + ".self_attn.in_proj_bias"],
         "self_attn.wo": st[pre + ".self_attn.out_proj.weight"],
         "self_attn.bo": st[pre + ".self_attn.out_proj.bias"],
         "ffn.w1": st[pre + ".linear1.weight"], "ffn.b1": st[pre + ".linear1.bias"],
         "ffn.w2": st[pre + ".linear2.weight"], "ffn.b2": st[pre + ".linear2.bias"],
         "attn_norm.gamma": st[pre + ".norm1.weight"], "attn_norm.beta": st[pre + ".norm1.bias"]}
    if not decoder:
        w.update({"ffn_norm.gamma": st[pre + ".norm2.weight"],
                  "ffn_norm.beta": st[pre + ".norm2.bias"]})
        return w
    # PyTorch's decoder layer: norm1 self, norm2 cross, norm3 feed-forward;
    # the cross in_proj rows are q | k | v
    ip, ib = st[pre + ".multihead_attn.in_proj_weight"], st[pre + ".multihead_attn.in_proj_bias"]
    w.update({"cross_attn.wq": ip[:16], "cross_attn.wk": ip[16:32], "cross_attn.wv": ip[32:],
              "cross_attn.bq": ib[:16], "cross_attn.bk": ib[16:32], "cross_attn.bv": ib[32:],
              "cross_attn.wo": st[pre + ".multihead_attn.out_proj.weight"],
              "cross_attn.bo": st[pre + ".multihead_attn.out_proj.bias"],
              "cross_norm.gamma": st[pre + ".norm2.weight"],
              "cross_norm.beta": st[pre + ".norm2.bias"],
              "ffn_norm.gamma": st[pre + ".norm3.weight"], "ffn_norm.beta": st[pre + ".norm3.bias"]})
    return w


@pytest.mark.parametrize("pre,norm_first,act", [("dec_post_relu", 0, "relu"),
                                                 ("dec_pre_gelu", 1, "gelu")])
def test_decoder_layer_with_caches(ctx, st, pre, norm_first, act):
    w = _layer(st, pre, decoder=True)
    tgt, mem, mkpm = st[pre + ".tgt"], st[pre + ".mem"], st[pre + ".mkpm"]
    B, T, D = tgt.shape
    S = mem.shape[1]
    with tfm.DecoderLayer(ctx, w, d_model=16, n_heads=4, d_ff=32, act=act,
                          norm_first=norm_first) as layer:
        out, (sp, cp) = layer(tgt, mem, memory_padding_mask=mkpm, return_probs=True)
        assert relerr(out, st[pre + ".out"]) < TOL
        assert sp.shape == (B, 4, T, T) and cp.shape == (B, 4, T, S)
        assert np.triu(sp[0, 0], 1).max() == 0  # causal
        sc = tfm.KVCache(ctx, n_kv_heads=4, head_dim=4, max_seq=8, max_batch=B)
        cc = tfm.KVCache(ctx, n_kv_heads=4, head_dim=4, max_seq=8, max_batch=B)
        steps = [layer(tgt[:, s:s + 1], mem if s == 0 else None, memory_padding_mask=mkpm,
                       self_cache=sc, cross_cache=cc) for s in range(T)]
        assert (sc.length(), cc.length()) == (T, S)
        assert relerr(np.concatenate(steps, 1), st[pre + ".out"]) < TOL
        sc.truncate(2)
        assert len(sc) == 2
        sc.reset()
        assert len(sc) == 0
        sc.close()
        cc.close()


@pytest.mark.parametrize("pre,norm_first,act", [("enc_post_relu", 0, "relu"),
                                                 ("enc_pre_gelu", 1, "gelu")])
def test_encoder_layer_and_stack(ctx, st, pre, norm_first, act):
    w = _layer(st, pre)
    params = dict(d_model=16, n_heads=4, d_ff=32, act=act, norm_first=norm_first)
    x, kpm = st[pre + ".x"], st[pre + ".kpm"]
    with tfm.EncoderLayer(ctx, w, **params) as layer:
        out, probs = layer(x, key_padding_mask=kpm, return_probs=True)
        assert relerr(out, st[pre + ".out"]) < TOL
        assert probs.shape == (2, 4, 5, 5)
        np.testing.assert_allclose(probs.sum(-1), 1, rtol=1e-5)
    with tfm.Encoder(ctx, [w], **params) as enc:
        np.testing.assert_array_equal(enc(x, key_padding_mask=kpm), out)
        # a workspace sized once: the same result; one too small: a clear error
        with tfm.Workspace(ctx, enc.workspace_size(2, 5)) as ws:
            assert len(ws) >= enc.workspace_size(2, 5) > 0
            np.testing.assert_array_equal(enc(x, key_padding_mask=kpm, ws=ws), out)
        with tfm.Workspace(ctx, 64) as ws:
            with pytest.raises(tfm.RangeError, match="workspace"):
                enc(x, key_padding_mask=kpm, ws=ws)
    with tfm.Encoder(ctx, [w, w], final_norm={"gamma": np.ones(16, np.float32)}, **params) as e2:
        assert e2(x, key_padding_mask=kpm).shape == x.shape


def test_mean_pool_and_cache_reorder(ctx):
    x = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    pad = np.array([[0, 0, 1], [0, 1, 1]], np.uint8)
    out = tfm.mean_pool(ctx, x, pad)
    np.testing.assert_allclose(out, [x[0, :2].mean(0), x[1, :1].mean(0)])
    np.testing.assert_allclose(tfm.mean_pool(ctx, x), x.mean(1))
    c = tfm.KVCache(ctx, n_kv_heads=1, head_dim=4, max_seq=4, max_batch=2)
    c.reorder([1, 1])
    with pytest.raises(tfm.RangeError):
        c.reorder([0, 5])
    c.close()
