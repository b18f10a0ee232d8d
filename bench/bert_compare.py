#!/usr/bin/python3
"""BERT-base latency: libtransformer next to PyTorch and ONNX Runtime.

    /usr/bin/python3 bench/bert_compare.py [--build build] [--runs 5]
        [--seq 32,128,512] [--threads 1,2] [--ort PATH/libonnxruntime.so.1]
        [--work DIR]

1. `BUILD/bench/bert --write DIR` writes a random BERT-base folder (12
   layers, 768, 12 heads, 3072; fixed seed; not committed).
2. libtransformer: `BUILD/bench/bert DIR` (median of --runs after a warm-up).
   Each size and thread count runs the three back to back.
3. PyTorch (Debian's python3-torch, float32, eager, no_grad) on the same
   weights, torch.set_num_threads(n), OMP_WAIT_POLICY=PASSIVE.
4. ONNX Runtime: the same module exported with torch.onnx.export (dynamic
   sequence length), run through ORT's C API from ctypes with
   intra_op_num_threads = n. The library comes from the npm package
   onnxruntime-node (`npm install --ignore-scripts onnxruntime-node` in a
   scratch folder); pass its libonnxruntime.so.1 with --ort, or the script
   looks under --work/ort/node_modules and installs it there when npm is
   present. Without it the ONNX column is left out.
The hidden states of the three are compared (relative error) on the first
sequence length, then one table of medians (ms) and ratios is printed in
Markdown for docs/PERFORMANCE.md.
"""
import argparse
import ctypes
import glob
import math
import os
import subprocess
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "golden"))
import st  # noqa: E402

D, L, NH, F, V = 768, 12, 12, 3072, 30522


class Bert(torch.nn.Module):
    """BertModel's encoder (last_hidden_state) with Hugging Face semantics."""

    def __init__(self, w):
        super().__init__()
        self.w = {k.replace("bert.", "", 1): torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in w.items()}

    def lin(self, name, x):
        return torch.nn.functional.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def ln(self, name, x):
        return torch.nn.functional.layer_norm(x, (D,), self.w[name + ".weight"], self.w[name + ".bias"], 1e-12)

    def forward(self, ids):
        B, S = ids.shape
        w = self.w
        pos = torch.arange(S)
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][pos] \
            + w["embeddings.token_type_embeddings.weight"][0]
        x = self.ln("embeddings.LayerNorm", x)
        hd = D // NH
        for i in range(L):
            p = "encoder.layer.%d." % i

            def heads(t):
                return t.view(B, S, NH, hd).transpose(1, 2)
            q = heads(self.lin(p + "attention.self.query", x))
            k = heads(self.lin(p + "attention.self.key", x))
            v = heads(self.lin(p + "attention.self.value", x))
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), -1) @ v
            a = self.lin(p + "attention.output.dense", a.transpose(1, 2).reshape(B, S, D))
            x = self.ln(p + "attention.output.LayerNorm", a + x)
            h = torch.nn.functional.gelu(self.lin(p + "intermediate.dense", x))
            x = self.ln(p + "output.LayerNorm", self.lin(p + "output.dense", h) + x)
        return x


def inputs(S):
    ids = np.array([5 + (i * 7919) % (V - 5) for i in range(S)], dtype=np.int64)
    ids[0], ids[-1] = 2, 3
    return ids[None, :]


