"""The layer API: positional encodings, attention, feed-forward blocks,
encoder and decoder layers and stacks, KV caches.

Modules borrow their weights: the numpy arrays given are kept alive by the
module (C-contiguous float32 arrays are used in place, others copied once).
Parameters are the fields of the C parameter structs, by name (see
include/transformer.h); enum fields also take names ("gelu", "rms", "half").
"""
import ctypes
from ctypes import byref, c_float, c_void_p

import numpy as np

from . import _ffi
from .core import ACTIVATIONS, _enum, _Owned, _ref, out_tensor, to_tensor

POS_LAYOUTS = {"none": 0, "interleaved": 1, "half": 2, "half_fairseq": 3}
ROPE_LAYOUTS = {"none": 0, "pairs": 1, "half": 2}
NORMS = {"layer": 0, "layernorm": 0, "rms": 1, "rmsnorm": 1}
_ENUMS = {"act": (ACTIVATIONS, "activation"), "rope": (ROPE_LAYOUTS, "rope layout"),
          "norm": (NORMS, "norm"), "sinusoidal": (POS_LAYOUTS, "positional layout")}


def _params(struct, default_fn, kwargs):
    p = _ffi.default_struct(struct, default_fn)
    names = {f[0] for f in struct._fields_} - {"struct_size"}
    for k, v in kwargs.items():
        if k not in names:
            raise TypeError("%s has no parameter %r (have: %s)"
                            % (struct._c_name_, k, ", ".join(sorted(names))))
        if k in _ENUMS:
            v = _enum(v, *_ENUMS[k])
        if isinstance(v, bool):
            v = int(v)
        setattr(p, k, v)
    return p


def _set_weights(struct, weights, keep, prefix=""):
    """Fills the tensor-pointer fields of `struct` from weights[prefix +
    field]; wraps arrays with to_tensor and appends them to keep."""
    for name, typ in struct._fields_:
        key = prefix + name
        if typ is _ffi.T:
            a = weights.get(key)
            if a is not None:
                t, arr = to_tensor(a)
                keep.append((t, arr))
                setattr(struct, name, ctypes.pointer(t))
        elif name == "in_out" and key in weights:
            struct.in_out = int(bool(weights[key]))


def _norm_weights(weights, prefix, keep):
    nw = _ffi.default_struct(_ffi.tfm_norm_weights, "tfm_norm_weights_init")
    _set_weights(nw, weights, keep, prefix)
    return nw


def _check_keys(weights, allowed, what):
    bad = [k for k in weights if k not in allowed]
    if bad:
        raise TypeError("%s: unknown weight name(s) %s (expected some of %s)"
                        % (what, ", ".join(bad), ", ".join(sorted(allowed))))


def _tensor_fields(struct):
    return [n for n, t in struct._fields_ if t is _ffi.T] + \
        (["in_out"] if any(n == "in_out" for n, _ in struct._fields_) else [])


# ---- stateless layers ------------------------------------------------------------------

def pos_sinusoidal(ctx, seq_len, dim, layout="interleaved", offset=0):
    """The fixed sinusoidal encoding [seq_len, dim] of positions offset ..
    offset + seq_len - 1 ("interleaved", "half" or "half_fairseq")."""
    out = np.empty((int(seq_len), int(dim)), np.float32)
    to, ko = out_tensor(out)
    ctx.call("tfm_pos_sinusoidal", ctx._h(), _enum(layout, POS_LAYOUTS, "layout"),
             int(offset), byref(to))
    return out


def rope(ctx, x, layout="pairs", theta=10000.0, rot_dim=0, offset=0, positions=None):
    """Rotary embedding applied IN PLACE to x [B, S, H, Dh] or [S, H, Dh]
    (a C-contiguous float32 array); returns x."""
    if not (isinstance(x, np.ndarray) and x.dtype == np.float32 and x.flags.c_contiguous
            and x.flags.writeable):
        raise TypeError("rope works in place: x must be a writable C-contiguous float32 array")
    tx, kx = to_tensor(x)
    tp, kp = to_tensor(positions, (np.int32,)) if positions is not None else (None, None)
    ctx.call("tfm_rope", ctx._h(), byref(tx), _enum(layout, ROPE_LAYOUTS, "rope layout"),
             float(theta), int(rot_dim), int(offset), _ref(tp))
    return x


