"""ctypes declarations of libtransformer's C ABI (include/transformer.h).

Finds and loads the shared library, checks its version, and declares the
argument and result types of every function the package calls. The
structures below mirror the header field by field; tests/test_structs.py
compiles a C program against the header and compares every size and offset.
"""
import ctypes
import ctypes.util
import os
import sys
import threading
from ctypes import (POINTER, CFUNCTYPE, Structure, c_char_p, c_double,
                    c_float, c_int, c_int32, c_int64, c_size_t,
                    c_uint32, c_uint64, c_void_p)

# The C ABI this package was written against: TFM_VERSION_NUMBER of 0.2.0.
# A library of the same major version and at least this number is accepted
# (within a major version the ABI only grows; see docs/ABI.md). While the
# major version is 0, the minor version plays its part: 0.2 needs 0.2.x.
EXPECTED_VERSION = (0, 2, 0)
EXPECTED_VERSION_NUMBER = (EXPECTED_VERSION[0] * 1000000 +
                           EXPECTED_VERSION[1] * 1000 + EXPECTED_VERSION[2])

TFM_MAX_DIMS = 4
TFM_SAFETENSORS_MAX_DIMS = 8
TFM_STRLEN = ctypes.c_size_t(-1).value


class LibraryNotFoundError(ImportError):
    """No usable libtransformer shared library was found."""


class LibraryVersionError(ImportError):
    """The shared library found is of a version this package cannot use."""


# ---- structures -------------------------------------------------------------
# Each carries _c_name_, the C type it mirrors, for the layout test.

tfm_alloc_fn = CFUNCTYPE(c_void_p, c_void_p, c_void_p, c_size_t, c_size_t, c_size_t)
tfm_log_fn = CFUNCTYPE(None, c_void_p, c_int, c_char_p)
tfm_abort_fn = CFUNCTYPE(c_int, c_void_p)
# const char *piece is not NUL-terminated: take it as a raw pointer.
tfm_token_fn = CFUNCTYPE(c_int, c_void_p, c_int32, c_void_p, c_size_t)


class tfm_ctx_params(Structure):
    _c_name_ = "tfm_ctx_params"
    _fields_ = [("struct_size", c_size_t), ("n_threads", c_int32),
                ("log_level", c_int32), ("alloc", tfm_alloc_fn),
                ("alloc_ud", c_void_p), ("alignment", c_size_t),
                ("log", tfm_log_fn), ("log_ud", c_void_p),
                ("check_finite", c_int32), ("max_memory", c_size_t)]


class tfm_tensor(Structure):
    _c_name_ = "tfm_tensor"
    _fields_ = [("dtype", c_int32), ("ndim", c_int32),
                ("shape", c_int64 * TFM_MAX_DIMS),
                ("stride", c_int64 * TFM_MAX_DIMS), ("data", c_void_p),
                ("scale", c_float), ("flags", c_uint32),
                ("scales", POINTER(c_float)), ("ctx", c_void_p),
                ("reserved", c_void_p * 2)]


T = POINTER(tfm_tensor)


class tfm_safetensors_info(Structure):
    _c_name_ = "tfm_safetensors_info"
    _fields_ = [("struct_size", c_size_t), ("name", c_char_p), ("dtype_name", c_char_p),
                ("dtype", c_int32), ("ndim", c_int32),
                ("shape", c_int64 * TFM_SAFETENSORS_MAX_DIMS),
                ("data", c_void_p), ("nbytes", c_uint64), ("file", c_char_p)]


class tfm_embed_weights(Structure):
    _c_name_ = "tfm_embed_weights"
    _fields_ = [("struct_size", c_size_t), ("tokens", T), ("positions", T),
                ("types", T), ("token_scale", c_float),
                ("sinusoidal", c_int32), ("pos_offset", c_int64)]


class tfm_norm_weights(Structure):
    _c_name_ = "tfm_norm_weights"
    _fields_ = [("struct_size", c_size_t), ("gamma", T), ("beta", T)]


class tfm_attn_masks(Structure):
    _c_name_ = "tfm_attn_masks"
    _fields_ = [("struct_size", c_size_t), ("key_padding_mask", T),
                ("attn_mask", T), ("positions", T)]


class tfm_attn_params(Structure):
    _c_name_ = "tfm_attn_params"
    _fields_ = [("struct_size", c_size_t), ("scale", c_float),
                ("causal", c_int32), ("alibi_slopes", POINTER(c_float)),
                ("masks", tfm_attn_masks)]