def median_ms(fn, runs):
    fn()  # warm-up
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return 1e3 * sorted(t)[len(t) // 2]


# ---- ONNX Runtime through its C API ----------------------------------------------
# OrtApi is a table of function pointers; ORT only appends to it, so these
# indices hold for every 1.x version.
ORT_IDX = {"GetErrorMessage": 2, "CreateEnv": 3, "CreateSession": 7, "Run": 9, "CreateSessionOptions": 10,
           "SetSessionGraphOptimizationLevel": 23, "SetIntraOpNumThreads": 24, "SetInterOpNumThreads": 25,
           "CreateTensorWithDataAsOrtValue": 49, "GetTensorMutableData": 51, "CreateCpuMemoryInfo": 69,
           "ReleaseEnv": 92, "ReleaseMemoryInfo": 94, "ReleaseSession": 95, "ReleaseValue": 96,
           "ReleaseSessionOptions": 100}
P = ctypes.c_void_p


class Ort:
    def __init__(self, lib):
        self.lib = ctypes.CDLL(lib)
        self.lib.OrtGetApiBase.restype = ctypes.POINTER(P * 2)
        base = self.lib.OrtGetApiBase().contents
        get_api = ctypes.CFUNCTYPE(P, ctypes.c_uint32)(base[0])
        version = ctypes.CFUNCTYPE(ctypes.c_char_p)(base[1])().decode()
        self.version = version
        api = None
        for v in range(int(version.split(".")[1]), 0, -1):  # newest API the library offers
            api = get_api(v)
            if api:
                break
        self.table = ctypes.cast(api, ctypes.POINTER(P * 128)).contents
        self.env = P()
        self.check(self.fn("CreateEnv", ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(P))(3, b"bench", ctypes.byref(self.env)))
        self.mem = P()
        self.check(self.fn("CreateCpuMemoryInfo", ctypes.c_int, ctypes.c_int, ctypes.POINTER(P))(1, 0, ctypes.byref(self.mem)))

    def fn(self, name, *args, restype=P):
        return ctypes.CFUNCTYPE(restype, *args)(self.table[ORT_IDX[name]])

    def check(self, status):
        if status:
            msg = self.fn("GetErrorMessage", P, restype=ctypes.c_char_p)(status)
            raise RuntimeError("onnxruntime: " + msg.decode())

    def session(self, path, threads):
        so, sess = P(), P()
        self.check(self.fn("CreateSessionOptions", ctypes.POINTER(P))(ctypes.byref(so)))
        self.check(self.fn("SetIntraOpNumThreads", P, ctypes.c_int)(so, threads))
        self.check(self.fn("SetInterOpNumThreads", P, ctypes.c_int)(so, 1))
        self.check(self.fn("SetSessionGraphOptimizationLevel", P, ctypes.c_int)(so, 99))  # ORT_ENABLE_ALL
        self.check(self.fn("CreateSession", P, ctypes.c_char_p, P, ctypes.POINTER(P))(
            self.env, path.encode(), so, ctypes.byref(sess)))
        self.fn("ReleaseSessionOptions", P)(so)
        return sess

    def run(self, sess, ids):
        """ids: int64 [1, S] -> float32 [1, S, D]"""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        shape = (ctypes.c_int64 * 2)(*ids.shape)
        val, out = P(), P()
        self.check(self.fn("CreateTensorWithDataAsOrtValue", P, P, ctypes.c_size_t, ctypes.POINTER(ctypes.c_int64),
                           ctypes.c_size_t, ctypes.c_int, ctypes.POINTER(P))(
            self.mem, ids.ctypes.data, ids.nbytes, shape, 2, 7, ctypes.byref(val)))  # 7: INT64
        names_in = (ctypes.c_char_p * 1)(b"input_ids")
        names_out = (ctypes.c_char_p * 1)(b"last_hidden_state")
        vals = (P * 1)(val)
        outs = (P * 1)()
        self.check(self.fn("Run", P, P, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(P), ctypes.c_size_t,
                           ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t, ctypes.POINTER(P))(
            sess, None, names_in, vals, 1, names_out, 1, outs))
        data = P()
        self.check(self.fn("GetTensorMutableData", P, ctypes.POINTER(P))(outs[0], ctypes.byref(data)))
        S = ids.shape[1]
        res = np.ctypeslib.as_array(ctypes.cast(data, ctypes.POINTER(ctypes.c_float)), shape=(1, S, D)).copy()
        self.fn("ReleaseValue", P, restype=None)(outs[0])
        self.fn("ReleaseValue", P, restype=None)(val)
        return res


def find_ort(args):
    if args.ort:
        return args.ort
    pat = os.path.join(args.work, "ort", "node_modules", "onnxruntime-node", "bin", "*", "linux", "x64",
                       "libonnxruntime.so*")
    hits = sorted(glob.glob(pat))
    if not hits and subprocess.call(["which", "npm"], stdout=subprocess.DEVNULL) == 0:
        os.makedirs(os.path.join(args.work, "ort"), exist_ok=True)
        subprocess.call(["npm", "install", "--silent", "--ignore-scripts", "--prefix",
                         os.path.join(args.work, "ort"), "onnxruntime-node"])
        hits = sorted(glob.glob(pat))
    return hits[0] if hits else None


def relerr(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seq", default="32,128,512")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--ort", default=None)
    ap.add_argument("--work", default="/tmp/tfm_bert_compare")
    args = ap.parse_args()
    seqs = [int(s) for s in args.seq.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    bench = os.path.join(args.build, "bench", "bert")
    model = os.path.join(args.work, "bert-base-random")
    os.makedirs(args.work, exist_ok=True)
    if not os.path.exists(os.path.join(model, "model.safetensors")):
        subprocess.check_call([bench, "--write", model])
    res = {}
    w = st.load(os.path.join(model, "model.safetensors"))
    net = Bert(w).eval()
    ort, sessions, ort_version = None, {}, None
    lib = find_ort(args)
    if lib:
        onnx_path = os.path.join(args.work, "bert-base-random.onnx")
        if not os.path.exists(onnx_path):
            with torch.no_grad():
                torch.onnx.export(net, (torch.from_numpy(inputs(8)),), onnx_path, input_names=["input_ids"],
                                  output_names=["last_hidden_state"], opset_version=14,
                                  dynamic_axes={"input_ids": {1: "seq"}, "last_hidden_state": {1: "seq"}})
        ort = Ort(lib)
        ort_version = ort.version
        sessions = {t: ort.session(onnx_path, t) for t in threads}
    else:
        print("ONNX Runtime not found: its column is left out", file=sys.stderr)

    # The three side by side for each size, so that load from elsewhere on
    # the machine hits them alike.
    dump = os.path.join(args.work, "tfm_hidden.f32")
    with torch.no_grad():
        for t in threads:
            torch.set_num_threads(t)
            for S in seqs:
                cmd = [bench, model, "--seq", str(S), "--threads", str(t), "--runs", str(args.runs)]
                if S == seqs[0] and t == threads[0]:
                    cmd += ["--dump", dump]
                out = subprocess.check_output(cmd).decode()
                kv = dict(f.split("=") for f in out.split()[1:])
                res[("tfm", S, t)] = float(kv["median_ms"])
                x = torch.from_numpy(inputs(S))
                res[("torch", S, t)] = median_ms(lambda: net(x), args.runs)
                if ort:
                    ids = inputs(S)
                    res[("ort", S, t)] = median_ms(lambda: ort.run(sessions[t], ids), args.runs)
                print("seq %d threads %d: %s" % (S, t, " ".join("%s %.1f ms" % (c, res[(c, S, t)])
                      for c in ("tfm", "torch", "ort") if (c, S, t) in res)), file=sys.stderr)
        # Agreement of the outputs on the first size.
        tfm_hidden = np.fromfile(dump, dtype=np.float32).reshape(1, seqs[0], D)
        ref = net(torch.from_numpy(inputs(seqs[0]))).numpy()
    print("libtransformer vs PyTorch: relative error %.2e" % relerr(tfm_hidden, ref), file=sys.stderr)
    if ort:
        print("libtransformer vs ONNX Runtime: relative error %.2e"
              % relerr(tfm_hidden, ort.run(sessions[threads[0]], inputs(seqs[0]))), file=sys.stderr)
        for sess in sessions.values():
            ort.fn("ReleaseSession", P, restype=None)(sess)

    # Table
    cols = ["tfm", "torch"] + (["ort"] if ort_version else [])
    print("| seq | threads | libtransformer ms | PyTorch %s ms |%s tfm / PyTorch |%s" % (
        torch.__version__, " ONNX Runtime %s ms |" % ort_version if ort_version else "",
        " tfm / ORT |" if ort_version else ""))
    print("|---:|---:|---:|---:|%s---:|%s" % ("---:|" if ort_version else "", "---:|" if ort_version else ""))
    for t in threads:
        for S in seqs:
            r = [res[(c, S, t)] for c in cols]
            line = "| %d | %d | %.1f | %.1f |" % (S, t, r[0], r[1])
            if ort_version:
                line += " %.1f |" % r[2]
            line += " %.2f |" % (r[0] / r[1])
            if ort_version:
                line += " %.2f |" % (r[0] / r[2])
            print(line)


if __name__ == "__main__":
    main()