def alibi_slopes(n_heads):
    out = np.empty(int(n_heads), np.float32)
    _ffi.lib().tfm_alibi_slopes(int(n_heads), out.ctypes.data_as(ctypes.POINTER(c_float)))
    return out


def norm(ctx, x, kind="layer", gamma=None, beta=None, eps=1e-5, out=None):
    keep = []
    w = _norm_weights({"gamma": gamma, "beta": beta}, "", keep)
    tx, kx = to_tensor(x)
    to, ko = out_tensor(out if out is not None else np.empty(np.shape(x), np.float32))
    ctx.call("tfm_norm", ctx._h(), _enum(kind, NORMS, "norm"), byref(tx), byref(w),
             float(eps), byref(to))
    return ko.result()


def mean_pool(ctx, x, key_padding_mask=None):
    """Mean of x [B, S, D] over the positions the mask (nonzero = padding)
    leaves; [B, D]."""
    tx, kx = to_tensor(x)
    tm, km = _mask(key_padding_mask)
    out = np.empty((np.shape(x)[0], np.shape(x)[2]), np.float32)
    to, ko = out_tensor(out)
    ctx.call("tfm_mean_pool", ctx._h(), byref(tx), _ref(tm), byref(to))
    return out


def _mask(m):
    if m is None:
        return None, None
    m = np.asarray(m)
    if m.dtype == np.bool_:
        m = m.astype(np.uint8)
    return to_tensor(m, (np.uint8, np.int32, np.float32))


def _masks(key_padding_mask=None, attn_mask=None, positions=None):
    """A tfm_attn_masks and the arrays it points into."""
    keep = []
    m = _ffi.default_struct(_ffi.tfm_attn_masks, "tfm_attn_masks_init")
    for name, a, dt in (("key_padding_mask", key_padding_mask, None),
                        ("attn_mask", attn_mask, None),
                        ("positions", positions, (np.int32,))):
        if a is None:
            continue
        t, arr = _mask(a) if dt is None else to_tensor(a, dt)
        keep.append((t, arr))
        setattr(m, name, ctypes.pointer(t))
    return m, keep


def attention(ctx, q, k, v, scale=0.0, causal=False, alibi_slopes=None,
              key_padding_mask=None, attn_mask=None, return_probs=False):
    """softmax(scale q k^T + masks) v for q [B, H, Sq, Dh], k [B, Hkv, Sk,
    Dh], v [B, Hkv, Sk, Dv]. With return_probs, also the attention
    probabilities [B, H, Sq, Sk] (for heatmaps)."""
    p = _ffi.default_struct(_ffi.tfm_attn_params, "tfm_attn_params_init")
    p.scale = float(scale)
    p.causal = int(bool(causal))
    masks, keep = _masks(key_padding_mask, attn_mask)
    p.masks = masks
    slopes = None
    if alibi_slopes is not None:
        slopes = np.ascontiguousarray(alibi_slopes, np.float32)
        p.alibi_slopes = slopes.ctypes.data_as(ctypes.POINTER(c_float))
    tq, kq = to_tensor(q)
    tk, kk = to_tensor(k)
    tv, kv = to_tensor(v)
    B, H, Sq = np.shape(q)[:3]
    Sk, Dv = np.shape(k)[2], np.shape(v)[3]
    out = np.empty((B, H, Sq, Dv), np.float32)
    to, ko = out_tensor(out)
    probs = tp = None
    if return_probs:
        probs = np.empty((B, H, Sq, Sk), np.float32)
        tp, kp = out_tensor(probs)
    ctx.call("tfm_attention", ctx._h(), byref(tq), byref(tk), byref(tv), byref(p),
             byref(to), _ref(tp))
    return (out, probs) if return_probs else out


