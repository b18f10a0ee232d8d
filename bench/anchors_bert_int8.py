#!/usr/bin/env python3
"""BERT-base encoder latency anchors: PyTorch and ONNX Runtime, fp32 and int8.

What it measures: the time of one forward pass (last hidden state, batch 1,
sequence length --seq) of a BERT-base-shaped encoder (hidden 768, 12 layers,
12 heads, intermediate 3072, vocabulary 30522, 512 positions, post-norm
layers, erf GELU, LayerNorm eps 1e-12) with random weights from a fixed
seed, in four engines:

  torch_fp32  PyTorch eager, float32, inference mode
  torch_int8  torch.ao.quantization.quantize_dynamic(model, {nn.Linear},
              dtype=torch.qint8) (weights int8 per tensor, activations
              quantized per call)
  ort_fp32    ONNX Runtime on the model exported with torch.onnx.export
              (opset 14, dynamic sequence length), all graph optimizations
  ort_int8    onnxruntime.quantization.quantize_dynamic of that file
              (weight_type QInt8, MatMul nodes with constant weights only,
              i.e. the same Linear layers as torch_int8)

For each thread count n the script re-executes itself as a child process
with OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = MKL_NUM_THREADS = n and
OMP_WAIT_POLICY=PASSIVE (they have to be set before torch loads); the child
calls torch.set_num_threads(n) and gives ONNX Runtime intra_op_num_threads
= n, inter_op_num_threads = 1, sequential execution. Each engine runs once
as a warm-up, then --reps repetitions, each running the four engines in
turn (so load from elsewhere on the machine hits them alike); the median is
reported. For every engine the cosine similarity of its hidden states to
those of torch_fp32 on the same input is given (1 for torch_fp32 itself).

PyTorch's float32 matmuls go through the system BLAS (libblas.so.3). Where
the netlib reference BLAS is the one installed, torch_fp32 would be tens of
times slower than with an optimized BLAS: when a folder holding OpenBLAS's
libblas.so.3 is found (--blas-dir, else <venv>/lib/openblas-pthread, the
files of Debian's libopenblas0-pthread unpacked there) it is put first on
the children's LD_LIBRARY_PATH. The library torch actually loaded is
printed on stderr.

Input: 1 x S token ids 5 + (i * 7919) mod 30517, with [CLS] = 2 first and
[SEP] = 3 last, the same ids as bench/bert, so --dump-hidden FILE (torch
fp32 hidden states, raw float32 [S, 768]) can be compared with
`bench/bert DIR --dump FILE` on the folder written by --save-weights.

Output, one line per engine and thread count (stdout):
  bert <engine> threads=<n> seq=<S> ms=<median> cos_vs_fp32=<c>

Usage:
  /work/venv-anchors/bin/python bench/anchors_bert_int8.py [--seq 128]
      [--threads 1,2] [--reps 5] [--engines torch_fp32,torch_int8,ort_fp32,ort_int8]
      [--workdir /tmp/tfm_anchors_bert] [--seed 0] [--save-weights DIR]
      [--dump-hidden FILE] [--blas-dir DIR]

--tfm BENCH (build/bench/bert) also times libtransformer on that folder in
the same turns (bench/bert --serve, formats --tfm-weights, default
f32,q8,q4), printing lines "bert tfm_<format> ..." whose cosine is against
libtransformer's own f32 run (which matches torch_fp32 to about 1e-6).

--save-weights DIR writes the weights as a Hugging Face BertModel folder
(config.json, vocab.txt, model.safetensors with BertModel's names:
embeddings.word_embeddings.weight, encoder.layer.N.attention.self.query.weight,
...), for loading the same model into libtransformer. The ONNX files are
written to --workdir and reused when present (their names carry the seed).

Setup (a venv outside the repository, on Debian's python3-torch 1.13 and
numpy 1.24; torch 1.13 cannot use numpy 2, hence the ml_dtypes pin):
  /usr/bin/python3 -m venv --system-site-packages /work/venv-anchors
  echo numpy==1.24.2 > /tmp/np.txt
  /work/venv-anchors/bin/pip install -c /tmp/np.txt onnxruntime onnx "ml_dtypes<0.6" safetensors
  # optional, OpenBLAS for torch_fp32 without installing it system-wide:
  apt-get download libopenblas0-pthread && dpkg -x libopenblas0-pthread_*.deb x
  cp -a x/usr/lib/x86_64-linux-gnu/openblas-pthread /work/venv-anchors/lib/
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

V, D, L, NH, F, P = 30522, 768, 12, 12, 3072, 512
ENGINES = ("torch_fp32", "torch_int8", "ort_fp32", "ort_int8")


# ---- the parent: one child process per thread count ---------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--workdir", default="/tmp/tfm_anchors_bert")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-weights", default=None, metavar="DIR")
    ap.add_argument("--dump-hidden", default=None, metavar="FILE")
    ap.add_argument("--blas-dir", default=None, metavar="DIR")
    ap.add_argument("--tfm", default=None, metavar="BENCH",
                    help="also time libtransformer in the same turns: BENCH is build/bench/bert, "
                         "run with --serve on the folder --save-weights writes")
    ap.add_argument("--tfm-weights", default="f32,q8,q4")
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)  # thread count
    ap.add_argument("--no-save", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.engine_list = [e for e in args.engines.split(",") if e]
    bad = [e for e in args.engine_list if e not in ENGINES]
    if bad:
        ap.error("unknown engine(s) %s; known: %s" % (",".join(bad), ",".join(ENGINES)))
    if not 1 <= args.seq <= P:
        ap.error("--seq must be in [1, %d]" % P)
    if args.reps < 1:
        ap.error("--reps must be >= 1")
    if args.tfm and not args.save_weights:
        ap.error("--tfm needs --save-weights DIR (the folder it loads)")
    return args


def blas_dir(args):
    if args.blas_dir:
        return args.blas_dir
    d = os.path.join(sys.prefix, "lib", "openblas-pthread")
    return d if os.path.exists(os.path.join(d, "libblas.so.3")) else None


def parent(args, argv):
    threads = [int(t) for t in args.threads.split(",") if t]
    bd = blas_dir(args)
    rc = 0
    for i, n in enumerate(threads):
        env = dict(os.environ)
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[k] = str(n)
        env["OMP_WAIT_POLICY"] = "PASSIVE"
        if bd:
            env["LD_LIBRARY_PATH"] = bd + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        child_argv = list(argv)
        if i > 0:  # the weights and the hidden states are written once, by the first child
            child_argv = drop_option(child_argv, "--dump-hidden")
            child_argv += ["--no-save"]
        cmd = [sys.executable, os.path.abspath(__file__)] + child_argv + ["--child", str(n)]
        r = subprocess.call(cmd, env=env)
        if r != 0:
            print("anchors_bert_int8: the child for %d thread(s) failed (exit %d)" % (n, r), file=sys.stderr)
            rc = 1
    return rc


def drop_option(argv, name):
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == name:
            skip = True
        elif not a.startswith(name + "="):
            out.append(a)
    return out


# ---- the child: builds the model and times the engines on one thread count ---------------

def child(args):
    import numpy as np
    import torch
    from torch import nn

    n = args.child
    torch.set_num_threads(n)
    torch.set_num_interop_threads(1)

    class Embeddings(nn.Module):
        def __init__(self):
            super().__init__()
            self.word_embeddings = nn.Embedding(V, D)
            self.position_embeddings = nn.Embedding(P, D)
            self.token_type_embeddings = nn.Embedding(2, D)
            self.LayerNorm = nn.LayerNorm(D, eps=1e-12)

        def forward(self, ids):
            pos = torch.arange(ids.shape[1], device=ids.device)
            x = self.word_embeddings(ids) + self.position_embeddings(pos) + self.token_type_embeddings.weight[0]
            return self.LayerNorm(x)

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.query, self.key, self.value = nn.Linear(D, D), nn.Linear(D, D), nn.Linear(D, D)

        def forward(self, x):
            B, S, _ = x.shape
            hd = D // NH

            def heads(t):
                return t.view(B, S, NH, hd).transpose(1, 2)
            q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
            a = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(hd)), dim=-1)
            return torch.matmul(a, v).transpose(1, 2).reshape(B, S, D)

    class DenseNorm(nn.Module):  # BertSelfOutput / BertOutput: dense, residual, LayerNorm
        def __init__(self, n_in):
            super().__init__()
            self.dense = nn.Linear(n_in, D)
            self.LayerNorm = nn.LayerNorm(D, eps=1e-12)

        def forward(self, h, residual):
            return self.LayerNorm(self.dense(h) + residual)

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.self = SelfAttention()
            self.output = DenseNorm(D)

        def forward(self, x):
            return self.output(self.self(x), x)

    class Intermediate(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = nn.Linear(D, F)

        def forward(self, x):
            return nn.functional.gelu(self.dense(x))  # erf GELU

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = Attention()
            self.intermediate = Intermediate()
            self.output = DenseNorm(F)

        def forward(self, x):
            x = self.attention(x)
            return self.output(self.intermediate(x), x)

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.ModuleList([Layer() for _ in range(L)])

        def forward(self, x):
            for lyr in self.layer:
                x = lyr(x)
            return x

    class Pooler(nn.Module):  # kept for a complete BertModel checkpoint; not run
        def __init__(self):
            super().__init__()
            self.dense = nn.Linear(D, D)

    class Bert(nn.Module):
        """BertModel (absolute positions, token type 0, no padding mask): last hidden state.
        Its state_dict keys are Hugging Face BertModel's."""

        def __init__(self):
            super().__init__()
            self.embeddings = Embeddings()
            self.encoder = Encoder()
            self.pooler = Pooler()

        def forward(self, ids):
            return self.encoder(self.embeddings(ids))

    def build(seed):
        # BERT's initializer (normal, std 0.02) for matrices and embeddings; biases and
        # LayerNorm parameters get small random values too, so that a loader that
        # mixes them up shows in the outputs.
        torch.manual_seed(seed)
        m = Bert().eval()
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, p in m.named_parameters():
                r = torch.randn(p.shape, generator=g)
                if "LayerNorm.weight" in name:
                    p.copy_(1.0 + 0.05 * r)
                else:
                    p.copy_(0.02 * r)
        for p in m.parameters():
            p.requires_grad_(False)
        return m

    S = args.seq
    ids_np = np.array([5 + (i * 7919) % (V - 5) for i in range(S)], dtype=np.int64)
    ids_np[0] = 2
    ids_np[-1] = 3
    ids_np = ids_np[None, :]
    ids = torch.from_numpy(ids_np)

    model = build(args.seed)
    if args.save_weights and not args.no_save:
        save_weights(model, args.save_weights)
        print("anchors_bert_int8: weights written to %s" % args.save_weights, file=sys.stderr)

    want = args.engine_list
    runners = {"torch_fp32": lambda: model(ids)}  # always built: the reference for cos_vs_fp32
    if "torch_int8" in want:
        qmodel = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
        runners["torch_int8"] = lambda: qmodel(ids)
    if "ort_fp32" in want or "ort_int8" in want:
        import onnxruntime as ort
        fp32_path, int8_path = onnx_files(args, model, torch)
        so = ort.SessionOptions()
        so.intra_op_num_threads = n
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        feed = {"input_ids": ids_np}
        for eng, path in (("ort_fp32", fp32_path), ("ort_int8", int8_path)):
            if eng in want:
                sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
                runners[eng] = (lambda s: lambda: s.run(["last_hidden_state"], feed)[0])(sess)

    def as_np(y):
        return y.numpy() if hasattr(y, "numpy") else np.asarray(y)

    tfm = None
    if args.tfm:  # libtransformer's bench/bert --serve on the saved folder, in the same turns
        tfm_w = [w for w in args.tfm_weights.split(",") if w]
        tfm = subprocess.Popen([args.tfm, args.save_weights, "--serve", "--seq", str(S), "--threads",
                                str(n), "--weights", ",".join(tfm_w)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if tfm.stdout.readline().strip() != "ready":
            raise RuntimeError("%s did not start" % args.tfm)
    tfm_times, tfm_cos = {}, {}

    def tfm_run():
        tfm.stdin.write("run\n")
        tfm.stdin.flush()
        for _ in tfm_w:
            f = tfm.stdout.readline().split()  # tfm <weights> ms=... cos_vs_first=...
            k = "tfm_" + f[1]
            tfm_times.setdefault(k, []).append(float(f[2].split("=")[1]) / 1e3)
            tfm_cos[k] = float(f[3].split("=")[1])

    times = {e: [] for e in want}
    with torch.inference_mode():
        # warm-up, and the outputs for the cosine similarity
        ref = as_np(runners["torch_fp32"]()).astype(np.float64).ravel()
        cos = {}
        for e in want:
            y = as_np(runners[e]()).astype(np.float64).ravel()
            cos[e] = float(np.dot(y, ref) / (np.linalg.norm(y) * np.linalg.norm(ref)))
        if args.dump_hidden:
            ref.astype(np.float32).tofile(args.dump_hidden)
        report_env(torch, n)
        for _ in range(args.reps):
            for e in want:
                f = runners[e]
                t0 = time.perf_counter()
                f()
                times[e].append(time.perf_counter() - t0)
            if tfm:
                tfm_run()
    for e in want:
        print("bert %s threads=%d seq=%d ms=%.2f cos_vs_fp32=%.6f"
              % (e, n, S, 1e3 * float(np.median(times[e])), cos[e]), flush=True)
    if tfm:  # libtransformer's cosine is against its own f32 run of the same folder
        for k in sorted(tfm_times):
            print("bert %s threads=%d seq=%d ms=%.2f cos_vs_fp32=%.6f"
                  % (k, n, S, 1e3 * float(np.median(tfm_times[k])), tfm_cos[k]), flush=True)
        tfm.stdin.close()
        tfm.wait()
    return 0


def onnx_files(args, model, torch):
    """The fp32 export and its dynamic int8 quantization, made once in --workdir."""
    os.makedirs(args.workdir, exist_ok=True)
    base = os.path.join(args.workdir, "bert-base-seed%d" % args.seed)
    fp32_path, int8_path = base + "-fp32.onnx", base + "-int8.onnx"
    if not os.path.exists(fp32_path):
        dummy = torch.zeros(1, 8, dtype=torch.int64)
        tmp = fp32_path + ".tmp"
        with torch.no_grad():
            torch.onnx.export(model, (dummy,), tmp, input_names=["input_ids"],
                              output_names=["last_hidden_state"], opset_version=14,
                              dynamic_axes={"input_ids": {1: "seq"}, "last_hidden_state": {1: "seq"}})
        os.replace(tmp, fp32_path)
    if not os.path.exists(int8_path):
        import logging
        from onnxruntime.quantization import QuantType, quantize_dynamic
        tmp = base + "-int8.tmp.onnx"
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # quantize_dynamic's advice to run its pre-processing first
        try:
            quantize_dynamic(fp32_path, tmp, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                             extra_options={"MatMulConstBOnly": True})
        finally:
            root.setLevel(level)
        os.replace(tmp, int8_path)
    return fp32_path, int8_path


def report_env(torch, n):
    """Which BLAS torch loaded and the engine versions (stderr), once per child."""
    blas = sorted({ln.split()[-1] for ln in open("/proc/self/maps")
                   if "blas" in ln.rsplit("/", 1)[-1] and ".so" in ln})
    try:
        import onnxruntime
        ort_v = onnxruntime.__version__
    except ImportError:
        ort_v = "-"
    print("# threads=%d torch %s (quantized engine %s, BLAS %s), onnxruntime %s"
          % (n, torch.__version__, torch.backends.quantized.engine, ",".join(blas) or "?", ort_v),
          file=sys.stderr, flush=True)


def save_weights(model, out):
    """A Hugging Face BertModel folder: config.json, vocab.txt, model.safetensors (F32)."""
    os.makedirs(out, exist_ok=True)
    cfg = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": V, "hidden_size": D,
           "num_hidden_layers": L, "num_attention_heads": NH, "intermediate_size": F,
           "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
           "max_position_embeddings": P, "type_vocab_size": 2, "initializer_range": 0.02,
           "layer_norm_eps": 1e-12, "pad_token_id": 0, "position_embedding_type": "absolute",
           "torch_dtype": "float32"}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "vocab.txt"), "w") as f:  # placeholder WordPiece vocabulary
        f.write("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n")
        for i in range(5, V):
            f.write("w%d\n" % i)
    tensors = {k: v.detach().contiguous().numpy() for k, v in model.state_dict().items()}
    path = os.path.join(out, "model.safetensors")
    try:
        from safetensors.numpy import save_file
        save_file(tensors, path, metadata={"format": "pt"})
    except ImportError:
        write_safetensors(tensors, path)


def write_safetensors(tensors, path):
    """Minimal safetensors writer (float32 tensors, little-endian), used without the package."""
    import numpy as np
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for k, v in tensors.items():
        nb = v.size * 4
        header[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + nb]}
        off += nb
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for v in tensors.values():
            f.write(np.ascontiguousarray(v, dtype="<f4").tobytes())


def main():
    argv = sys.argv[1:]
    args = parse_args(argv)
    if args.child:
        return child(args)
    return parent(args, drop_option(argv, "--child"))


if __name__ == "__main__":
    sys.exit(main())