class tfm_kv_cache_params(Structure):
    _c_name_ = "tfm_kv_cache_params"
    _fields_ = [("struct_size", c_size_t), ("n_layers", c_int64),
                ("max_batch", c_int64), ("n_kv_heads", c_int64),
                ("head_dim", c_int64), ("max_seq", c_int64)]


class tfm_mha_params(Structure):
    _c_name_ = "tfm_mha_params"
    _fields_ = [("struct_size", c_size_t), ("d_model", c_int64),
                ("n_heads", c_int64), ("n_kv_heads", c_int64),
                ("head_dim", c_int64), ("kdim", c_int64), ("vdim", c_int64),
                ("scale", c_float), ("causal", c_int32), ("rope", c_int32),
                ("rope_theta", c_float), ("rope_dim", c_int64),
                ("alibi", c_int32), ("cross", c_int32), ("prepack", c_int32),
                ("rope_cos", POINTER(c_float)), ("rope_sin", POINTER(c_float)), ("rope_positions", c_int64),
                ("attn_serial_below", c_int64)]


class tfm_mha_weights(Structure):
    _c_name_ = "tfm_mha_weights"
    _fields_ = [("struct_size", c_size_t), ("wq", T), ("bq", T), ("wk", T),
                ("bk", T), ("wv", T), ("bv", T), ("wqkv", T), ("bqkv", T),
                ("wo", T), ("bo", T), ("in_out", c_int32)]


class tfm_additive_weights(Structure):
    _c_name_ = "tfm_additive_weights"
    _fields_ = [("struct_size", c_size_t), ("wq", T), ("wk", T), ("b", T),
                ("v", T)]


class tfm_ffn_params(Structure):
    _c_name_ = "tfm_ffn_params"
    _fields_ = [("struct_size", c_size_t), ("d_model", c_int64),
                ("d_ff", c_int64), ("act", c_int32), ("gated", c_int32),
                ("prepack", c_int32)]


class tfm_ffn_weights(Structure):
    _c_name_ = "tfm_ffn_weights"
    _fields_ = [("struct_size", c_size_t), ("w1", T), ("b1", T), ("w2", T),
                ("b2", T), ("w3", T), ("b3", T), ("in_out", c_int32)]


class tfm_layer_params(Structure):
    _c_name_ = "tfm_layer_params"
    _fields_ = [("struct_size", c_size_t), ("d_model", c_int64),
                ("n_heads", c_int64), ("n_kv_heads", c_int64),
                ("head_dim", c_int64), ("d_ff", c_int64), ("act", c_int32),
                ("gated", c_int32), ("norm", c_int32), ("norm_eps", c_float),
                ("norm_first", c_int32), ("causal", c_int32),
                ("rope", c_int32), ("rope_theta", c_float),
                ("rope_dim", c_int64), ("alibi", c_int32),
                ("memory_dim", c_int64), ("prepack", c_int32),
                ("rope_cos", POINTER(c_float)), ("rope_sin", POINTER(c_float)), ("rope_positions", c_int64),
                ("attn_serial_below", c_int64)]


class tfm_layer_weights(Structure):
    _c_name_ = "tfm_layer_weights"
    _fields_ = [("struct_size", c_size_t), ("self_attn", tfm_mha_weights),
                ("cross_attn", tfm_mha_weights), ("ffn", tfm_ffn_weights),
                ("attn_norm", tfm_norm_weights),
                ("cross_norm", tfm_norm_weights),
                ("ffn_norm", tfm_norm_weights)]


class tfm_model_params(Structure):
    _c_name_ = "tfm_model_params"
    _fields_ = [("struct_size", c_size_t), ("tokenizer_path", c_char_p),
                ("no_tokenizer", c_int32), ("use_mmap", c_int32),
                ("prepack", c_int32), ("weights", c_int32)]


class tfm_session_params(Structure):
    _c_name_ = "tfm_session_params"
    _fields_ = [("struct_size", c_size_t), ("max_context", c_int32),
                ("max_batch", c_int32), ("context_policy", c_int32),
                ("abort", tfm_abort_fn), ("abort_ud", c_void_p)]


class tfm_gen_params(Structure):
    _c_name_ = "tfm_gen_params"
    _fields_ = [("struct_size", c_size_t), ("max_new_tokens", c_int32),
                ("max_total_tokens", c_int32), ("temperature", c_float),
                ("top_k", c_int32), ("top_p", c_float),
                ("repetition_penalty", c_float), ("seed", c_uint64),
                ("stop_token", c_int32), ("add_bos", c_int32),
                ("on_token", tfm_token_fn), ("on_token_ud", c_void_p)]


