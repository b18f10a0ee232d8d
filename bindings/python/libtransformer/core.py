"""Context, tensors exchanged with numpy, and the tensor operations."""
import ctypes
import threading
import weakref
from ctypes import byref, c_int64, c_void_p

import numpy as np

from . import _ffi
from .errors import MisuseError, error_for

# tfm_dtype values and their numpy types.
F32, F16, BF16, I8, I32, F64, I64, U8 = range(8)
_NP_TO_TFM = {np.dtype(np.float32): F32, np.dtype(np.float16): F16,
              np.dtype(np.int8): I8, np.dtype(np.int32): I32,
              np.dtype(np.float64): F64, np.dtype(np.int64): I64,
              np.dtype(np.uint8): U8, np.dtype(np.bool_): U8}
_TFM_TO_NP = {F32: np.float32, F16: np.float16, BF16: np.uint16, I8: np.int8,
              I32: np.int32, F64: np.float64, I64: np.int64, U8: np.uint8}

ACTIVATIONS = {"none": 0, "relu": 1, "gelu": 2, "gelu_tanh": 3, "silu": 4,
               "tanh": 5, "sigmoid": 6}


def _enum(value, table, what):
    if isinstance(value, str):
        try:
            return table[value]
        except KeyError:
            raise ValueError("unknown %s %r (one of %s)"
                             % (what, value, ", ".join(sorted(table)))) from None
    return int(value)


def version():
    """The linked library's version as (major, minor, patch)."""
    return _ffi.lib().version


def version_string():
    return _ffi.lib().tfm_version_string().decode()


def kernels_name():
    """The kernel set in use ("ref", "avx2", "avx512", "neon")."""
    return _ffi.lib().tfm_kernels_name().decode()


def kernels_supported(name):
    """True when the kernel set `name` is compiled in and this CPU runs it."""
    return bool(_ffi.lib().tfm_kernels_supported(name.encode()))


def cpu_features():
    """Names of the CPU features the library detected."""
    L = _ffi.lib()
    f = L.tfm_cpu_features()
    n = L.tfm_cpu_features_str(f, None, 0)
    buf = ctypes.create_string_buffer(n + 1)
    L.tfm_cpu_features_str(f, buf, n + 1)
    return buf.value.decode().split()


def status_str(status):
    return _ffi.lib().tfm_status_str(status).decode()


# ---- handles ---------------------------------------------------------------------

class _Owned:
    """Base of objects that own a library handle: freed by close(), by the
    with-statement, or by the garbage collector (weakref.finalize). Objects
    made with a Context are registered with it and closed before it."""

    _handle = None
    _finalizer = None

    def _own(self, handle, free, *keep):
        # `keep`: objects the handle needs alive (its ctx, its model); the
        # finalizer holds them, so they outlive this handle even when the
        # garbage collector takes a whole cycle at once.
        self._handle = handle
        self._finalizer = weakref.finalize(self, _free_handle, free, handle, keep)
        for k in keep:
            if isinstance(k, _Owned):
                k._children.add(self)

    @property
    def _children(self):
        d = self.__dict__.get("_children_set")
        if d is None:
            d = self.__dict__["_children_set"] = weakref.WeakSet()
        return d

    @property
    def closed(self):
        return self._finalizer is None or not self._finalizer.alive

    def close(self):
        """Frees the library object now (and, first, every object that
        depends on it). Further use raises MisuseError."""
        for c in list(self._children):
            c.close()
        if self._finalizer is not None:
            self._finalizer()

    def _h(self):
        if self.closed:
            raise MisuseError("%s is closed" % type(self).__name__, function=None)
        return self._handle

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _free_handle(free, handle, keep):
    free(handle)


# ---- context -----------------------------------------------------------------------

