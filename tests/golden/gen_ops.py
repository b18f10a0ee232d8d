#!/usr/bin/python3
"""Golden data for the tensor ops (tests/golden/test_ops.c).

Writes tests/golden/ops.safetensors: for each case of each op, its inputs
(F32, or F16/BF16/I32 where the op takes them) and the output computed by
float64 PyTorch from the very values stored (inputs are rounded to their
stored dtype first), kept as F64. Names are "<op>.<case>.<field>":

  matmul.*      a [..., M, K], b [K, N] or [N, K], bias [N], c0 (initial
                out for beta != 0), p F64 [trans_b, alpha, beta], out
  add.*, mul.*  a, b (broadcast from trailing dims), out
  scale.*       x, p [s], out
  softmax.*     x, mask (optional; -inf entries, fully masked rows), out
  layernorm.*   x, gamma, beta (optional), p [eps], out
  rmsnorm.*     x, gamma (optional), p [eps], out
  relu/gelu/gelu_tanh/silu/tanh/sigmoid.*   x, out
  embedding.*   table (F32, F16 or BF16) [V, D], ids I32, out

Tensors are stored largest element size first so every tensor is aligned.
Fixed seed; run from anywhere with /usr/bin/python3.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

torch.manual_seed(20240601)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops.safetensors")

tensors = {}   # name -> numpy array (float64 values for float inputs)
dtypes = {}    # name -> stored dtype


def f32(*shape, scale=1.0):
    """Random inputs, rounded to f32; returned as float64 torch tensors."""
    x = torch.randn(*shape, dtype=torch.float64) * scale
    return x.float().double()


def put(name, value, dtype):
    a = value.detach().numpy() if hasattr(value, "detach") else np.asarray(value)
    if dtype in ("F32", "F16", "BF16", "F64"):
        a = st.round_to(a, dtype)  # the stored values
    tensors[name] = a
    dtypes[name] = dtype
    return torch.from_numpy(np.array(a, dtype=np.float64)) if dtype != "I32" else a


def ref(name, value):
    tensors[name] = value.detach().numpy().astype(np.float64)
    dtypes[name] = "F64"


# ---- matmul -------------------------------------------------------------------------
def matmul(case, m_shape, k, n, trans_b=0, bias=False, alpha=1.0, beta=0.0):
    p = "matmul." + case + "."
    a = put(p + "a", f32(*m_shape, k), "F32")
    b = put(p + "b", f32(n, k) if trans_b else f32(k, n), "F32")
    bb = b.t() if trans_b else b
    out = alpha * (a @ bb)
    if bias:
        out = out + put(p + "bias", f32(n), "F32")
    if beta != 0.0:
        c0 = put(p + "c0", f32(*m_shape, n), "F32")
        out = out + beta * c0
    put(p + "p", torch.tensor([trans_b, alpha, beta], dtype=torch.float64), "F64")
    ref(p + "out", out)


matmul("plain", (7,), 13, 5)
matmul("trans_b", (7,), 13, 5, trans_b=1)
matmul("bias", (7,), 13, 5, trans_b=1, bias=True)
matmul("alpha_beta", (7,), 13, 5, alpha=0.5, beta=2.0)
matmul("alpha_beta_bias_t", (9,), 16, 11, trans_b=1, bias=True, alpha=-1.25, beta=0.75)
matmul("batched", (2, 3, 4), 13, 6)
matmul("batched_t_bias", (2, 5), 8, 3, trans_b=1, bias=True)
matmul("one", (1,), 1, 1)
matmul("one_t", (1,), 1, 1, trans_b=1, bias=True)
matmul("awkward", (33,), 65, 17)
matmul("awkward_t", (33,), 65, 17, trans_b=1)
matmul("gemv", (1,), 65, 17, trans_b=1, bias=True)
matmul("gemv_plain", (1,), 64, 33)
matmul("vector_a", (), 13, 7)
matmul("tall", (97,), 48, 80, trans_b=1, bias=True)
matmul("wide", (5,), 24, 130)


# ---- add / mul ----------------------------------------------------------------------
def binary(op, case, a_shape, b_shape):
    p = op + "." + case + "."
    a = put(p + "a", f32(*a_shape), "F32")
    b = put(p + "b", f32(*b_shape), "F32")
    ref(p + "out", a + b if op == "add" else a * b)


for op in ("add", "mul"):
    binary(op, "same", (3, 5), (3, 5))
    binary(op, "row", (2, 3, 5), (5,))
    binary(op, "matrix", (2, 3, 5), (3, 5))
    binary(op, "ones", (2, 3, 7), (1, 7))
    binary(op, "bcast4", (2, 2, 3, 4), (2, 1, 4))
    binary(op, "one", (1,), (1,))

for case, shape, s in (("basic", (4, 9), 0.125), ("neg", (2, 3, 5), -3.0), ("zero", (7,), 0.0)):
    p = "scale." + case + "."
    x = put(p + "x", f32(*shape), "F32")
    put(p + "p", torch.tensor([s], dtype=torch.float64), "F64")
    ref(p + "out", x * s)


# ---- softmax ------------------------------------------------------------------------
def softmax_ref(x, mask=None):
    z = x if mask is None else x + mask
    y = torch.softmax(z, dim=-1)
    full = torch.isinf(z).all(dim=-1, keepdim=True) & (z < 0).all(dim=-1, keepdim=True)
    return torch.where(full, torch.zeros_like(y), y)  # fully masked rows -> zeros


def softmax(case, x_shape, mask=None, scale=3.0):
    p = "softmax." + case + "."
    x = put(p + "x", f32(*x_shape, scale=scale), "F32")
    m = None
    if mask is not None:
        m = put(p + "mask", mask, "F32")
    ref(p + "out", softmax_ref(x, m))


softmax("plain", (5, 7))
softmax("wide", (3, 129), scale=10.0)
softmax("one", (4, 1))
softmax("large", (2, 6), scale=80.0)
S = 5
causal = torch.triu(torch.full((S, S), float("-inf"), dtype=torch.float64), diagonal=1)
softmax("causal", (2, 3, S, S), mask=causal)
pad = torch.zeros(2, 1, 1, S, dtype=torch.float64)
pad[0, 0, 0, 3:] = float("-inf")
pad[1, 0, 0, 1:] = -10000.0
softmax("padding", (2, 3, S, S), mask=pad)
full = torch.zeros(3, 6, dtype=torch.float64)
full[1, :] = float("-inf")  # a fully masked row -> zeros
full[2, ::2] = float("-inf")
softmax("fully_masked_row", (2, 3, 6), mask=full)
allm = torch.full((4,), float("-inf"), dtype=torch.float64)
softmax("all_masked", (3, 4), mask=allm)
additive = f32(4, 8, scale=2.0)
softmax("additive", (2, 4, 8), mask=additive)


# ---- norms --------------------------------------------------------------------------
def layernorm(case, shape, eps, affine=True, offset=0.0):
    p = "layernorm." + case + "."
    x = put(p + "x", f32(*shape) * 2.0 + offset, "F32")
    n = shape[-1]
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    y = (x - mean) / torch.sqrt(var + eps)
    if affine:
        g = put(p + "gamma", f32(n) * 0.5 + 1.0, "F32")
        b = put(p + "beta", f32(n) * 0.1, "F32")
        y = y * g + b
    put(p + "p", torch.tensor([eps], dtype=torch.float64).float().double(), "F64")
    ref(p + "out", y)


layernorm("bert", (2, 3, 32), 1e-12)
layernorm("eps5", (4, 7), 1e-5)
layernorm("plain", (3, 33), 1e-5, affine=False)
layernorm("offset", (2, 48), 1e-5, offset=100.0)
layernorm("wide", (2, 257), 1e-6)


def rmsnorm(case, shape, eps, affine=True):
    p = "rmsnorm." + case + "."
    x = put(p + "x", f32(*shape) * 3.0, "F32")
    y = x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + eps)
    if affine:
        y = y * put(p + "gamma", f32(shape[-1]) * 0.5 + 1.0, "F32")
    put(p + "p", torch.tensor([eps], dtype=torch.float64).float().double(), "F64")
    ref(p + "out", y)


rmsnorm("llama", (2, 3, 32), 1e-6)
rmsnorm("eps5", (4, 7), 1e-5)
rmsnorm("plain", (3, 65), 1e-6, affine=False)


# ---- activations --------------------------------------------------------------------
def acts():
    grid = torch.linspace(-8.0, 8.0, 161, dtype=torch.float64).float().double()
    edge = torch.tensor([0.0, -0.0, 1e-6, -1e-6, 20.0, -20.0, 40.0, -40.0, 3.0, -3.0, 0.5],
                        dtype=torch.float64).float().double()
    rnd = f32(3, 17, scale=3.0)
    return {"grid": grid, "edge": edge, "rand": rnd}


FN = {
    "relu": torch.relu,
    "gelu": lambda x: torch.nn.functional.gelu(x),
    "gelu_tanh": lambda x: torch.nn.functional.gelu(x, approximate="tanh"),
    "silu": torch.nn.functional.silu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}
inputs = acts()
for name, fn in FN.items():
    for case, x in inputs.items():
        p = name + "." + case + "."
        xs = put(p + "x", x, "F32")
        ref(p + "out", fn(xs))


# ---- embedding ----------------------------------------------------------------------
for case, dt, v, d, ids_shape in (("f32", "F32", 11, 6, (2, 3)), ("f16", "F16", 7, 9, (5,)),
                                  ("bf16", "BF16", 13, 8, (2, 2, 2)), ("f32_one", "F32", 1, 1, (1,))):
    p = "embedding." + case + "."
    table = put(p + "table", f32(v, d), dt)
    ids = torch.randint(0, v, ids_shape)
    ids.view(-1)[0] = v - 1
    put(p + "ids", ids.numpy().astype(np.int32), "I32")
    ref(p + "out", table[ids.long()])

# Largest element size first: every tensor starts aligned to its dtype.
size = {"F64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2}
order = sorted(tensors, key=lambda k: (-size[dtypes[k]], k))
st.save(OUT, {k: tensors[k] for k in order}, dtypes={k: dtypes[k] for k in order},
        metadata={"generator": "tests/golden/gen_ops.py", "torch": torch.__version__})
print("wrote", OUT, os.path.getsize(OUT), "bytes,", len(tensors), "tensors")