class tfm_gen_stats(Structure):
    _c_name_ = "tfm_gen_stats"
    _fields_ = [("struct_size", c_size_t), ("n_prompt", c_int32), ("n_generated", c_int32),
                ("prompt_seconds", c_double), ("gen_seconds", c_double)]


class tfm_tokenizer_params(Structure):
    _c_name_ = "tfm_tokenizer_params"
    _fields_ = [("struct_size", c_size_t), ("type", c_int32),
                ("lower_case", c_int32), ("strip_accents", c_int32)]


class tfm_encode_params(Structure):
    _c_name_ = "tfm_encode_params"
    _fields_ = [("struct_size", c_size_t), ("add_special", c_int32),
                ("max_length", c_int32), ("truncation", c_int32),
                ("parse_special", c_int32)]


class tfm_batch(Structure):
    _c_name_ = "tfm_batch"
    _fields_ = [("n_seq", c_int32), ("seq_len", c_int32),
                ("ids", POINTER(c_int32)), ("type_ids", POINTER(c_int32)),
                ("attention_mask", POINTER(c_int32)),
                ("lengths", POINTER(c_int32)), ("pad_id", c_int32),
                ("ctx", c_void_p)]


class tfm_encode_outputs(Structure):
    _c_name_ = "tfm_encode_outputs"
    _fields_ = [("struct_size", c_size_t), ("hidden", POINTER(c_float)),
                ("pooled", POINTER(c_float)), ("mlm_logits", POINTER(c_float)),
                ("class_logits", POINTER(c_float))]


class tfm_task_params(Structure):
    _c_name_ = "tfm_task_params"
    _fields_ = [("struct_size", c_size_t), ("truncate", c_int32),
                ("max_length", c_int32), ("top_k", c_int32),
                ("pooling", c_int32), ("normalize", c_int32)]


class tfm_prediction(Structure):
    _c_name_ = "tfm_prediction"
    _fields_ = [("id", c_int32), ("score", c_float), ("token", c_char_p)]


class tfm_fill_mask_result(Structure):
    _c_name_ = "tfm_fill_mask_result"
    _fields_ = [("n_texts", c_int32), ("n_masks", c_int32), ("top_k", c_int32),
                ("text", POINTER(c_int32)), ("position", POINTER(c_int32)),
                ("pred", POINTER(tfm_prediction)), ("ctx", c_void_p)]


class tfm_embeddings(Structure):
    _c_name_ = "tfm_embeddings"
    _fields_ = [("n", c_int32), ("dim", c_int32), ("seq_len", c_int32),
                ("pooling", c_int32), ("data", POINTER(c_float)),
                ("lengths", POINTER(c_int32)), ("ctx", c_void_p)]


class tfm_classification(Structure):
    _c_name_ = "tfm_classification"
    _fields_ = [("n", c_int32), ("n_labels", c_int32),
                ("logits", POINTER(c_float)), ("probs", POINTER(c_float)),
                ("best", POINTER(c_int32)), ("labels", POINTER(c_char_p)),
                ("ctx", c_void_p)]


class tfm_translate_params(Structure):
    _c_name_ = "tfm_translate_params"
    _fields_ = [("struct_size", c_size_t), ("beam_size", c_int32),
                ("length_penalty", c_float), ("max_length", c_int32),
                ("early_stopping", c_int32), ("truncate", c_int32),
                ("max_source_length", c_int32), ("attention", c_int32)]


class tfm_translation(Structure):
    _c_name_ = "tfm_translation"
    _fields_ = [("n_src", c_int32), ("src_ids", POINTER(c_int32)),
                ("n_ids", c_int32), ("ids", POINTER(c_int32)),
                ("score", c_float), ("text", c_void_p),
                ("attention", POINTER(c_float))]


class tfm_translate_result(Structure):
    _c_name_ = "tfm_translate_result"
    _fields_ = [("n", c_int32), ("items", POINTER(tfm_translation)),
                ("ctx", c_void_p)]


