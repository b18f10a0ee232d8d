"""Models, sessions, generation, encoder tasks, translation, tokenizers and
safetensors files."""
import codecs
import collections
import ctypes
import queue
import threading
from ctypes import byref, c_char_p, c_int32, c_size_t, c_void_p

import numpy as np

from . import _ffi
from .core import Context, _Owned
from .errors import ERR_RANGE, MisuseError, UnsupportedError
from .layers import _params

TOKENIZER_TYPES = {"auto": 0, "llama2c": 1, "wordpiece": 2, "bpe": 3, "sentencepiece": 4}
_TOKENIZER_NAMES = {v: k for k, v in TOKENIZER_TYPES.items()}
SPECIAL = {"bos": 0, "eos": 1, "unk": 2, "pad": 3, "cls": 4, "sep": 5, "mask": 6}
TRUNCATION = {"none": 0, "longest_first": 1, "only_first": 2, "only_second": 3}
POOLING = {"mean": 0, "cls": 1, "none": 2}
HEADS = {"pooler": 1, "mlm": 2, "classifier": 4}
DECODE_SKIP_SPECIAL = 1
DECODE_CLEANUP = 2


def _b(s):
    return s.encode("utf-8") if isinstance(s, str) else s


def _fspath(p):
    import os
    return os.fsencode(p)


def _texts(texts):
    single = isinstance(texts, (str, bytes))
    items = [texts] if single else list(texts)
    if not items:
        raise ValueError("no texts given")
    enc = [_b(t) for t in items]
    arr = (c_char_p * len(enc))(*enc)
    return single, enc, arr


def _need(name):
    L = _ffi.lib()
    if not L.has(name):
        raise UnsupportedError("this libtransformer (%s, %s) has no %s"
                               % (L.path, ".".join(map(str, L.version)), name), function=name)
    return getattr(L, name)


def _arr(ptr, shape, dtype):
    """Copies `prod(shape)` elements at a ctypes pointer into a new array."""
    n = int(np.prod(shape)) if shape else 1
    if n == 0 or not ptr:
        return np.zeros(shape, dtype)
    return np.ctypeslib.as_array(ptr, shape=(n,)).reshape(shape).copy()


# ---- tokenizer ------------------------------------------------------------------------------

Encoding = collections.namedtuple("Encoding", "ids type_ids offsets")