def embed(ctx, ids, tokens, positions=None, types=None, type_ids=None,
          token_scale=1.0, sinusoidal="none", pos_offset=0, start=0):
    """token_scale * tokens[ids] + positions[...] + sinusoid + types[...]
    for ids int32 [B, S]; returns [B, S, D]."""
    keep = []
    w = _params(_ffi.tfm_embed_weights, "tfm_embed_weights_init",
                {"token_scale": float(token_scale), "sinusoidal": sinusoidal,
                 "pos_offset": int(pos_offset)})
    for name, a in (("tokens", tokens), ("positions", positions), ("types", types)):
        if a is not None:
            t, arr = to_tensor(a, (np.float32, np.float16))
            keep.append((t, arr))
            setattr(w, name, ctypes.pointer(t))
    ti, ki = to_tensor(ids, (np.int32,))
    tt, kt = to_tensor(type_ids, (np.int32,)) if type_ids is not None else (None, None)
    out = np.empty(np.shape(ids) + (np.shape(tokens)[1],), np.float32)
    to, ko = out_tensor(out)
    ctx.call("tfm_embed", ctx._h(), byref(w), byref(ti), _ref(tt), int(start), byref(to))
    return out


def additive_attention(ctx, q, keys, values=None, key_padding_mask=None, *, wq, wk, v,
                       b=None, return_weights=False):
    """Bahdanau attention: context [B, Sq, Dv] (and weights [B, Sq, Sk])."""
    keep = []
    w = _ffi.default_struct(_ffi.tfm_additive_weights, "tfm_additive_weights_init")
    _set_weights(w, {"wq": wq, "wk": wk, "v": v, "b": b}, keep)
    tq, kq = to_tensor(q)
    tk, kk = to_tensor(keys)
    tv, kv = to_tensor(values) if values is not None else (None, None)
    tm, km = _mask(key_padding_mask)
    B, Sq = np.shape(q)[:2]
    Sk = np.shape(keys)[1]
    Dv = np.shape(values if values is not None else keys)[2]
    ctxo = np.empty((B, Sq, Dv), np.float32)
    tc, kc = out_tensor(ctxo)
    wts = tw = None
    if return_weights:
        wts = np.empty((B, Sq, Sk), np.float32)
        tw, kw = out_tensor(wts)
    ctx.call("tfm_additive_attention", ctx._h(), byref(w), byref(tq), byref(tk), _ref(tv),
             _ref(tm), byref(tc), _ref(tw))
    return (ctxo, wts) if return_weights else ctxo


# ---- modules ------------------------------------------------------------------------------

class Workspace(_Owned):
    """Scratch memory for forward passes (optional: without one a call
    allocates what it needs)."""

    def __init__(self, ctx, nbytes):
        h = c_void_p()
        ctx.call("tfm_workspace_create", ctx._h(), int(nbytes), byref(h))
        self._own(h.value, _ffi.lib().tfm_workspace_free, ctx)

    def __len__(self):
        return _ffi.lib().tfm_workspace_size(self._h())


class KVCache(_Owned):
    """Keys and values of n_layers attention layers (one decoding stream)."""

    def __init__(self, ctx, n_kv_heads, head_dim, max_seq, n_layers=1, max_batch=1):
        p = _params(_ffi.tfm_kv_cache_params, "tfm_kv_cache_params_init",
                    dict(n_layers=n_layers, max_batch=max_batch, n_kv_heads=n_kv_heads,
                         head_dim=head_dim, max_seq=max_seq))
        h = c_void_p()
        ctx.call("tfm_kv_cache_create", ctx._h(), byref(p), byref(h))
        self.ctx = ctx
        self._own(h.value, _ffi.lib().tfm_kv_cache_free, ctx)

    def __len__(self):
        return self.length(0)

    def length(self, layer=0):
        return _ffi.lib().tfm_kv_cache_len(self._h(), int(layer))

    def reset(self):
        _ffi.lib().tfm_kv_cache_reset(self._h())

    def truncate(self, n):
        _ffi.lib().tfm_kv_cache_truncate(self._h(), int(n))

    def reorder(self, src, ctx=None):
        ctx = ctx or self.ctx
        s = np.ascontiguousarray(src, np.int32)
        ctx.call("tfm_kv_cache_reorder", ctx._h(), self._h(),
                 s.ctypes.data_as(_ffi.i32p), s.size)


