#!/usr/bin/env python3
"""GPT-2 generation speed anchors: llama.cpp (llama-cpp-python) on the same weights.

What it measures: for a Hugging Face GPT-2 folder (config.json and
model.safetensors with GPT-2's names and Conv1D weights stored [in, out],
as bench/decode writes with --keep DIR; F32, F16 or BF16 values), the same
weights are written as GGUF files in F16, Q8_0 and Q4_0, and llama.cpp is
timed on each of them for each thread count:

  prompt_tok_s  P random token ids (a fixed seed) evaluated as one batch,
                after the cache is cleared
  decode_tok_s  G greedy steps after the prompt, one token per llama_decode
                (the argmax over the logits included, as in bench/decode)

Timing uses the low-level Llama.reset() / Llama.eval(tokens) calls (no
sampler, no tokenizer, logits of the last position only) and
llama_get_logits_ith for the argmax. Each (format, threads) pair runs once
as a warm-up, then --reps repetitions; each repetition runs every thread
count and format in turn, so load from elsewhere on the machine hits them
alike. Medians are printed, one line each (stdout):

  llamacpp <fmt> threads=<n> prompt_tok_s=<x> decode_tok_s=<y>

GGUF files: architecture "gpt2"; tensor names and transposes as llama.cpp's
convert_hf_to_gguf.py writes them for GPT2LMHeadModel (token_embd,
position_embd, blk.N.{attn_norm, attn_qkv, attn_output, ffn_norm, ffn_up,
ffn_down}, output_norm; Conv1D weights transposed to [out, in]; no output
tensor, so llama.cpp ties the head to token_embd). The 2-D weight matrices
and token_embd (also the output head) are stored in the file's format,
quantized with gguf.quants; position_embd, norms and biases stay F32 (as the
converter keeps them). Q4_0 here is "pure": llama-quantize's Q4_0 recipe
would keep the tied token_embd/output in Q6_K. The tokenizer is a minimal
byte-level "gpt2" BPE vocabulary of vocab_size entries (the 256 byte tokens
in GPT-2's order, then two-byte tokens with their merges, <|endoftext|> =
50256 as BOS and EOS): the benchmark feeds token ids directly, so only its
size matters. Files go to --workdir, named after a hash of the folder's
model.safetensors, and are reused when present.

Usage:
  /work/venv-anchors/bin/python bench/anchors_llamacpp.py FOLDER
      [--formats f16,q8_0,q4_0] [--threads 1,2] [--reps 5] [--prompt 128]
      [--gen 64] [--workdir /tmp/tfm_anchors_llamacpp] [--flash-attn]
      [--seed 0] [--serve]

bench/decode --llamacpp PYTHON runs it with --serve, one thread count at a
time, and takes its runs in turns with its own.

The script sets no environment variable; thread counts reach llama.cpp as
n_threads = n_threads_batch = n. The CPU features llama.cpp was built with
(llama_print_system_info) are printed on stderr.

Setup (a venv outside the repository; llama-cpp-python compiles llama.cpp
for this CPU):
  /usr/bin/python3 -m venv --system-site-packages /work/venv-anchors
  /work/venv-anchors/bin/pip install gguf
  CMAKE_ARGS="-DGGML_NATIVE=ON" CFLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" \
      CXXFLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" \
      /work/venv-anchors/bin/pip install --no-cache-dir llama-cpp-python
The AMX flags matter on CPUs with AMX (Sapphire Rapids and later): a native
build with AMX routes batched Q8_0/Q4_0 products to ggml's AMX kernels,
which crashed on a Sapphire-Rapids-class VM (SIGSEGV in
ggml_backend_amx_mul_mat on prompts of 3 and 32 tokens; single-token steps
ran); without AMX they take the AVX-512 VNNI paths (REPACK).
"""
import argparse
import hashlib
import json
import os
import statistics
import sys
import time

import numpy as np

FORMATS = ("f16", "q8_0", "q4_0")


# ---- reading the Hugging Face folder ------------------------------------------------------