class Context(_Owned):
    """A tfm_ctx: the thread pool, the allocator and the last error.

    check_finite=True makes every model call check each layer's output and
    raise NumericError naming the first that holds a NaN or infinity.
    max_memory caps the bytes the library holds allocated through this
    Context at once (models, sessions and the scratch of its calls; mapped
    weights do not count): a request past it raises NoMemoryError giving
    the request, the bytes held and the cap. None or 0: no cap.

    Use one Context per Python thread (a lock serializes calls made on one
    Context from several threads). Objects created with a Context (models,
    tokenizers, layers) keep it alive and are closed before it.
    """

    def __init__(self, n_threads=1, log=None, log_level=1, check_finite=False, max_memory=None,
                 _alloc=None):
        L = _ffi.lib()
        p = _ffi.default_struct(_ffi.tfm_ctx_params, "tfm_ctx_params_init")
        p.n_threads = int(n_threads)
        p.log_level = int(log_level)
        p.check_finite = 1 if check_finite else 0
        if max_memory is not None:
            if int(max_memory) < 0:
                raise ValueError("max_memory must be a byte count >= 0")
            p.max_memory = int(max_memory)
        self._callbacks = []
        if log is not None:
            def on_log(ud, level, msg, _log=log):
                try:
                    _log(level, msg.decode("utf-8", "replace"))
                except BaseException:  # never let an exception reach C
                    pass
            cb = _ffi.tfm_log_fn(on_log)
            self._callbacks.append(cb)
            p.log = cb
        if _alloc is not None:
            # A Python allocator (for tests): an exception in it becomes an
            # allocation failure (NULL), never an unwinding through C.
            def on_alloc(ud, ptr, osize, nsize, align, _f=_alloc):
                try:
                    return _f(ud, ptr, osize, nsize, align)
                except BaseException:
                    return None
            cb = _ffi.tfm_alloc_fn(on_alloc)
            self._callbacks.append(cb)
            p.alloc = cb
        h = c_void_p()
        st = L.tfm_ctx_create(byref(p), byref(h))
        if st:
            raise error_for(st, "cannot create a context (n_threads=%d): %s"
                            % (n_threads, L.tfm_status_str(st).decode()),
                            "tfm_ctx_create")
        self.lock = threading.RLock()
        # The callbacks must outlive the ctx: the finalizer keeps them.
        self._own(h.value, L.tfm_ctx_free, self._callbacks)

    @property
    def n_threads(self):
        return _ffi.lib().tfm_ctx_n_threads(self._h())

    @property
    def last_error(self):
        v = _ffi.lib().tfm_ctx_last_error(self._h())
        return v.decode("utf-8", "replace") if v else ""

    def check(self, status, function):
        """Raises the exception for a failing status with this context's
        message (call with the lock held)."""
        if status:
            msg = self.last_error or _ffi.lib().tfm_status_str(status).decode()
            raise error_for(status, msg, function)

    def call(self, function, *args):
        """Calls the C function `function` (a name) with the context's lock
        held and raises on failure."""
        f = getattr(_ffi.lib(), function)
        with self.lock:
            self.check(f(*args), function)

    # Tensor operations are methods, so each thread passes its own context.
    def matmul(self, a, b, trans_b=False, bias=None, alpha=1.0, beta=0.0, out=None):
        """alpha * a @ op(b) (+ bias) + beta * out; op(b) = b.T with trans_b
        (b then has nn.Linear's [out, in] layout)."""
        ta, keep = to_tensor(a)
        tb, kb = to_tensor(b)
        tbias, kbias = to_tensor(bias) if bias is not None else (None, None)
        n = tb.shape[0] if trans_b else tb.shape[tb.ndim - 1]
        if out is None:
            if beta != 0:
                raise ValueError("matmul: beta != 0 needs out")
            out = np.empty(np.shape(a)[:-1] + (n,), np.float32)
        to, ko = out_tensor(out)
        self.call("tfm_matmul", self._h(), byref(ta), byref(tb), int(bool(trans_b)),
                  byref(tbias) if tbias is not None else None, alpha, beta, byref(to))
        return ko.result()

    def _binary(self, fn, a, b, out):
        ta, ka = to_tensor(a)
        tb, kb = to_tensor(b)
        if out is None:
            out = np.empty(np.shape(a), np.float32)
        to, ko = out_tensor(out)
        self.call(fn, self._h(), byref(ta), byref(tb), byref(to))
        return ko.result()

    def add(self, a, b, out=None):
        """a + b, b broadcast from a's trailing dimensions."""
        return self._binary("tfm_add", a, b, out)

    def mul(self, a, b, out=None):
        return self._binary("tfm_mul", a, b, out)

    def scale(self, x, s, out=None):
        tx, kx = to_tensor(x)
        to, ko = out_tensor(out if out is not None else np.empty(np.shape(x), np.float32))
        self.call("tfm_scale", self._h(), byref(tx), float(s), byref(to))
        return ko.result()

    def softmax(self, x, mask=None, out=None):
        """Softmax over the last dimension; `mask` is added first
        (broadcast from the trailing dimensions; -inf masks out)."""
        tx, kx = to_tensor(x)
        tm, km = to_tensor(mask) if mask is not None else (None, None)
        to, ko = out_tensor(out if out is not None else np.empty(np.shape(x), np.float32))
        self.call("tfm_softmax", self._h(), byref(tx),
                  byref(tm) if tm is not None else None, byref(to))
        return ko.result()

    def layernorm(self, x, gamma=None, beta=None, eps=1e-5, out=None):
        tx, kx = to_tensor(x)
        tg, kg = to_tensor(gamma) if gamma is not None else (None, None)
        tb, kb = to_tensor(beta) if beta is not None else (None, None)
        to, ko = out_tensor(out if out is not None else np.empty(np.shape(x), np.float32))
        self.call("tfm_layernorm", self._h(), byref(tx), _ref(tg), _ref(tb),
                  float(eps), byref(to))
        return ko.result()

    def rmsnorm(self, x, gamma=None, eps=1e-5, out=None):
        tx, kx = to_tensor(x)
        tg, kg = to_tensor(gamma) if gamma is not None else (None, None)
        to, ko = out_tensor(out if out is not None else np.empty(np.shape(x), np.float32))
        self.call("tfm_rmsnorm", self._h(), byref(tx), _ref(tg), float(eps), byref(to))
        return ko.result()

    def activation(self, x, act, out=None):
        """Elementwise activation: "relu", "gelu", "gelu_tanh", "silu",
        "tanh", "sigmoid" or "none"."""
        a = _enum(act, ACTIVATIONS, "activation")
        tx, kx = to_tensor(x)
        to, ko = out_tensor(out if out is not None else np.empty(np.shape(x), np.float32))
        self.call("tfm_activation", self._h(), a, byref(tx), byref(to))
        return ko.result()

    def relu(self, x, out=None):
        return self.activation(x, "relu", out)

    def gelu(self, x, out=None):
        return self.activation(x, "gelu", out)

    def gelu_tanh(self, x, out=None):
        return self.activation(x, "gelu_tanh", out)

    def silu(self, x, out=None):
        return self.activation(x, "silu", out)

    def embedding(self, table, ids, out=None):
        """table[ids] (table f32/f16 [V, D]; ids int32 of any shape)."""
        tt, kt = to_tensor(table, dtypes=(np.float32, np.float16))
        ti, ki = to_tensor(ids, dtypes=(np.int32,))
        if out is None:
            out = np.empty(np.shape(ids) + (np.shape(table)[-1],), np.float32)
        to, ko = out_tensor(out)
        self.call("tfm_embedding", self._h(), byref(tt), byref(ti), byref(to))
        return ko.result()

    def pack(self, b, trans_b=False):
        """Packs a weight matrix for matmul_packed (see PackedMatrix)."""
        return PackedMatrix(self, b, trans_b)

    def matmul_packed(self, a, packed, bias=None, alpha=1.0, beta=0.0, out=None):
        ta, ka = to_tensor(a)
        tbias, kbias = to_tensor(bias) if bias is not None else (None, None)
        if out is None:
            out = np.empty(np.shape(a)[:-1] + (packed.cols,), np.float32)
        to, ko = out_tensor(out)
        self.call("tfm_matmul_packed", self._h(), byref(ta), packed._h(),
                  _ref(tbias), alpha, beta, byref(to))
        return ko.result()

    def convert(self, x, dtype):
        """Copies x into a new array of `dtype` through tfm_tensor_copy
        (numpy dtypes, or "bf16" for bfloat16 stored as uint16)."""
        tx, kx = to_tensor(x, dtypes=None)
        code = BF16 if dtype == "bf16" else _NP_TO_TFM[np.dtype(dtype)]
        out = np.empty(np.shape(x), _TFM_TO_NP[code])
        to = _ffi.tfm_tensor()
        _wrap(to, code, out)
        self.call("tfm_tensor_copy", self._h(), byref(tx), byref(to))
        return out