def _ws(ws):
    return ws._h() if ws is not None else None


def _cache(c):
    return c._h() if c is not None else None


class _Module(_Owned):
    _create = _free = None

    def _make(self, ctx, fn, free, params, weights_struct, keep, *extra):
        h = c_void_p()
        args = [ctx._h(), byref(params)]
        args += list(extra)
        if weights_struct is not None:
            args.append(byref(weights_struct))
        args.append(byref(h))
        ctx.call(fn, *args)
        self.ctx = ctx
        self.params = params
        # The module borrows the weight tensors: the finalizer keeps them.
        self._own(h.value, getattr(_ffi.lib(), free), ctx, keep, weights_struct)


_MHA_W = _tensor_fields(_ffi.tfm_mha_weights)
_FFN_W = _tensor_fields(_ffi.tfm_ffn_weights)


class MultiheadAttention(_Module):
    """tfm_mha: multi-head, grouped-query or cross attention.

    weights: wq, bq, wk, bk, wv, bv (or wqkv, bqkv), wo, bo, in_out.
    params: d_model, n_heads, n_kv_heads, head_dim, kdim, vdim, scale,
    causal, rope ("pairs"/"half"), rope_theta, rope_dim, alibi, cross,
    prepack."""

    def __init__(self, ctx, weights, **params):
        _check_keys(weights, _MHA_W, "MultiheadAttention")
        p = _params(_ffi.tfm_mha_params, "tfm_mha_params_init", params)
        keep = []
        w = _ffi.default_struct(_ffi.tfm_mha_weights, "tfm_mha_weights_init")
        _set_weights(w, weights, keep)
        self._make(ctx, "tfm_mha_create", "tfm_mha_free", p, w, keep)

    def workspace_size(self, batch, seq_q, seq_k, ctx=None):
        """Bytes of Workspace a forward pass of this size needs."""
        ctx = ctx or self.ctx
        return _ffi.lib().tfm_mha_workspace_size(ctx._h(), self._h(), batch, seq_q, seq_k)

    def forward(self, x, memory=None, memory_v=None, key_padding_mask=None,
                attn_mask=None, positions=None, cache=None, layer=0, ws=None,
                ctx=None, return_probs=False):
        """out [B, Sq, D] (and the probabilities [B, H, Sq, Sk])."""
        ctx = ctx or self.ctx
        tx, kx = to_tensor(x)
        tm, km = to_tensor(memory) if memory is not None else (None, None)
        tmv, kmv = to_tensor(memory_v) if memory_v is not None else (None, None)
        masks, keep = _masks(key_padding_mask, attn_mask, positions)
        B, Sq, D = np.shape(x)
        if memory is not None:
            Sk = np.shape(memory)[1]
        elif cache is not None:
            n = cache.length(layer)
            Sk = n if (self.params.cross and n > 0) else n + Sq
        else:
            Sk = Sq
        out = np.empty((B, Sq, self.params.d_model), np.float32)
        to, ko = out_tensor(out)
        probs = tp = None
        if return_probs:
            probs = np.empty((B, self.params.n_heads, Sq, Sk), np.float32)
            tp, kp = out_tensor(probs)
        ctx.call("tfm_mha_forward", ctx._h(), self._h(), byref(tx), _ref(tm), _ref(tmv),
                 byref(masks), _cache(cache), int(layer), _ws(ws), byref(to), _ref(tp))
        return (out, probs) if return_probs else out

    __call__ = forward


class FeedForward(_Module):
    """tfm_ffn: w2 act(w1 x + b1) + b2, or gated (w3). weights: w1, b1, w2,
    b2, w3, b3, in_out. params: d_model, d_ff, act, gated, prepack."""

    def __init__(self, ctx, weights, **params):
        _check_keys(weights, _FFN_W, "FeedForward")
        p = _params(_ffi.tfm_ffn_params, "tfm_ffn_params_init", params)
        keep = []
        w = _ffi.default_struct(_ffi.tfm_ffn_weights, "tfm_ffn_weights_init")
        _set_weights(w, weights, keep)
        self._make(ctx, "tfm_ffn_create", "tfm_ffn_free", p, w, keep)

    def workspace_size(self, rows):
        return _ffi.lib().tfm_ffn_workspace_size(self._h(), rows)

    def forward(self, x, ws=None, ctx=None):
        ctx = ctx or self.ctx
        tx, kx = to_tensor(x)
        out = np.empty(np.shape(x), np.float32)
        to, ko = out_tensor(out)
        ctx.call("tfm_ffn_forward", ctx._h(), self._h(), byref(tx), _ws(ws), byref(to))
        return out

    __call__ = forward