def read_safetensors(path):
    """{name: numpy array} (memory-mapped; F32, F16 and BF16 tensors)."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    base = 8 + n
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = mm[base + a:base + b]
        dt = info["dtype"]
        if dt == "F32":
            arr = raw.view("<f4")
        elif dt == "F16":
            arr = raw.view("<f2")
        elif dt == "BF16":
            arr = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError("%s: dtype %s not handled" % (name, dt))
        out[name] = arr.reshape(info["shape"])
    return out


def hf_to_gguf_tensors(w, n_layer):
    """(gguf name, float32 array [out, in] or vector, is_matrix) in the converter's order."""
    w = {(k[len("transformer."):] if k.startswith("transformer.") else k): v for k, v in w.items()}
    f32 = lambda k: np.ascontiguousarray(w[k], dtype=np.float32)  # noqa: E731
    t = lambda k: np.ascontiguousarray(np.asarray(w[k], dtype=np.float32).T)  # noqa: E731  Conv1D -> [out, in]
    out = [("token_embd.weight", f32("wte.weight"), True),
           ("position_embd.weight", f32("wpe.weight"), False)]  # kept F32, as the converter does
    for i in range(n_layer):
        h, b = "h.%d." % i, "blk.%d." % i
        out += [(b + "attn_norm.weight", f32(h + "ln_1.weight"), False),
                (b + "attn_norm.bias", f32(h + "ln_1.bias"), False),
                (b + "attn_qkv.weight", t(h + "attn.c_attn.weight"), True),
                (b + "attn_qkv.bias", f32(h + "attn.c_attn.bias"), False),
                (b + "attn_output.weight", t(h + "attn.c_proj.weight"), True),
                (b + "attn_output.bias", f32(h + "attn.c_proj.bias"), False),
                (b + "ffn_norm.weight", f32(h + "ln_2.weight"), False),
                (b + "ffn_norm.bias", f32(h + "ln_2.bias"), False),
                (b + "ffn_up.weight", t(h + "mlp.c_fc.weight"), True),
                (b + "ffn_up.bias", f32(h + "mlp.c_fc.bias"), False),
                (b + "ffn_down.weight", t(h + "mlp.c_proj.weight"), True),
                (b + "ffn_down.bias", f32(h + "mlp.c_proj.bias"), False)]
    out += [("output_norm.weight", f32("ln_f.weight"), False),
            ("output_norm.bias", f32("ln_f.bias"), False)]
    # A separate head (lm_head.weight not tied to wte) becomes llama.cpp's "output".
    if "lm_head.weight" in w and not np.array_equal(w["lm_head.weight"], w["wte.weight"]):
        out.append(("output.weight", f32("lm_head.weight"), True))
    return out


# ---- writing GGUF -----------------------------------------------------------------------