STRUCTS = [tfm_ctx_params, tfm_tensor, tfm_safetensors_info, tfm_embed_weights,
           tfm_norm_weights, tfm_attn_masks, tfm_attn_params,
           tfm_kv_cache_params, tfm_mha_params, tfm_mha_weights,
           tfm_additive_weights, tfm_ffn_params, tfm_ffn_weights,
           tfm_layer_params, tfm_layer_weights, tfm_model_params,
           tfm_session_params, tfm_gen_params, tfm_gen_stats,
           tfm_tokenizer_params, tfm_encode_params, tfm_batch,
           tfm_encode_outputs, tfm_task_params, tfm_prediction,
           tfm_fill_mask_result, tfm_embeddings, tfm_classification,
           tfm_translate_params, tfm_translation, tfm_translate_result]


# Parameter structs are filled by tfm_X_init(&p, sizeof p): the library
# writes its defaults into the package's struct, never past its size, and
# reads back only the struct_size bytes this package knows (docs/ABI.md).
# Output structs the library fills (tfm_safetensors_info, tfm_gen_stats) are
# prepared the same way: their struct_size tells the library how many bytes
# it may write.


# ---- function table -----------------------------------------------------------
# name: (restype, [argtypes]). Functions marked optional may be absent from
# an older library or one built without a feature; callers check has().

P = c_void_p  # opaque handles
cp = c_char_p
i32p = POINTER(c_int32)
fp = POINTER(c_float)
szp = POINTER(c_size_t)