_LAYER_KEYS = (["self_attn." + n for n in _MHA_W] + ["cross_attn." + n for n in _MHA_W] +
               ["ffn." + n for n in _FFN_W] +
               ["%s.%s" % (a, b) for a in ("attn_norm", "cross_norm", "ffn_norm")
                for b in ("gamma", "beta")])


def _layer_weights(weights, keep):
    _check_keys(weights, _LAYER_KEYS, "layer weights")
    w = _ffi.default_struct(_ffi.tfm_layer_weights, "tfm_layer_weights_init")
    for sub in ("self_attn", "cross_attn", "ffn", "attn_norm", "cross_norm", "ffn_norm"):
        _set_weights(getattr(w, sub), weights, keep, sub + ".")
    return w


def _layer_params(params):
    return _params(_ffi.tfm_layer_params, "tfm_layer_params_init", params)


class EncoderLayer(_Module):
    """tfm_encoder_layer. weights: a dict with keys "self_attn.wqkv",
    "self_attn.wo", "ffn.w1", "attn_norm.gamma", ... (the fields of
    tfm_layer_weights, dotted). params: the fields of tfm_layer_params
    (d_model, n_heads, d_ff, act, norm, norm_first, ...)."""

    def __init__(self, ctx, weights, **params):
        keep = []
        w = _layer_weights(weights, keep)
        self._make(ctx, "tfm_encoder_layer_create", "tfm_encoder_layer_free",
                   _layer_params(params), w, keep)

    def workspace_size(self, batch, seq, ctx=None):
        ctx = ctx or self.ctx
        return _ffi.lib().tfm_encoder_layer_workspace_size(ctx._h(), self._h(), batch, seq)

    def forward(self, x, key_padding_mask=None, attn_mask=None, ws=None, ctx=None,
                return_probs=False):
        ctx = ctx or self.ctx
        tx, kx = to_tensor(x)
        masks, keep = _masks(key_padding_mask, attn_mask)
        B, S, D = np.shape(x)
        out = np.empty((B, S, D), np.float32)
        to, ko = out_tensor(out)
        probs = tp = None
        if return_probs:
            probs = np.empty((B, self.params.n_heads, S, S), np.float32)
            tp, kp = out_tensor(probs)
        ctx.call("tfm_encoder_layer_forward", ctx._h(), self._h(), byref(tx), byref(masks),
                 _ws(ws), byref(to), _ref(tp))
        return (out, probs) if return_probs else out

    __call__ = forward