class Tokenizer(_Owned):
    """A tfm_tokenizer (llama2.c, WordPiece or GPT-2 byte-level BPE). Any
    number of threads may share one; each call takes the ctx of the calling
    thread (default: the tokenizer's own)."""

    @classmethod
    def load(cls, path, ctx=None, type="auto", lower_case=None, strip_accents=None):
        self = cls.__new__(cls)
        own_ctx = ctx is None
        ctx = ctx or Context()
        p = _params(_ffi.tfm_tokenizer_params, "tfm_tokenizer_params_init", {})
        p.type = TOKENIZER_TYPES[type] if isinstance(type, str) else int(type)
        if lower_case is not None:
            p.lower_case = int(bool(lower_case))
        if strip_accents is not None:
            p.strip_accents = int(bool(strip_accents))
        h = c_void_p()
        try:
            ctx.call("tfm_tokenizer_load", ctx._h(), _fspath(path), byref(p), byref(h))
        except BaseException:
            if own_ctx:
                ctx.close()
            raise
        self.ctx = ctx
        self._own(h.value, _ffi.lib().tfm_tokenizer_free, ctx)
        if own_ctx:
            self._own_ctx = ctx
        return self

    @classmethod
    def _view(cls, handle, model):
        self = cls.__new__(cls)
        self.ctx = model.ctx
        # A plain reference keeps the model alive while the view is used;
        # the finalizer must not hold it (the model holds the view).
        self.model = model
        self._own(handle, _noop)
        model._children.add(self)
        return self

    def close(self):
        super().close()
        c = self.__dict__.pop("_own_ctx", None)
        if c is not None:
            c.close()

    @property
    def type(self):
        return _TOKENIZER_NAMES.get(_ffi.lib().tfm_tokenizer_type_of(self._h()), "?")

    @property
    def vocab_size(self):
        return _ffi.lib().tfm_tokenizer_vocab_size(self._h())

    def __len__(self):
        return self.vocab_size

    @property
    def max_length(self):
        return _ffi.lib().tfm_tokenizer_max_length(self._h())

    def special_id(self, which):
        """Id of "bos", "eos", "unk", "pad", "cls", "sep" or "mask"; None
        when the vocabulary has none."""
        i = _ffi.lib().tfm_tokenizer_special_id(self._h(), SPECIAL[which])
        return None if i < 0 else i

    def id_to_token(self, i):
        n = c_size_t()
        p = _ffi.lib().tfm_tokenizer_id_to_token(self._h(), int(i), byref(n))
        return None if not p else ctypes.string_at(p, n.value).decode("utf-8", "replace")

    def token_to_id(self, token):
        t = _b(token)
        i = _ffi.lib().tfm_tokenizer_token_to_id(self._h(), t, len(t))
        return None if i < 0 else i

    def _encode(self, text, pair, ctx, want_extra, **kw):
        ctx = ctx or self.ctx
        p = _params(_ffi.tfm_encode_params, "tfm_encode_params_init", {})
        p.add_special = int(bool(kw.pop("add_special", True)))
        p.max_length = int(kw.pop("max_length", 0))
        tr = kw.pop("truncation", "longest_first")
        p.truncation = TRUNCATION[tr] if isinstance(tr, str) else int(tr)
        p.parse_special = int(bool(kw.pop("parse_special", True)))
        if kw:
            raise TypeError("unknown encode option(s): %s" % ", ".join(kw))
        t = _b(text)
        pr = _b(pair) if pair is not None else None
        cap = len(t) + (len(pr) if pr else 0) + 8
        L = _ffi.lib()
        n = c_size_t()
        for _ in range(2):
            ids = np.empty(cap, np.int32)
            tids = np.empty(cap, np.int32) if want_extra else None
            offs = np.empty(2 * cap, np.int32) if want_extra else None
            with ctx.lock:
                st = L.tfm_tokenizer_encode(
                    ctx._h(), self._h(), t, len(t), pr, len(pr) if pr else 0, byref(p),
                    ids.ctypes.data_as(_ffi.i32p),
                    tids.ctypes.data_as(_ffi.i32p) if want_extra else None,
                    offs.ctypes.data_as(_ffi.i32p) if want_extra else None, cap, byref(n))
                if st == ERR_RANGE and n.value > cap:
                    cap = n.value
                    continue
                ctx.check(st, "tfm_tokenizer_encode")
            k = n.value
            if want_extra:
                return Encoding(ids[:k].tolist(), tids[:k].tolist(),
                                [tuple(x) for x in offs[:2 * k].reshape(k, 2).tolist()])
            return ids[:k].tolist()
        raise AssertionError("encode: size changed between calls")

    def encode(self, text, pair=None, ctx=None, **options):
        """Token ids of text (and pair). Options: add_special (True),
        max_length (0: none), truncation ("longest_first", "only_first",
        "only_second", "none"), parse_special (True)."""
        return self._encode(text, pair, ctx, False, **options)

    def encode_plus(self, text, pair=None, ctx=None, **options):
        """Encoding(ids, type_ids, offsets): offsets are (start, end) byte
        ranges in the UTF-8 text of the segment, (-1, -1) for added
        special tokens."""
        return self._encode(text, pair, ctx, True, **options)

    def encode_batch(self, texts, pairs=None, pad_to_max=False, ctx=None, **options):
        """Encodes and right-pads several texts: a dict of int32 arrays ids,
        type_ids, attention_mask [n, seq_len], lengths [n], and pad_id."""
        ctx = ctx or self.ctx
        p = _params(_ffi.tfm_encode_params, "tfm_encode_params_init", {})
        for k, v in options.items():
            if k == "truncation" and isinstance(v, str):
                v = TRUNCATION[v]
            if not hasattr(p, k) or k == "struct_size":
                raise TypeError("unknown encode option %r" % k)
            setattr(p, k, int(v))
        single, enc, arr = _texts(texts)
        parr = None
        if pairs is not None:
            pl = [_b(x) if x is not None else None for x in pairs]
            if len(pl) != len(enc):
                raise ValueError("%d texts but %d pairs" % (len(enc), len(pl)))
            parr = (c_char_p * len(pl))(*pl)
        lens = (c_size_t * len(enc))(*[len(x) for x in enc])
        plens = None
        if parr is not None:
            plens = (c_size_t * len(enc))(*[len(x) if x is not None else 0 for x in pl])
        out = ctypes.POINTER(_ffi.tfm_batch)()
        ctx.call("tfm_tokenizer_encode_batch", ctx._h(), self._h(), arr, lens, parr, plens,
                 len(enc), byref(p), int(bool(pad_to_max)), byref(out))
        try:
            b = out.contents
            shape = (b.n_seq, b.seq_len)
            return {"ids": _arr(b.ids, shape, np.int32),
                    "type_ids": _arr(b.type_ids, shape, np.int32),
                    "attention_mask": _arr(b.attention_mask, shape, np.int32),
                    "lengths": _arr(b.lengths, (b.n_seq,), np.int32),
                    "pad_id": b.pad_id}
        finally:
            _ffi.lib().tfm_batch_free(out)

    def decode_bytes(self, ids, skip_special=False, cleanup=False, ctx=None):
        ctx = ctx or self.ctx
        a = np.ascontiguousarray(ids, np.int32).reshape(-1)
        flags = (DECODE_SKIP_SPECIAL if skip_special else 0) | (DECODE_CLEANUP if cleanup else 0)
        n = c_size_t()
        L = _ffi.lib()
        ip = a.ctypes.data_as(_ffi.i32p)
        with ctx.lock:
            ctx.check(L.tfm_tokenizer_decode(ctx._h(), self._h(), ip, a.size, flags, None, 0,
                                             byref(n)), "tfm_tokenizer_decode")
            buf = ctypes.create_string_buffer(n.value + 1)
            ctx.check(L.tfm_tokenizer_decode(ctx._h(), self._h(), ip, a.size, flags, buf,
                                             n.value + 1, byref(n)), "tfm_tokenizer_decode")
        return buf.raw[:n.value]

    def decode(self, ids, skip_special=False, cleanup=False, ctx=None, errors="replace"):
        """The text of ids (a byte-level cut may leave invalid UTF-8, which
        `errors` handles as bytes.decode does)."""
        return self.decode_bytes(ids, skip_special, cleanup, ctx).decode("utf-8", errors)

    def decode_next(self, prev_id, token_id, skip_special=False, ctx=None):
        """The bytes token_id adds after prev_id (-1 at the start)."""
        ctx = ctx or self.ctx
        flags = DECODE_SKIP_SPECIAL if skip_special else 0
        n = c_size_t()
        buf = ctypes.create_string_buffer(256)
        L = _ffi.lib()
        with ctx.lock:
            st = L.tfm_tokenizer_decode_next(ctx._h(), self._h(), int(prev_id), int(token_id),
                                             flags, buf, 256, byref(n))
            if st == ERR_RANGE and n.value >= 256:
                buf = ctypes.create_string_buffer(n.value + 1)
                st = L.tfm_tokenizer_decode_next(ctx._h(), self._h(), int(prev_id),
                                                 int(token_id), flags, buf, n.value + 1,
                                                 byref(n))
            ctx.check(st, "tfm_tokenizer_decode_next")
        return buf.raw[:n.value]