def byte_tokens():
    """GPT-2's byte-to-unicode table, in the order of GPT-2's first 256 token ids."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def add_tokenizer(wr, gguf, n_vocab, eos_id):
    """A minimal valid byte-level BPE vocabulary of n_vocab tokens."""
    if not 256 <= eos_id < n_vocab:
        raise ValueError("eos id %d: needs 256 <= id < vocabulary size %d" % (eos_id, n_vocab))
    bt = byte_tokens()
    tokens, types, merges = list(bt), [gguf.TokenType.NORMAL] * 256, []
    k = 0
    while len(tokens) < n_vocab:
        if len(tokens) == eos_id:
            tokens.append("<|endoftext|>")
            types.append(gguf.TokenType.CONTROL)
            continue
        a, b = bt[k // 256], bt[k % 256]
        k += 1
        tokens.append(a + b)
        types.append(gguf.TokenType.NORMAL)
        merges.append(a + " " + b)
    wr.add_tokenizer_model("gpt2")
    wr.add_tokenizer_pre("gpt-2")
    wr.add_token_list(tokens)
    wr.add_token_types(types)
    wr.add_token_merges(merges)
    wr.add_bos_token_id(eos_id)
    wr.add_eos_token_id(eos_id)
    wr.add_add_bos_token(False)


def write_gguf(path, cfg, tensors, fmt):
    import gguf
    qtype = {"f16": gguf.GGMLQuantizationType.F16, "q8_0": gguf.GGMLQuantizationType.Q8_0,
             "q4_0": gguf.GGMLQuantizationType.Q4_0}[fmt]
    ftype = {"f16": gguf.LlamaFileType.MOSTLY_F16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
             "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0}[fmt]
    n_embd = cfg["n_embd"]
    tmp = path + ".tmp"
    wr = gguf.GGUFWriter(tmp, "gpt2")
    wr.add_name("gpt2-random")
    wr.add_block_count(cfg["n_layer"])
    wr.add_context_length(cfg.get("n_ctx", cfg["n_positions"]))
    wr.add_embedding_length(n_embd)
    wr.add_feed_forward_length(cfg.get("n_inner") or 4 * n_embd)
    wr.add_head_count(cfg["n_head"])
    wr.add_layer_norm_eps(cfg.get("layer_norm_epsilon", 1e-5))
    wr.add_file_type(ftype)
    add_tokenizer(wr, gguf, cfg["vocab_size"], cfg.get("eos_token_id", 50256))
    for name, arr, is_matrix in tensors:
        if not is_matrix:
            wr.add_tensor(name, arr)
        elif qtype == gguf.GGMLQuantizationType.F16:
            wr.add_tensor(name, arr.astype(np.float16))
        else:
            wr.add_tensor(name, gguf.quants.quantize(arr, qtype), raw_dtype=qtype)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    os.replace(tmp, path)


def gguf_files(folder, formats, workdir):
    """{fmt: path}, writing the files that are missing."""
    st = os.path.join(folder, "model.safetensors")
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    with open(st, "rb") as f:  # the files are named after the weights' content
        key = hashlib.file_digest(f, "sha1").hexdigest()[:12]
    os.makedirs(workdir, exist_ok=True)
    paths = {fmt: os.path.join(workdir, "gpt2-%s-%s.gguf" % (key, fmt)) for fmt in formats}
    missing = [fmt for fmt in formats if not os.path.exists(paths[fmt])]
    if missing:
        tensors = hf_to_gguf_tensors(read_safetensors(st), cfg["n_layer"])
        for fmt in missing:
            t0 = time.perf_counter()
            write_gguf(paths[fmt], cfg, tensors, fmt)
            print("anchors_llamacpp: wrote %s (%.0f MB) in %.1f s"
                  % (paths[fmt], os.path.getsize(paths[fmt]) / 1e6, time.perf_counter() - t0), file=sys.stderr)
    return cfg, paths


# ---- timing -----------------------------------------------------------------------------

def run_once(llm, llama_cpp, prompt, gen, n_vocab):
    """(prompt tok/s, decode tok/s) of one run: the prompt as one batch, then `gen` greedy steps."""
    def argmax():
        p = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        return int(np.ctypeslib.as_array(p, shape=(n_vocab,)).argmax())

    llm.reset()
    t0 = time.perf_counter()
    llm.eval(prompt)
    llama_cpp.llama_synchronize(llm.ctx)
    t1 = time.perf_counter()
    tok = argmax()
    for _ in range(gen):
        llm.eval([tok])
        tok = argmax()
    t2 = time.perf_counter()
    return len(prompt) / (t1 - t0), gen / (t2 - t1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder")
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--gen", type=int, default=64)
    ap.add_argument("--workdir", default="/tmp/tfm_anchors_llamacpp")
    ap.add_argument("--flash-attn", action="store_true", help="llama.cpp flash attention (off by default)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the prompt's token ids")
    ap.add_argument("--serve", action="store_true",
                    help="print 'ready' after the warm-up, then for each line 'run G' on stdin run "
                         "every (format, threads) once with G steps and print its line (bench/decode "
                         "drives it so, in turns with its own runs)")
    args = ap.parse_args()
    formats = [f for f in args.formats.split(",") if f]
    threads = [int(t) for t in args.threads.split(",") if t]
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        ap.error("unknown format(s) %s; known: %s" % (",".join(bad), ",".join(FORMATS)))
    if args.reps < 1 or args.prompt < 1 or args.gen < 1:
        ap.error("--reps, --prompt and --gen must be >= 1")

    cfg, paths = gguf_files(args.folder, formats, args.workdir)
    n_vocab, eos = cfg["vocab_size"], cfg.get("eos_token_id", 50256)
    n_ctx = args.prompt + args.gen + 1
    if n_ctx > cfg.get("n_ctx", cfg["n_positions"]):
        ap.error("--prompt + --gen must stay below the model's %d positions" % cfg.get("n_ctx", cfg["n_positions"]))
    rng = np.random.default_rng(args.seed)  # ids below <|endoftext|> (GPT-2's last id)
    prompt = [int(x) for x in rng.integers(0, eos if 0 < eos < n_vocab else n_vocab, args.prompt)]

    import llama_cpp
    print("# llama-cpp-python %s; %s" % (llama_cpp.__version__, llama_cpp.llama_print_system_info().decode().strip()),
          file=sys.stderr, flush=True)

    llms = {}
    for n in threads:
        for fmt in formats:
            llm = llama_cpp.Llama(model_path=paths[fmt], n_ctx=n_ctx, n_threads=n, n_threads_batch=n,
                                  n_batch=512, verbose=False, logits_all=False, flash_attn=args.flash_attn)
            if llm.n_vocab() != n_vocab:
                raise RuntimeError("%s: llama.cpp sees %d tokens, config.json says %d"
                                   % (paths[fmt], llm.n_vocab(), n_vocab))
            run_once(llm, llama_cpp, prompt, 2, n_vocab)  # warm-up
            llms[(fmt, n)] = llm

    if args.serve:
        print("ready", flush=True)
        for line in sys.stdin:
            if not line.startswith("run"):
                break
            gen = int(line.split()[1]) if len(line.split()) > 1 else args.gen
            for n in threads:
                for fmt in formats:
                    p, d = run_once(llms[(fmt, n)], llama_cpp, prompt, gen, n_vocab)
                    print("llamacpp %s threads=%d prompt_tok_s=%.1f decode_tok_s=%.1f" % (fmt, n, p, d),
                          flush=True)
        for llm in llms.values():
            llm.close()
        return 0

    res = {k: ([], []) for k in llms}
    for _ in range(args.reps):
        for n in threads:
            for fmt in formats:
                p, d = run_once(llms[(fmt, n)], llama_cpp, prompt, args.gen, n_vocab)
                res[(fmt, n)][0].append(p)
                res[(fmt, n)][1].append(d)
    for n in threads:
        for fmt in formats:
            p, d = res[(fmt, n)]
            print("llamacpp %s threads=%d prompt_tok_s=%.1f decode_tok_s=%.1f"
                  % (fmt, n, statistics.median(p), statistics.median(d)), flush=True)
    for llm in llms.values():
        llm.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