_FUNCS = {
    # status and version
    "tfm_status_str": (cp, [c_int]),
    "tfm_version_number": (c_int, []),
    "tfm_version": (None, [POINTER(c_int)] * 3),
    "tfm_version_string": (cp, []),
    "tfm_cpu_features": (c_uint32, []),
    "tfm_cpu_features_str": (c_size_t, [c_uint32, c_void_p, c_size_t]),
    "tfm_kernels_name": (cp, []),
    "tfm_kernels_forced": (c_int, []),
    "tfm_kernels_supported": (c_int, [cp]),
    # context
    "tfm_ctx_params_init": (None, [POINTER(tfm_ctx_params), c_size_t]),
    "tfm_ctx_create": (c_int, [POINTER(tfm_ctx_params), POINTER(P)]),
    "tfm_ctx_free": (None, [P]),
    "tfm_ctx_last_error": (cp, [P]),
    "tfm_ctx_n_threads": (c_int, [P]),
    # tensors
    "tfm_dtype_size": (c_size_t, [c_int]),
    "tfm_dtype_name": (cp, [c_int]),
    "tfm_tensor_wrap": (c_int, [T, c_int, c_int, POINTER(c_int64), c_void_p]),
    "tfm_tensor_numel": (c_int64, [T]),
    "tfm_tensor_is_contiguous": (c_int, [T]),
    "tfm_tensor_copy": (c_int, [P, T, T]),
    "tfm_f16_to_f32_array": (None, [c_void_p, c_void_p, c_size_t]),
    "tfm_f32_to_f16_array": (None, [c_void_p, c_void_p, c_size_t]),
    "tfm_bf16_to_f32_array": (None, [c_void_p, c_void_p, c_size_t]),
    "tfm_f32_to_bf16_array": (None, [c_void_p, c_void_p, c_size_t]),
    # ops
    "tfm_matmul": (c_int, [P, T, T, c_int, T, c_float, c_float, T]),
    "tfm_add": (c_int, [P, T, T, T]),
    "tfm_mul": (c_int, [P, T, T, T]),
    "tfm_scale": (c_int, [P, T, c_float, T]),
    "tfm_softmax": (c_int, [P, T, T, T]),
    "tfm_layernorm": (c_int, [P, T, T, T, c_float, T]),
    "tfm_rmsnorm": (c_int, [P, T, T, c_float, T]),
    "tfm_activation": (c_int, [P, c_int, T, T]),
    "tfm_embedding": (c_int, [P, T, T, T]),
    # prepacked matrices
    "tfm_matrix_pack": (c_int, [P, T, c_int, POINTER(P)]),
    "tfm_packed_matrix_rows": (c_int64, [P]),
    "tfm_packed_matrix_cols": (c_int64, [P]),
    "tfm_packed_matrix_free": (None, [P]),
    "tfm_matmul_packed": (c_int, [P, T, P, T, c_float, c_float, T]),
    # safetensors
    "tfm_safetensors_open": (c_int, [P, cp, POINTER(P)]),
    "tfm_safetensors_open_memory": (c_int, [P, c_void_p, c_size_t, cp, POINTER(P)]),
    "tfm_safetensors_close": (None, [P]),
    "tfm_safetensors_count": (c_int64, [P]),
    "tfm_safetensors_name": (cp, [P, c_int64]),
    "tfm_safetensors_find": (c_int64, [P, cp]),
    "tfm_safetensors_info_init": (None, [POINTER(tfm_safetensors_info), c_size_t]),
    "tfm_safetensors_info_at": (c_int, [P, c_int64, POINTER(tfm_safetensors_info)]),
    "tfm_safetensors_metadata_count": (c_int64, [P]),
    "tfm_safetensors_metadata_key": (cp, [P, c_int64]),
    "tfm_safetensors_metadata_get": (cp, [P, cp]),
    # layers
    "tfm_workspace_create": (c_int, [P, c_size_t, POINTER(P)]),
    "tfm_workspace_free": (None, [P]),
    "tfm_workspace_size": (c_size_t, [P]),
    "tfm_mha_workspace_size": (c_size_t, [P, P, c_int64, c_int64, c_int64]),
    "tfm_ffn_workspace_size": (c_size_t, [P, c_int64]),
    "tfm_encoder_layer_workspace_size": (c_size_t, [P, P, c_int64, c_int64]),
    "tfm_decoder_layer_workspace_size": (c_size_t, [P, P, c_int64, c_int64, c_int64, c_int64]),
    "tfm_encoder_workspace_size": (c_size_t, [P, P, c_int64, c_int64]),
    "tfm_decoder_workspace_size": (c_size_t, [P, P, c_int64, c_int64, c_int64, c_int64]),
    "tfm_pos_sinusoidal": (c_int, [P, c_int, c_int64, T]),
    "tfm_embed_weights_init": (None, [POINTER(tfm_embed_weights), c_size_t]),
    "tfm_embed": (c_int, [P, POINTER(tfm_embed_weights), T, T, c_int64, T]),
    "tfm_rope": (c_int, [P, T, c_int, c_float, c_int64, c_int64, T]),
    "tfm_rope_tables": (c_int, [P, c_float, c_int64, c_int64, c_uint32, fp, fp]),
    "tfm_alibi_slopes": (None, [c_int64, fp]),
    "tfm_norm_weights_init": (None, [POINTER(tfm_norm_weights), c_size_t]),
    "tfm_norm": (c_int, [P, c_int, T, POINTER(tfm_norm_weights), c_float, T]),
    "tfm_mean_pool": (c_int, [P, T, T, T]),
    "tfm_attn_masks_init": (None, [POINTER(tfm_attn_masks), c_size_t]),
    "tfm_attn_params_init": (None, [POINTER(tfm_attn_params), c_size_t]),
    "tfm_attention": (c_int, [P, T, T, T, POINTER(tfm_attn_params), T, T]),
    "tfm_kv_cache_params_init": (None, [POINTER(tfm_kv_cache_params), c_size_t]),
    "tfm_kv_cache_create": (c_int, [P, POINTER(tfm_kv_cache_params), POINTER(P)]),
    "tfm_kv_cache_free": (None, [P]),
    "tfm_kv_cache_len": (c_int64, [P, c_int64]),
    "tfm_kv_cache_reset": (None, [P]),
    "tfm_kv_cache_truncate": (None, [P, c_int64]),
    "tfm_kv_cache_reorder": (c_int, [P, P, i32p, c_int64]),
    "tfm_mha_params_init": (None, [POINTER(tfm_mha_params), c_size_t]),
    "tfm_mha_weights_init": (None, [POINTER(tfm_mha_weights), c_size_t]),
    "tfm_mha_create": (c_int, [P, POINTER(tfm_mha_params), POINTER(tfm_mha_weights), POINTER(P)]),
    "tfm_mha_free": (None, [P]),
    "tfm_mha_forward": (c_int, [P, P, T, T, T, POINTER(tfm_attn_masks), P, c_int64, P, T, T]),
    "tfm_additive_weights_init": (None, [POINTER(tfm_additive_weights), c_size_t]),
    "tfm_additive_attention": (c_int, [P, POINTER(tfm_additive_weights), T, T, T, T, T, T]),
    "tfm_ffn_params_init": (None, [POINTER(tfm_ffn_params), c_size_t]),
    "tfm_ffn_weights_init": (None, [POINTER(tfm_ffn_weights), c_size_t]),
    "tfm_ffn_create": (c_int, [P, POINTER(tfm_ffn_params), POINTER(tfm_ffn_weights), POINTER(P)]),
    "tfm_ffn_free": (None, [P]),
    "tfm_ffn_forward": (c_int, [P, P, T, P, T]),
    "tfm_layer_params_init": (None, [POINTER(tfm_layer_params), c_size_t]),
    "tfm_layer_weights_init": (None, [POINTER(tfm_layer_weights), c_size_t]),
    "tfm_encoder_layer_create": (c_int, [P, POINTER(tfm_layer_params), POINTER(tfm_layer_weights), POINTER(P)]),
    "tfm_encoder_layer_free": (None, [P]),
    "tfm_encoder_layer_forward": (c_int, [P, P, T, POINTER(tfm_attn_masks), P, T, T]),
    "tfm_decoder_layer_create": (c_int, [P, POINTER(tfm_layer_params), POINTER(tfm_layer_weights), POINTER(P)]),
    "tfm_decoder_layer_free": (None, [P]),
    "tfm_decoder_layer_forward": (c_int, [P, P, T, T, POINTER(tfm_attn_masks), T, P, P, c_int64, P, T, T, T]),
    "tfm_encoder_create": (c_int, [P, POINTER(tfm_layer_params), c_int64, POINTER(tfm_layer_weights), POINTER(tfm_norm_weights), POINTER(P)]),
    "tfm_encoder_free": (None, [P]),
    "tfm_encoder_forward": (c_int, [P, P, T, POINTER(tfm_attn_masks), P, T]),
    "tfm_decoder_create": (c_int, [P, POINTER(tfm_layer_params), c_int64, POINTER(tfm_layer_weights), POINTER(tfm_norm_weights), POINTER(P)]),
    "tfm_decoder_free": (None, [P]),
    "tfm_decoder_forward": (c_int, [P, P, T, T, POINTER(tfm_attn_masks), T, P, P, P, T]),
    # models and sessions
    "tfm_model_params_init": (None, [POINTER(tfm_model_params), c_size_t]),
    "tfm_model_quantize": (c_int, [P, cp, cp, c_int32]),
    "tfm_model_load": (c_int, [P, cp, POINTER(tfm_model_params), POINTER(P)]),
    "tfm_model_free": (None, [P]),
    "tfm_model_kind": (c_int, [P]),
    "tfm_model_arch": (cp, [P]),
    "tfm_model_vocab_size": (c_int32, [P]),
    "tfm_model_max_context": (c_int32, [P]),
    "tfm_model_dim": (c_int32, [P]),
    "tfm_model_n_layers": (c_int32, [P]),
    "tfm_model_bos": (c_int32, [P]),
    "tfm_model_eos": (c_int32, [P]),
    "tfm_model_weight_bytes": (c_uint64, [P]),
    "tfm_model_tokenizer": (P, [P]),
    "tfm_session_params_init": (None, [POINTER(tfm_session_params), c_size_t]),
    "tfm_session_create": (c_int, [P, P, POINTER(tfm_session_params), POINTER(P)]),
    "tfm_session_free": (None, [P]),
    "tfm_session_prefill": (c_int, [P, i32p, c_int32, fp]),
    "tfm_session_step": (c_int, [P, c_int32, fp]),
    "tfm_session_logits": (fp, [P]),
    "tfm_session_pos": (c_int32, [P]),
    "tfm_session_max_context": (c_int32, [P]),
    "tfm_session_reset": (None, [P]),
    "tfm_session_ctx": (P, [P]),
    "tfm_session_model": (P, [P]),
    # generation
    "tfm_gen_params_init": (None, [POINTER(tfm_gen_params), c_size_t]),
    "tfm_gen_stats_init": (None, [POINTER(tfm_gen_stats), c_size_t]),
    "tfm_generate": (c_int, [P, cp, POINTER(tfm_gen_params), i32p, c_int32, i32p, POINTER(tfm_gen_stats)]),
    "tfm_generate_tokens": (c_int, [P, i32p, c_int32, POINTER(tfm_gen_params), i32p, c_int32, i32p, POINTER(tfm_gen_stats)]),
    "tfm_sample": (c_int32, [fp, c_int32, POINTER(tfm_gen_params), POINTER(c_uint64), i32p, c_int32, c_void_p]),
    "tfm_sample_seed": (c_uint64, [c_uint64]),
    # tokenizers
    "tfm_tokenizer_params_init": (None, [POINTER(tfm_tokenizer_params), c_size_t]),
    "tfm_tokenizer_load": (c_int, [P, cp, POINTER(tfm_tokenizer_params), POINTER(P)]),
    "tfm_tokenizer_free": (None, [P]),
    "tfm_tokenizer_type_of": (c_int, [P]),
    "tfm_tokenizer_vocab_size": (c_int32, [P]),
    "tfm_tokenizer_max_length": (c_int32, [P]),
    "tfm_tokenizer_special_id": (c_int32, [P, c_int]),
    "tfm_tokenizer_id_to_token": (c_void_p, [P, c_int32, szp]),
    "tfm_tokenizer_token_to_id": (c_int32, [P, cp, c_size_t]),
    "tfm_encode_params_init": (None, [POINTER(tfm_encode_params), c_size_t]),
    "tfm_tokenizer_encode": (c_int, [P, P, cp, c_size_t, cp, c_size_t, POINTER(tfm_encode_params), i32p, i32p, i32p, c_size_t, szp]),
    "tfm_tokenizer_decode": (c_int, [P, P, i32p, c_size_t, c_uint32, c_void_p, c_size_t, szp]),
    "tfm_tokenizer_decode_next": (c_int, [P, P, c_int32, c_int32, c_uint32, c_void_p, c_size_t, szp]),
    "tfm_tokenizer_encode_batch": (c_int, [P, P, POINTER(cp), POINTER(c_size_t), POINTER(cp), POINTER(c_size_t), c_int32, POINTER(tfm_encode_params), c_int, POINTER(POINTER(tfm_batch))]),
    "tfm_batch_free": (None, [POINTER(tfm_batch)]),
    # encoder tasks
    "tfm_model_heads": (c_uint32, [P]),
    "tfm_model_n_labels": (c_int32, [P]),
    "tfm_model_label": (cp, [P, c_int32]),
    "tfm_encode_outputs_init": (None, [POINTER(tfm_encode_outputs), c_size_t]),
    "tfm_model_encode": (c_int, [P, P, i32p, i32p, i32p, c_int32, c_int32, POINTER(tfm_encode_outputs)]),
    "tfm_task_params_init": (None, [POINTER(tfm_task_params), c_size_t]),
    "tfm_fill_mask": (c_int, [P, P, POINTER(cp), c_int32, POINTER(tfm_task_params), POINTER(POINTER(tfm_fill_mask_result))]),
    "tfm_fill_mask_result_free": (None, [POINTER(tfm_fill_mask_result)]),
    "tfm_embed_texts": (c_int, [P, P, POINTER(cp), c_int32, POINTER(tfm_task_params), POINTER(POINTER(tfm_embeddings))]),
    "tfm_embeddings_free": (None, [POINTER(tfm_embeddings)]),
    "tfm_classify": (c_int, [P, P, POINTER(cp), POINTER(cp), c_int32, POINTER(tfm_task_params), POINTER(POINTER(tfm_classification))]),
    "tfm_classification_free": (None, [POINTER(tfm_classification)]),
    # translation
    "tfm_translate_params_init": (None, [POINTER(tfm_translate_params), c_size_t]),
    "tfm_translate_tokens": (c_int, [P, POINTER(i32p), i32p, c_int32, POINTER(tfm_translate_params), POINTER(POINTER(tfm_translate_result))]),
    "tfm_translate": (c_int, [P, POINTER(cp), c_int32, POINTER(tfm_translate_params), POINTER(POINTER(tfm_translate_result))]),
    "tfm_translate_result_free": (None, [POINTER(tfm_translate_result)]),
    "tfm_translate_logits": (c_int, [P, P, i32p, i32p, c_int32, c_int32, i32p, c_int32, fp]),
    "tfm_model_decoder_start": (c_int32, [P]),
    "tfm_model_pad": (c_int32, [P]),
    "tfm_model_src_vocab_size": (c_int32, [P]),
    "tfm_translate_piece": (cp, [P, c_int32]),
}