class PackedMatrix(_Owned):
    """A weight matrix packed once for the GEMM micro-kernels."""

    def __init__(self, ctx, b, trans_b=False):
        tb, kb = to_tensor(b)
        h = c_void_p()
        ctx.call("tfm_matrix_pack", ctx._h(), byref(tb), int(bool(trans_b)), byref(h))
        self._own(h.value, _ffi.lib().tfm_packed_matrix_free, ctx)

    @property
    def rows(self):
        return _ffi.lib().tfm_packed_matrix_rows(self._h())

    @property
    def cols(self):
        return _ffi.lib().tfm_packed_matrix_cols(self._h())


# ---- numpy <-> tfm_tensor --------------------------------------------------------------

def _ref(t):
    return byref(t) if t is not None else None


def _wrap(t, code, arr):
    ndim = arr.ndim
    if ndim == 0:
        shape = (1,)
    elif ndim > _ffi.TFM_MAX_DIMS:
        raise ValueError("tensors have at most %d dimensions (got shape %s)"
                         % (_ffi.TFM_MAX_DIMS, arr.shape))
    else:
        shape = arr.shape
    if 0 in shape:
        raise ValueError("empty tensors are not supported (shape %s)" % (arr.shape,))
    dims = (c_int64 * len(shape))(*shape)
    st = _ffi.lib().tfm_tensor_wrap(byref(t), code, len(shape), dims,
                                    arr.ctypes.data_as(c_void_p))
    if st:
        raise error_for(st, "cannot wrap an array of shape %s" % (arr.shape,),
                        "tfm_tensor_wrap")


