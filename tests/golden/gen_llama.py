#!/usr/bin/python3
"""Golden data for the Hugging Face Llama decoder (tests/golden/test_decoder*.c).

Implements the Hugging Face LlamaForCausalLM forward pass (RMSNorm pre-norm,
rotate-half rotary positions with rope_theta, grouped-query attention,
SwiGLU, separate lm_head) in float64 PyTorch on parameters named exactly as
Hugging Face names them, for a small random-weight model written as a real
folder tests/golden/llama/tiny/ (config.json + model.safetensors). Outputs go
to tests/golden/llama/tiny.ref.safetensors:

  prompt_ids     I32 [P]     the prompt (starts with BOS)
  prompt_logits  F32 [P, V]  logits of every prompt position (full sequence)
  greedy_ids     I32 [N]     greedy continuation (argmax, full recomputation)
  step_logits    F32 [N, V]  logits after feeding greedy_ids[i] at position P+i

Computed in float64, stored rounded to F32. Fixed seed; run with /usr/bin/python3.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import decoder_ref  # noqa: E402
import st  # noqa: E402

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "llama")

CFG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 128,
    "max_position_embeddings": 48, "rms_norm_eps": 1e-6, "rope_theta": 5000.0,
    "tie_word_embeddings": False, "hidden_act": "silu", "bos_token_id": 1,
    "eos_token_id": 2, "torch_dtype": "float32",
}


def make_params(cfg, gen):
    D, F, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    H, G = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    E = D // H
    V = cfg["vocab_size"]

    def r(*shape, s=0.2):
        # float32-representable values, so the file holds them exactly
        return (torch.randn(*shape, generator=gen) * s).float().double()

    p = {"model.embed_tokens.weight": r(V, D, s=0.5)}
    for i in range(L):
        pre = "model.layers.%d." % i
        p[pre + "input_layernorm.weight"] = 1.0 + r(D, s=0.1)
        p[pre + "post_attention_layernorm.weight"] = 1.0 + r(D, s=0.1)
        p[pre + "self_attn.q_proj.weight"] = r(D, D)
        p[pre + "self_attn.k_proj.weight"] = r(G * E, D)
        p[pre + "self_attn.v_proj.weight"] = r(G * E, D)
        p[pre + "self_attn.o_proj.weight"] = r(D, D)
        p[pre + "mlp.gate_proj.weight"] = r(F, D)
        p[pre + "mlp.up_proj.weight"] = r(F, D)
        p[pre + "mlp.down_proj.weight"] = r(D, F)
    p["model.norm.weight"] = 1.0 + r(D, s=0.1)
    if not cfg["tie_word_embeddings"]:
        p["lm_head.weight"] = r(V, D)
    # The values the file holds (f32): the reference uses exactly these.
    return {k: v.float().double() for k, v in p.items()}


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(cfg, p, ids):
    """HF LlamaForCausalLM logits [S, V] for ids [S], float64."""
    D, L = cfg["hidden_size"], cfg["num_hidden_layers"]
    H, G = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    E = D // H
    eps = cfg["rms_norm_eps"]
    S = len(ids)
    x = p["model.embed_tokens.weight"][torch.tensor(ids)]
    inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, E, 2).double() / E))
    freqs = torch.outer(torch.arange(S).double(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    mask = torch.full((S, S), float("-inf")).triu(1)
    for i in range(L):
        pre = "model.layers.%d." % i
        h = rms_norm(x, p[pre + "input_layernorm.weight"], eps)
        q = (h @ p[pre + "self_attn.q_proj.weight"].T).view(S, H, E).transpose(0, 1)
        k = (h @ p[pre + "self_attn.k_proj.weight"].T).view(S, G, E).transpose(0, 1)
        v = (h @ p[pre + "self_attn.v_proj.weight"].T).view(S, G, E).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // G, dim=0)  # repeat_kv
        v = v.repeat_interleave(H // G, dim=0)
        a = torch.softmax(q @ k.transpose(1, 2) / E ** 0.5 + mask, dim=-1) @ v
        a = a.transpose(0, 1).reshape(S, D)
        x = x + a @ p[pre + "self_attn.o_proj.weight"].T
        h = rms_norm(x, p[pre + "post_attention_layernorm.weight"], eps)
        g = torch.nn.functional.silu(h @ p[pre + "mlp.gate_proj.weight"].T)
        u = h @ p[pre + "mlp.up_proj.weight"].T
        x = x + (g * u) @ p[pre + "mlp.down_proj.weight"].T
    x = rms_norm(x, p["model.norm.weight"], eps)
    head = p["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else p["lm_head.weight"]
    return x @ head.T


def build(name, cfg, seed, prompt, n_gen):
    gen = torch.Generator().manual_seed(seed)
    p = make_params(cfg, gen)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    st.save(os.path.join(d, "model.safetensors"), {k: v.numpy() for k, v in p.items()},
            dtype="F32", metadata={"format": "pt"})
    greedy = decoder_ref.save_greedy(os.path.join(OUT, name + ".ref.safetensors"),
                                     lambda ids: forward(cfg, p, ids), prompt, n_gen)
    print(name, "prompt", prompt, "greedy", greedy)


if __name__ == "__main__":
    build("tiny", CFG, 1234, [1, 17, 42, 99, 5, 63, 120], 10)
    tied = dict(CFG, tie_word_embeddings=True, num_key_value_heads=1, rope_theta=10000.0)
    build("tiny_tied", tied, 99, [1, 3, 4, 5], 6)