class DecoderLayer(_Module):
    """tfm_decoder_layer (causal self-attention, optional cross-attention)."""

    def __init__(self, ctx, weights, **params):
        keep = []
        w = _layer_weights(weights, keep)
        self._make(ctx, "tfm_decoder_layer_create", "tfm_decoder_layer_free",
                   _layer_params(params), w, keep)

    def workspace_size(self, batch, seq, seq_k, mem_seq, ctx=None):
        ctx = ctx or self.ctx
        return _ffi.lib().tfm_decoder_layer_workspace_size(ctx._h(), self._h(), batch, seq,
                                                           seq_k, mem_seq)

    def forward(self, x, memory=None, key_padding_mask=None, attn_mask=None,
                memory_padding_mask=None, self_cache=None, cross_cache=None,
                cache_layer=0, ws=None, ctx=None, return_probs=False):
        """out [B, S, D]; with return_probs also (self_probs [B, H, S, Sk],
        cross_probs [B, H, S, Sm] or None)."""
        ctx = ctx or self.ctx
        tx, kx = to_tensor(x)
        tm, km = to_tensor(memory) if memory is not None else (None, None)
        masks, keep = _masks(key_padding_mask, attn_mask)
        tmp, kmp = _mask(memory_padding_mask)
        B, S, D = np.shape(x)
        out = np.empty((B, S, D), np.float32)
        to, ko = out_tensor(out)
        sp = cpb = tsp = tcp = None
        if return_probs:
            H = self.params.n_heads
            Sk = S + (self_cache.length(cache_layer) if self_cache is not None else 0)
            sp = np.empty((B, H, S, Sk), np.float32)
            tsp, k1 = out_tensor(sp)
            Sm = np.shape(memory)[1] if memory is not None else (
                cross_cache.length(cache_layer) if cross_cache is not None else 0)
            if Sm:
                cpb = np.empty((B, H, S, Sm), np.float32)
                tcp, k2 = out_tensor(cpb)
        ctx.call("tfm_decoder_layer_forward", ctx._h(), self._h(), byref(tx), _ref(tm),
                 byref(masks), _ref(tmp), _cache(self_cache), _cache(cross_cache),
                 int(cache_layer), _ws(ws), byref(to), _ref(tsp), _ref(tcp))
        return (out, (sp, cpb)) if return_probs else out

    __call__ = forward


class _Stack(_Module):
    def __init__(self, ctx, layers, final_norm=None, **params):
        keep = []
        arr = (_ffi.tfm_layer_weights * len(layers))()
        for i, lw in enumerate(layers):
            arr[i] = _layer_weights(lw, keep)
        fn = _norm_weights(final_norm or {}, "", keep)
        keep.append(arr)
        h = c_void_p()
        p = _layer_params(params)
        ctx.call(self._create, ctx._h(), byref(p), len(layers), arr, byref(fn), byref(h))
        self.ctx, self.params, self.n_layers = ctx, p, len(layers)
        self._own(h.value, getattr(_ffi.lib(), self._free), ctx, keep, fn)


class Encoder(_Stack):
    """tfm_encoder: n identical layers (a list of weight dicts as for
    EncoderLayer) and an optional final norm ({"gamma", "beta"})."""
    _create, _free = "tfm_encoder_create", "tfm_encoder_free"

    def workspace_size(self, batch, seq, ctx=None):
        ctx = ctx or self.ctx
        return _ffi.lib().tfm_encoder_workspace_size(ctx._h(), self._h(), batch, seq)

    def forward(self, x, key_padding_mask=None, attn_mask=None, ws=None, ctx=None):
        ctx = ctx or self.ctx
        tx, kx = to_tensor(x)
        masks, keep = _masks(key_padding_mask, attn_mask)
        out = np.empty(np.shape(x), np.float32)
        to, ko = out_tensor(out)
        ctx.call("tfm_encoder_forward", ctx._h(), self._h(), byref(tx), byref(masks),
                 _ws(ws), byref(to))
        return out

    __call__ = forward


class Decoder(_Stack):
    """tfm_decoder: n decoder layers and an optional final norm."""
    _create, _free = "tfm_decoder_create", "tfm_decoder_free"

    def workspace_size(self, batch, seq, seq_k, mem_seq, ctx=None):
        ctx = ctx or self.ctx
        return _ffi.lib().tfm_decoder_workspace_size(ctx._h(), self._h(), batch, seq, seq_k,
                                                     mem_seq)

    def forward(self, x, memory=None, key_padding_mask=None, attn_mask=None,
                memory_padding_mask=None, self_cache=None, cross_cache=None, ws=None,
                ctx=None):
        ctx = ctx or self.ctx
        tx, kx = to_tensor(x)
        tm, km = to_tensor(memory) if memory is not None else (None, None)
        masks, keep = _masks(key_padding_mask, attn_mask)
        tmp, kmp = _mask(memory_padding_mask)
        out = np.empty(np.shape(x), np.float32)
        to, ko = out_tensor(out)
        ctx.call("tfm_decoder_forward", ctx._h(), self._h(), byref(tx), _ref(tm),
                 byref(masks), _ref(tmp), _cache(self_cache), _cache(cross_cache),
                 _ws(ws), byref(to))
        return out

    __call__ = forward