def to_tensor(x, dtypes=(np.float32,)):
    """Wraps x as a tfm_tensor for reading. A C-contiguous array of an
    accepted dtype is borrowed in place (zero-copy); anything else is first
    copied into one (converted to dtypes[0]). Returns (tensor, array): keep
    the array alive while the tensor is used."""
    arr = np.asarray(x)
    if dtypes is not None and arr.dtype not in [np.dtype(d) for d in dtypes]:
        arr = arr.astype(dtypes[0])
    arr = np.ascontiguousarray(arr)
    code = _NP_TO_TFM.get(arr.dtype)
    if code is None:
        raise TypeError("dtype %s has no libtransformer equivalent" % arr.dtype)
    t = _ffi.tfm_tensor()
    _wrap(t, code, arr)
    return t, arr


class _Out:
    """An output array: written in place when it is C-contiguous float32,
    otherwise through a temporary copied back by result()."""

    def __init__(self, target, work):
        self.target, self.work = target, work

    def result(self):
        if self.work is not self.target:
            self.target[...] = self.work
        return self.target


def out_tensor(out, dtype=np.float32):
    if not isinstance(out, np.ndarray):
        raise TypeError("out must be a numpy array")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    if out.dtype == dtype and out.flags.c_contiguous:
        work = out
    else:
        work = np.empty(out.shape, dtype)
    t = _ffi.tfm_tensor()
    _wrap(t, _NP_TO_TFM[np.dtype(dtype)], work)
    return t, _Out(out, work)


def f16_to_f32(a):
    a = np.ascontiguousarray(a, np.float16)
    out = np.empty(a.shape, np.float32)
    _ffi.lib().tfm_f16_to_f32_array(a.ctypes.data, out.ctypes.data, a.size)
    return out


def bf16_to_f32(a):
    """bfloat16 values stored as uint16 -> float32."""
    a = np.ascontiguousarray(a, np.uint16)
    out = np.empty(a.shape, np.float32)
    _ffi.lib().tfm_bf16_to_f32_array(a.ctypes.data, out.ctypes.data, a.size)
    return out


def f32_to_bf16(a):
    """float32 -> bfloat16 (round to nearest even) stored as uint16."""
    a = np.ascontiguousarray(a, np.float32)
    out = np.empty(a.shape, np.uint16)
    _ffi.lib().tfm_f32_to_bf16_array(a.ctypes.data, out.ctypes.data, a.size)
    return out