def _noop(handle):
    pass


# ---- model --------------------------------------------------------------------------------

_WEIGHTS = {"stored": 0, "f32": 1, "f16": 2, "bf16": 3, "q8": 4, "q4": 5}


def _weight_formats(weights):
    if weights not in _WEIGHTS:
        raise ValueError("weights must be one of %s, not %r" % (", ".join(_WEIGHTS), weights))
    return _WEIGHTS


def quantize(path, out, weights="q8", n_threads=1):
    """Writes the Hugging Face folder `path` with its matrices in `weights`
    ("q8", "q4", "f16", "bf16", "f32", "stored") to the folder `out`
    (created if absent): a folder Model.load maps with no conversion
    (tfm_model_quantize)."""
    w = _weight_formats(weights)[weights]
    with Context(n_threads) as ctx:
        ctx.call("tfm_model_quantize", ctx._h(), _fspath(path), _fspath(out), w)


class Model(_Owned):
    """A loaded network (llama2.c checkpoint or Hugging Face folder):
    immutable, shareable by any number of threads, each with its own
    Context and Session."""

    @classmethod
    def load(cls, path, tokenizer=None, ctx=None, n_threads=1, no_tokenizer=False,
             use_mmap=True, prepack=True, weights="stored"):
        """Loads `path`. tokenizer: a tokenizer file or folder to use
        instead of the one found beside the model. ctx: the Context whose
        allocator holds the model (default: a new one with n_threads, owned
        by the model and used by the calls that take no ctx). weights: the
        format the weight matrices are kept in, "stored" (as the file has
        them), "f32", "f16", "bf16", "q8" or "q4" (tfm_model_params.weights;
        docs/MODELS.md, "Weights in memory")."""
        formats = _weight_formats(weights)
        self = cls.__new__(cls)
        own_ctx = ctx is None
        ctx = ctx or Context(n_threads)
        p = _params(_ffi.tfm_model_params, "tfm_model_params_init", {})
        tok = _fspath(tokenizer) if tokenizer is not None else None
        p.tokenizer_path = tok
        p.no_tokenizer = int(bool(no_tokenizer))
        p.use_mmap = int(bool(use_mmap))
        p.prepack = int(bool(prepack))
        p.weights = formats[weights]
        h = c_void_p()
        try:
            ctx.call("tfm_model_load", ctx._h(), _fspath(path), byref(p), byref(h))
        except BaseException:
            if own_ctx:
                ctx.close()
            raise
        self.ctx = ctx
        self.path = path
        self._own(h.value, _ffi.lib().tfm_model_free, ctx)
        if own_ctx:
            self._own_ctx = ctx
        self._tok = None
        return self

    def close(self):
        super().close()
        c = self.__dict__.pop("_own_ctx", None)
        if c is not None:
            c.close()

    def __repr__(self):
        if self.closed:
            return "<Model closed>"
        return "<Model %s: %s, %d layers, dim %d, vocab %d>" % (
            self.path, self.arch, self.n_layers, self.dim, self.vocab_size)

    # -- queries
    def _q(self, name):
        return getattr(_ffi.lib(), name)(self._h())

    arch = property(lambda self: self._q("tfm_model_arch").decode())
    # "encoder", "decoder" or "encoder-decoder" (tfm_model_kind)
    kind = property(lambda self: {1: "encoder", 2: "decoder", 3: "encoder-decoder"}.get(
        self._q("tfm_model_kind")))
    vocab_size = property(lambda self: self._q("tfm_model_vocab_size"))
    max_context = property(lambda self: self._q("tfm_model_max_context"))
    dim = property(lambda self: self._q("tfm_model_dim"))
    n_layers = property(lambda self: self._q("tfm_model_n_layers"))
    weight_bytes = property(lambda self: self._q("tfm_model_weight_bytes"))

    @property
    def bos(self):
        v = self._q("tfm_model_bos")
        return None if v < 0 else v

    @property
    def eos(self):
        v = self._q("tfm_model_eos")
        return None if v < 0 else v

    @property
    def heads(self):
        """Names of the encoder heads loaded ("pooler", "mlm", "classifier")."""
        bits = self._q("tfm_model_heads")
        return [k for k, v in HEADS.items() if bits & v]

    @property
    def labels(self):
        """Classifier label names (id2label), [] without a classifier."""
        L = _ffi.lib()
        h = self._h()
        return [L.tfm_model_label(h, i).decode() for i in range(L.tfm_model_n_labels(h))]

    @property
    def tokenizer(self):
        """The model's tokenizer (owned by the model), or None."""
        if self._tok is None or self._tok.closed:
            h = self._q("tfm_model_tokenizer")
            if not h:
                return None
            self._tok = Tokenizer._view(h, self)
        return self._tok

    def session(self, ctx=None, max_context=0, max_batch=0, slide=False, abort=None):
        """A Session (KV cache and workspace) computing with ctx's threads
        (default: the model's Context)."""
        return Session(self, ctx or self.ctx, max_context, max_batch, slide, abort)

    # -- generation
    def generate(self, prompt="", ctx=None, **options):
        """Yields the text of the generated tokens as they are produced.
        See Session.generate for the options."""
        s = self.session(ctx)
        try:
            yield from s.generate(prompt, **options)
        finally:
            s.close()

    def generate_text(self, prompt="", ctx=None, **options):
        with self.session(ctx) as s:
            return s.generate_text(prompt, **options)

    # -- encoder tasks
    def _task_params(self, kw):
        p = _params(_ffi.tfm_task_params, "tfm_task_params_init", {})
        for k, v in kw.items():
            if k == "pooling" and isinstance(v, str):
                if v not in POOLING:
                    raise ValueError("unknown pooling %r (mean, cls, none)" % v)
                v = POOLING[v]
            if k not in ("truncate", "max_length", "top_k", "pooling", "normalize"):
                raise TypeError("unknown option %r" % k)
            setattr(p, k, int(v))
        return p

    def encode(self, ids, type_ids=None, attention_mask=None,
               outputs=("hidden",), ctx=None):
        """tfm_model_encode on a padded batch of ids [B, S]: a dict with the
        outputs asked for ("hidden" [B, S, D], "pooled" [B, D],
        "mlm_logits" [B, S, V], "class_logits" [B, C])."""
        ctx = ctx or self.ctx
        ids = np.ascontiguousarray(np.atleast_2d(ids), np.int32)
        B, S = ids.shape
        keep = []

        def ip(a):
            if a is None:
                return None
            a = np.ascontiguousarray(np.atleast_2d(a), np.int32)
            if a.shape != ids.shape:
                raise ValueError("shape %s differs from the ids' %s" % (a.shape, ids.shape))
            keep.append(a)
            return a.ctypes.data_as(_ffi.i32p)
        o = _params(_ffi.tfm_encode_outputs, "tfm_encode_outputs_init", {})
        D, V, C = self.dim, self.vocab_size, len(self.labels)
        shapes = {"hidden": (B, S, D), "pooled": (B, D), "mlm_logits": (B, S, V),
                  "class_logits": (B, C)}
        res = {}
        for name in outputs:
            if name not in shapes:
                raise ValueError("unknown output %r (one of %s)" % (name, ", ".join(shapes)))
            res[name] = np.empty(shapes[name] if name != "class_logits" or C else (B, 1),
                                 np.float32)
            setattr(o, name, res[name].ctypes.data_as(_ffi.fp))
        ctx.call("tfm_model_encode", ctx._h(), self._h(), ids.ctypes.data_as(_ffi.i32p),
                 ip(type_ids), ip(attention_mask), B, S, byref(o))
        return res

    def fill_mask(self, texts, top_k=5, ctx=None, **options):
        """Predictions for each [MASK]: for one text, a list (one per mask)
        of lists of {"token", "id", "score"}, best first; for a list of
        texts, one such list per text. Options: truncate, max_length."""
        ctx = ctx or self.ctx
        p = self._task_params(dict(options, top_k=top_k))
        single, enc, arr = _texts(texts)
        out = ctypes.POINTER(_ffi.tfm_fill_mask_result)()
        ctx.call("tfm_fill_mask", ctx._h(), self._h(), arr, len(enc), byref(p), byref(out))
        try:
            r = out.contents
            res = [[] for _ in enc]
            for m in range(r.n_masks):
                preds = []
                for k in range(r.top_k):
                    pr = r.pred[m * r.top_k + k]
                    preds.append({"token": pr.token.decode("utf-8", "replace"),
                                  "id": pr.id, "score": pr.score})
                res[r.text[m]].append(preds)
        finally:
            _ffi.lib().tfm_fill_mask_result_free(out)
        return res[0] if single else res

    def embed(self, texts, pooling="mean", normalize=False, ctx=None, **options):
        """Sentence embeddings: [n, D] (a [D] vector for one text). With
        pooling "none": a list of [len_i, D] arrays (one per text, specials
        included). Options: truncate, max_length."""
        ctx = ctx or self.ctx
        p = self._task_params(dict(options, pooling=pooling, normalize=normalize))
        single, enc, arr = _texts(texts)
        out = ctypes.POINTER(_ffi.tfm_embeddings)()
        ctx.call("tfm_embed_texts", ctx._h(), self._h(), arr, len(enc), byref(p), byref(out))
        try:
            e = out.contents
            lengths = _arr(e.lengths, (e.n,), np.int32)
            if e.pooling == POOLING["none"]:
                data = _arr(e.data, (e.n, e.seq_len, e.dim), np.float32)
                res = [data[i, :lengths[i]].copy() for i in range(e.n)]
            else:
                res = _arr(e.data, (e.n, e.dim), np.float32)
        finally:
            _ffi.lib().tfm_embeddings_free(out)
        return res[0] if single else res

    def classify(self, texts, pairs=None, ctx=None, **options):
        """For each text: {"label", "score", "index", "probs", "logits"};
        one dict for one text. pairs: second segments (None entries for
        none). Options: truncate, max_length."""
        ctx = ctx or self.ctx
        p = self._task_params(options)
        single, enc, arr = _texts(texts)
        parr = None
        if pairs is not None:
            pl = [pairs] if single else list(pairs)
            if len(pl) != len(enc):
                raise ValueError("%d texts but %d pairs" % (len(enc), len(pl)))
            parr = (c_char_p * len(pl))(*[_b(x) if x is not None else None for x in pl])
        out = ctypes.POINTER(_ffi.tfm_classification)()
        ctx.call("tfm_classify", ctx._h(), self._h(), arr, parr, len(enc), byref(p),
                 byref(out))
        try:
            c = out.contents
            logits = _arr(c.logits, (c.n, c.n_labels), np.float32)
            probs = _arr(c.probs, (c.n, c.n_labels), np.float32)
            labels = [c.labels[j].decode() for j in range(c.n_labels)]
            res = []
            for i in range(c.n):
                b = c.best[i]
                res.append({"label": labels[b], "score": float(probs[i, b]), "index": b,
                            "probs": probs[i], "logits": logits[i]})
        finally:
            _ffi.lib().tfm_classification_free(out)
        return res[0] if single else res

    # -- translation
    def _q_opt(self, name):
        return _need(name)(self._h())

    @property
    def decoder_start(self):
        """Translation models: the decoder start token id (None if none)."""
        v = self._q_opt("tfm_model_decoder_start")
        return None if v < 0 else v

    @property
    def pad(self):
        v = self._q_opt("tfm_model_pad")
        return None if v < 0 else v

    @property
    def src_vocab_size(self):
        return self._q_opt("tfm_model_src_vocab_size")

    def piece(self, token_id):
        """Translation models: the vocab.json piece of a target id, or None."""
        p = _need("tfm_translate_piece")(self._h(), int(token_id))
        return p.decode("utf-8", "replace") if p else None

    def translate(self, texts, ctx=None, **options):
        """Translates text(s); see Session.translate."""
        with self.session(ctx) as s:
            return s.translate(texts, **options)

    def translate_tokens(self, sources, ctx=None, **options):
        with self.session(ctx) as s:
            return s.translate_tokens(sources, **options)

    def translate_logits(self, src_ids, tgt_ids, src_mask=None, ctx=None):
        """Teacher-forced logits [B, T, V] of a translation model."""
        f = _need("tfm_translate_logits")
        ctx = ctx or self.ctx
        s = np.ascontiguousarray(np.atleast_2d(src_ids), np.int32)
        t = np.ascontiguousarray(np.atleast_2d(tgt_ids), np.int32)
        m = None if src_mask is None else np.ascontiguousarray(np.atleast_2d(src_mask),
                                                                np.int32)
        if t.shape[0] != s.shape[0]:
            raise ValueError("src batch %d, tgt batch %d" % (s.shape[0], t.shape[0]))
        out = np.empty((s.shape[0], t.shape[1], self.vocab_size), np.float32)
        with ctx.lock:
            ctx.check(f(ctx._h(), self._h(), s.ctypes.data_as(_ffi.i32p),
                        m.ctypes.data_as(_ffi.i32p) if m is not None else None,
                        s.shape[0], s.shape[1], t.ctypes.data_as(_ffi.i32p), t.shape[1],
                        out.ctypes.data_as(_ffi.fp)), "tfm_translate_logits")
        return out


