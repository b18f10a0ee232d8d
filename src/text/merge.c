/*
 * The BPE merge loop shared by llama2.c (highest score first) and GPT-2
 * (lowest rank first): always merge the best adjacent pair, the leftmost on
 * ties. A min-heap of candidate pairs, entries checked when popped (a pair
 * whose symbols changed since it was pushed is dropped), gives the same
 * result as rescanning the whole text after each merge, in O(n log n).
 */
#include "tokenizer.h"

typedef struct cand {
    double key;
    int32_t left, right;       /* symbol indices                           */
    int32_t left_id, right_id; /* their ids when pushed (validity check)   */
    int32_t merged;
} cand;

static int cand_less(const cand *a, const cand *b) {
    if (a->key != b->key) return a->key < b->key;
    return a->left < b->left;
}

static void heap_push(cand *h, size_t *n, cand c) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!cand_less(&c, &h[parent])) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = c;
}

static cand heap_pop(cand *h, size_t *n) {
    cand top = h[0], last = h[--(*n)];
    size_t i = 0, m = *n;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        const cand *bc = &last;
        if (l < m && cand_less(&h[l], bc)) {
            best = l;
            bc = &h[l];
        }
        if (r < m && cand_less(&h[r], bc)) best = r;
        if (best == i) break;
        h[i] = h[best];
        i = best;
    }
    if (m) h[i] = last;
    return top;
}

static void try_push(const tfm_tokenizer *t, tfm__sym *sym, int32_t left, tfm__pair_fn pair,
                     cand *h, size_t *nh) {
    int32_t right = sym[left].next;
    cand c;
    if (right < 0) return;
    if (!pair(t, sym[left].id, sym[right].id, &c.key, &c.merged)) return;
    c.left = left;
    c.right = right;
    c.left_id = sym[left].id;
    c.right_id = sym[right].id;
    heap_push(h, nh, c);
}

tfm_status tfm__bpe_merge(tfm_ctx *ctx, const tfm_tokenizer *t, tfm__sym *sym, int32_t n,
                          tfm__pair_fn pair) {
    cand *h;
    size_t nh = 0, cap, bytes;
    int32_t i;
    if (n < 2) return TFM_OK;
    /* every merge pushes at most 2 pairs: n - 1 + 2 (n - 1) bound */
    cap = (size_t)n * 3;
    if (!tfm__mul_size(cap, sizeof(cand), &bytes))
        return tfm__err(ctx, TFM_ERR_RANGE, "tokenizer: text too long");
    h = (cand *)tfm__alloc_nozero(ctx, bytes);
    if (!h) return tfm__err(ctx, TFM_ERR_NOMEM, "tokenizer: out of memory (merge heap)");
    for (i = 0; i + 1 < n; i++) try_push(t, sym, i, pair, h, &nh);
    while (nh > 0) {
        cand c = heap_pop(h, &nh);
        tfm__sym *l = &sym[c.left], *r = &sym[c.right];
        if (l->id != c.left_id || l->next != c.right || r->id != c.right_id) continue;
        l->id = c.merged;
        l->end = r->end;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = c.left;
        r->id = -1;
        r->next = r->prev = -1;
        if (l->prev >= 0) try_push(t, sym, l->prev, pair, h, &nh);
        try_push(t, sym, c.left, pair, h, &nh);
    }
    tfm__free(ctx, h, bytes);
    return TFM_OK;
}