# Sections still being added to the library: absent symbols are allowed and
# the calls that need them raise UnsupportedError.
OPTIONAL = {n for n in _FUNCS if n.startswith("tfm_translate") or n in (
    "tfm_model_decoder_start", "tfm_model_pad", "tfm_model_src_vocab_size")}


# ---- finding the library ------------------------------------------------------------

_NAMES = ("libtransformer.so", "libtransformer.so.%d" % EXPECTED_VERSION[0])
if sys.platform == "darwin":
    _NAMES = ("libtransformer.dylib",)
elif sys.platform == "win32":
    _NAMES = ("transformer.dll", "libtransformer.dll")


def candidates():
    """The places searched for the shared library, in order, as
    (description, path-or-name) pairs."""
    out = []
    env = os.environ.get("TFM_LIBRARY")
    if env:
        out.append(("TFM_LIBRARY", env))
        return out
    here = os.path.dirname(os.path.abspath(__file__))
    for n in _NAMES:
        out.append(("next to the package", os.path.join(here, n)))
    # Used from the source tree: bindings/python/libtransformer -> repo root.
    root = os.path.normpath(os.path.join(here, "..", "..", ".."))
    if os.path.isfile(os.path.join(root, "include", "transformer.h")):
        for n in _NAMES:
            out.append(("the source tree's build folder",
                        os.path.join(root, "build", n)))
    found = ctypes.util.find_library("transformer")
    if found:
        out.append(("ctypes.util.find_library", found))
    for n in _NAMES[::-1]:
        out.append(("the dynamic loader's search path", n))
    for d in ("/usr/local/lib", "/usr/local/lib64", "/usr/lib", "/usr/lib64"):
        for n in _NAMES:
            out.append(("a standard folder", os.path.join(d, n)))
    return out