Translation = collections.namedtuple("Translation", "text ids score src_ids attention")


# ---- session -------------------------------------------------------------------------------

class Session(_Owned):
    """A tfm_session: the KV cache and workspace of one decoding stream.
    Used by one thread at a time; keeps its model and ctx alive."""

    def __init__(self, model, ctx, max_context=0, max_batch=0, slide=False, abort=None):
        p = _params(_ffi.tfm_session_params, "tfm_session_params_init", {})
        p.max_context = int(max_context)
        p.max_batch = int(max_batch)
        p.context_policy = 1 if slide else 0
        self._abort_cb = None
        self._abort_error = None
        if abort is not None:
            def on_abort(ud, _f=abort, _self=self):
                try:
                    return 1 if _f() else 0
                except BaseException as e:  # stop, re-raised after the call
                    _self._abort_error = e
                    return 1
            self._abort_cb = _ffi.tfm_abort_fn(on_abort)
            p.abort = self._abort_cb
        h = c_void_p()
        ctx.call("tfm_session_create", ctx._h(), model._h(), byref(p), byref(h))
        self.model, self.ctx = model, ctx
        self.last_stats = None
        self._busy = False
        self._own(h.value, _ffi.lib().tfm_session_free, model, ctx, self._abort_cb)

    def _call(self, name, *args):
        ctx = self.ctx
        f = getattr(_ffi.lib(), name)
        with ctx.lock:
            st = f(*args)
            if st and self._abort_error is not None:
                e, self._abort_error = self._abort_error, None
                raise e
            ctx.check(st, name)

    def _idle(self):
        if self._busy:
            raise MisuseError("the session is generating (an unfinished generate() "
                              "iterator); close it first")
        return self._h()

    @property
    def pos(self):
        return _ffi.lib().tfm_session_pos(self._h())

    @property
    def max_context(self):
        return _ffi.lib().tfm_session_max_context(self._h())

    def reset(self):
        _ffi.lib().tfm_session_reset(self._idle())

    @property
    def logits(self):
        """A copy of the logits of the last token run, or None."""
        p = _ffi.lib().tfm_session_logits(self._h())
        return _arr(p, (self.model.vocab_size,), np.float32) if p else None

    def prefill(self, tokens, all_logits=False):
        """Runs tokens at the next positions; returns the last token's
        logits [V], or every token's [n, V] with all_logits."""
        t = np.ascontiguousarray(tokens, np.int32).reshape(-1)
        V = self.model.vocab_size
        out = np.empty((t.size, V), np.float32) if all_logits else None
        self._call("tfm_session_prefill", self._idle(), t.ctypes.data_as(_ffi.i32p), t.size,
                   out.ctypes.data_as(_ffi.fp) if out is not None else None)
        return out if all_logits else self.logits

    def step(self, token):
        """One decoding step; returns its logits [V]."""
        out = np.empty(self.model.vocab_size, np.float32)
        self._call("tfm_session_step", self._idle(), int(token), out.ctypes.data_as(_ffi.fp))
        return out

    def _gen_params(self, options):
        return _params(_ffi.tfm_gen_params, "tfm_gen_params_init", options)

    def _start(self, prompt, gp, on_token, claimed=False):
        """Runs tfm_generate(_tokens) on this thread; on_token(id, bytes)
        returns True to stop. Exceptions raised by on_token stop the
        generation and are re-raised here, after the C call returned.
        claimed: the caller already marked the session busy."""
        err = []

        def cb(ud, token, piece, length):
            try:
                b = ctypes.string_at(piece, length) if piece and length else b""
                return 1 if on_token(token, b) else 0
            except BaseException as e:  # never let it unwind through C
                err.append(e)
                return 1
        c = _ffi.tfm_token_fn(cb)
        gp.on_token = c
        n = c_int32()
        stats = _ffi.default_struct(_ffi.tfm_gen_stats, "tfm_gen_stats_init")
        h = self._h() if claimed else self._idle()
        self._busy = True
        try:
            if isinstance(prompt, (str, bytes)):
                self._call("tfm_generate", h, _b(prompt), byref(gp), None, 0, byref(n),
                           byref(stats))
            else:
                ids = np.ascontiguousarray(prompt, np.int32).reshape(-1)
                self._call("tfm_generate_tokens", h, ids.ctypes.data_as(_ffi.i32p), ids.size,
                           byref(gp), None, 0, byref(n), byref(stats))
        finally:
            self._busy = False
            gp.on_token = _ffi.tfm_token_fn()
            self.last_stats = {"n_prompt": stats.n_prompt, "n_generated": stats.n_generated,
                               "prompt_seconds": stats.prompt_seconds,
                               "gen_seconds": stats.gen_seconds}
        if err:
            raise err[0]
        return n.value

    def generate_text(self, prompt="", on_token=None, **options):
        """Generates and returns the whole text. on_token(id, text) is
        called for each token (text: its decoded piece) and may return True
        to stop. prompt: a string, or a list of token ids used as given.
        Options: the fields of tfm_gen_params (max_new_tokens=256,
        max_total_tokens, temperature=1, top_k, top_p, repetition_penalty,
        seed=42, stop_token, add_bos)."""
        gp = self._gen_params(options)
        pieces = []
        dec = codecs.getincrementaldecoder("utf-8")("replace")

        def f(token, b):
            s = dec.decode(b)
            pieces.append(s)
            return on_token(token, s) if on_token is not None else False
        self._start(prompt, gp, f)
        pieces.append(dec.decode(b"", True))
        return "".join(pieces)

    def generate(self, prompt="", with_ids=False, **options):
        """An iterator over the generated text, piece by piece, as the
        tokens are produced (UTF-8 sequences split over tokens are joined
        before they are yielded). with_ids: yield (token_id, text) pairs.
        Stopping the iteration early (break, close()) stops the generation.
        The C call runs on a helper thread (ctypes releases the GIL), so the
        consumer receives each piece while the next token is computed."""
        gp = self._gen_params(options)
        q = queue.Queue()
        stop = threading.Event()
        self._idle()
        self._busy = True  # from now on, until the helper thread is done

        def on_token(token, b):
            q.put((token, b))
            return stop.is_set()

        def run():
            try:
                self._start(prompt, gp, on_token, claimed=True)
                q.put(None)
            except BaseException as e:
                q.put(e)
        t = threading.Thread(target=run, name="tfm-generate", daemon=True)
        try:
            t.start()
        except BaseException:
            self._busy = False
            raise
        dec = codecs.getincrementaldecoder("utf-8")("replace")
        try:
            while True:
                item = q.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                token, b = item
                s = dec.decode(b)
                if with_ids:
                    yield token, s
                elif s:
                    yield s
            rest = dec.decode(b"", True)
            if rest and not with_ids:
                yield rest
        finally:
            stop.set()
            t.join()

    # -- translation
    def _translate_params(self, options):
        _need("tfm_translate_params_init")
        p = _params(_ffi.tfm_translate_params, "tfm_translate_params_init", {})
        for k, v in options.items():
            if k not in ("beam_size", "length_penalty", "max_length", "early_stopping",
                         "truncate", "max_source_length", "attention"):
                raise TypeError("unknown translate option %r" % k)
            setattr(p, k, float(v) if k == "length_penalty" else int(v))
        return p

    def _translations(self, out):
        try:
            r = out.contents
            res = []
            for i in range(r.n):
                it = r.items[i]
                ids = _arr(it.ids, (it.n_ids,), np.int32).tolist()
                src = _arr(it.src_ids, (it.n_src,), np.int32).tolist()
                att = None
                if it.attention:
                    att = _arr(it.attention, (it.n_ids, it.n_src), np.float32)
                text = ctypes.string_at(it.text).decode("utf-8", "replace") if it.text else None
                res.append(Translation(text, ids, float(it.score), src, att))
            return res
        finally:
            _ffi.lib().tfm_translate_result_free(out)

    def translate(self, texts, **options):
        """Translates one text (returns a Translation) or a list of texts
        (a list). Options: beam_size, length_penalty, max_length,
        early_stopping, truncate, max_source_length, attention (True: each
        Translation carries the cross-attention [n_ids, n_src])."""
        _need("tfm_translate")
        p = self._translate_params(options)
        single, enc, arr = _texts(texts)
        out = ctypes.POINTER(_ffi.tfm_translate_result)()
        self._call("tfm_translate", self._idle(), arr, len(enc), byref(p), byref(out))
        res = self._translations(out)
        return res[0] if single else res

    def translate_tokens(self, sources, **options):
        """As translate, from source token ids (each list ends with EOS)."""
        _need("tfm_translate_tokens")
        p = self._translate_params(options)
        single = len(sources) > 0 and np.isscalar(sources[0])
        srcs = [np.ascontiguousarray(s, np.int32) for s in ([sources] if single else sources)]
        ptrs = (_ffi.i32p * len(srcs))(*[s.ctypes.data_as(_ffi.i32p) for s in srcs])
        lens = (c_int32 * len(srcs))(*[s.size for s in srcs])
        out = ctypes.POINTER(_ffi.tfm_translate_result)()
        self._call("tfm_translate_tokens", self._idle(), ptrs, lens, len(srcs), byref(p),
                   byref(out))
        res = self._translations(out)
        return res[0] if single else res


