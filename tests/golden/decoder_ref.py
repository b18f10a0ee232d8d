"""The greedy reference of the decoder generators (gen_gpt2.py, gen_llama.py):
logits of the prompt, then a greedy continuation by full recomputation, saved
as <path> with the layout tests/golden/test_decoder*.c read:

  prompt_ids     I32 [P]     the prompt
  prompt_logits  F32 [P, V]  logits of every prompt position
  greedy_ids     I32 [N]     greedy continuation (argmax)
  step_logits    F32 [N, V]  logits after feeding greedy_ids[i] at position P+i
"""
import numpy as np
import torch

import st


def save_greedy(path, logits_of, prompt, n_gen):
    """logits_of(ids) -> [len(ids), V] logits (float64). Returns greedy_ids."""
    ids = list(prompt)
    prompt_logits = logits_of(ids)
    greedy, steps = [], []
    nxt = int(prompt_logits[-1].argmax())
    for _ in range(n_gen):
        greedy.append(nxt)
        ids.append(nxt)
        lg = logits_of(ids)[-1]
        steps.append(lg)
        nxt = int(lg.argmax())
    st.save(path, {
        "prompt_ids": np.array(prompt, dtype=np.int32),
        "prompt_logits": prompt_logits.numpy().astype(np.float32),
        "greedy_ids": np.array(greedy, dtype=np.int32),
        "step_logits": torch.stack(steps).numpy().astype(np.float32),
    })
    return greedy