def _declare(cdll):
    missing = []
    for name, (res, args) in _FUNCS.items():
        try:
            f = getattr(cdll, name)
        except AttributeError:
            if name not in OPTIONAL:
                missing.append(name)
            continue
        f.restype = res
        f.argtypes = args
    return missing


class _Lib:
    """The loaded library: attribute access gives declared functions."""

    def __init__(self, cdll, path):
        self.cdll = cdll
        self.path = path
        self.version = tuple(_version_of(cdll))
        for name in _FUNCS:
            if hasattr(cdll, name):
                setattr(self, name, getattr(cdll, name))

    def has(self, name):
        return name in self.__dict__


def _version_of(cdll):
    a, b, c = c_int(), c_int(), c_int()
    cdll.tfm_version(ctypes.byref(a), ctypes.byref(b), ctypes.byref(c))
    return a.value, b.value, c.value


def _check_version(cdll, path):
    f = cdll.tfm_version_number
    f.restype = c_int
    f.argtypes = []
    n = f()
    major, minor = n // 1000000, n // 1000 % 1000
    if (major != EXPECTED_VERSION[0] or n < EXPECTED_VERSION_NUMBER or
            (major == 0 and minor != EXPECTED_VERSION[1])):
        raise LibraryVersionError(
            "libtransformer at %s is version %d.%d.%d; this package needs version "
            "%s, at least %d.%d.%d (the same major version, no older; while the "
            "major version is 0, the same minor version)"
            % (path, major, minor, n % 1000,
               "%d.%d.x" % EXPECTED_VERSION[:2] if EXPECTED_VERSION[0] == 0
               else "%d.x.y" % EXPECTED_VERSION[0],
               EXPECTED_VERSION[0], EXPECTED_VERSION[1], EXPECTED_VERSION[2]))