# ---- sampling -----------------------------------------------------------------------------------

class Sampler:
    """tfm_sample for hand-written decoding loops: picks the next token from
    logits under the generation options (temperature, top_k, top_p,
    repetition_penalty) with its own random state, seeded as tfm_generate
    seeds it (tfm_sample_seed): with the same options and seed, a loop that
    passes the prompt and the tokens so far as `recent` gives tfm_generate's
    tokens.

        sampler = tfm.Sampler(temperature=0.8, top_p=0.9, seed=7)
        token = sampler(session.step(token), recent=ids[-64:])
    """

    def __init__(self, seed=42, **options):
        self.params = _params(_ffi.tfm_gen_params, "tfm_gen_params_init", options)
        self.params.seed = int(seed)
        self.state = ctypes.c_uint64(_ffi.lib().tfm_sample_seed(int(seed)))

    def __call__(self, logits, recent=()):
        x = np.array(logits, np.float32, copy=True).reshape(-1)  # modified by the call
        r = np.ascontiguousarray(list(recent), np.int32)
        scratch = np.empty(2 * x.size, np.float32)  # 8 bytes per logit, aligned
        i = _ffi.lib().tfm_sample(x.ctypes.data_as(_ffi.fp), x.size, byref(self.params),
                                  byref(self.state),
                                  r.ctypes.data_as(_ffi.i32p) if r.size else None, r.size,
                                  scratch.ctypes.data_as(c_void_p))
        if i < 0:
            raise ValueError("tfm_sample: bad arguments (empty logits or bad options)")
        return int(i)