_lock = threading.Lock()
_loaded = None


def load(path=None):
    """Loads the library (once per process) and returns it. `path` overrides
    the search; otherwise TFM_LIBRARY, then the package folder, the source
    tree's build/, and the installed library are tried."""
    global _loaded
    with _lock:
        if _loaded is not None and path is None:
            return _loaded
        tried = []
        places = [("argument", path)] if path else candidates()
        for desc, p in places:
            if os.sep in p and not os.path.exists(p):
                tried.append("%s (%s): not found" % (p, desc))
                continue
            try:
                cdll = ctypes.CDLL(p)
            except OSError as e:
                tried.append("%s (%s): %s" % (p, desc, e))
                continue
            if not hasattr(cdll, "tfm_version_number"):
                tried.append("%s (%s): not libtransformer" % (p, desc))
                continue
            _check_version(cdll, p)
            missing = _declare(cdll)
            if missing:
                raise LibraryVersionError(
                    "libtransformer at %s lacks %s" % (p, ", ".join(missing)))
            _loaded = _Lib(cdll, p)
            return _loaded
        raise LibraryNotFoundError(
            "libtransformer shared library not found; set TFM_LIBRARY to its "
            "path. Tried:\n  " + "\n  ".join(tried))


def lib():
    return _loaded if _loaded is not None else load()


def default_struct(struct, name):
    """The library's defaults for `struct`, written by its init function
    `name` (tfm_X_init) into a struct of the size this package knows."""
    s = struct()
    getattr(lib(), name)(ctypes.byref(s), ctypes.sizeof(struct))
    return s