# ---- safetensors -----------------------------------------------------------------------------

_ST_NP = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "F64": np.float64,
          "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_, "I16": np.int16,
          "U16": np.uint16, "I32": np.int32, "U32": np.uint32, "I64": np.int64,
          "U64": np.uint64}


class SafeTensors(_Owned):
    """A safetensors file, sharded checkpoint or folder, opened read-only
    (memory-mapped). st[name] gives a numpy copy; st.get(name, copy=False)
    a read-only view that keeps the file open."""

    def __init__(self, path, ctx=None):
        self._own_ctx = ctx is None
        ctx = ctx or Context()
        h = c_void_p()
        try:
            ctx.call("tfm_safetensors_open", ctx._h(), _fspath(path), byref(h))
        except BaseException:
            if self._own_ctx:
                ctx.close()
            raise
        self.ctx = ctx
        self._own(h.value, _ffi.lib().tfm_safetensors_close, ctx)

    open = classmethod(lambda cls, path, ctx=None: cls(path, ctx))

    def close(self):
        super().close()
        if self.__dict__.get("_own_ctx"):
            self._own_ctx = False
            self.ctx.close()

    def __len__(self):
        return _ffi.lib().tfm_safetensors_count(self._h())

    def keys(self):
        L, h = _ffi.lib(), self._h()
        return [L.tfm_safetensors_name(h, i).decode() for i in range(len(self))]

    __iter__ = lambda self: iter(self.keys())

    def __contains__(self, name):
        return _ffi.lib().tfm_safetensors_find(self._h(), _b(name)) >= 0

    @property
    def metadata(self):
        L, h = _ffi.lib(), self._h()
        out = {}
        for i in range(L.tfm_safetensors_metadata_count(h)):
            k = L.tfm_safetensors_metadata_key(h, i)
            out[k.decode()] = L.tfm_safetensors_metadata_get(h, k).decode()
        return out

    def info(self, name):
        L, h = _ffi.lib(), self._h()
        i = L.tfm_safetensors_find(h, _b(name))
        if i < 0:
            raise KeyError(name)
        inf = _ffi.default_struct(_ffi.tfm_safetensors_info, "tfm_safetensors_info_init")
        L.tfm_safetensors_info_at(h, i, byref(inf))
        return inf

    def get(self, name, copy=True):
        inf = self.info(name)
        dt = _ST_NP.get(inf.dtype_name.decode())
        if dt is None:
            raise TypeError("tensor %r: dtype %s has no numpy equivalent"
                            % (name, inf.dtype_name.decode()))
        shape = tuple(inf.shape[:inf.ndim])
        buf = (ctypes.c_char * max(int(inf.nbytes), 1)).from_address(inf.data)
        buf._owner = self  # the view keeps the mapping open
        a = np.frombuffer(buf, dtype=dt, count=int(inf.nbytes) // np.dtype(dt).itemsize)
        a = a.reshape(shape)
        if copy:
            return a.copy()
        a.flags.writeable = False
        return a

    def __getitem__(self, name):
        return self.get(name)
