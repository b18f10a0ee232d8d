// tfm.hpp -- a small RAII wrapper over the libtransformer C API, for C++11.
//
// Handles live in std::unique_ptr with the library's destructors as deleters;
// a failing call throws tfm::error carrying the status and the context's
// message. Only the parts the examples use are wrapped; the C API stays
// usable alongside (get() returns the raw handle).
#ifndef TFM_HPP
#define TFM_HPP

#include <transformer.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tfm {

class error : public std::runtime_error {
public:
    error(tfm_status status, const std::string &what)
        : std::runtime_error(what), status_(status) {}
    tfm_status status() const { return status_; }

private:
    tfm_status status_;
};

// Throws when st is not TFM_OK, with the context's last message.
inline void check(tfm_status st, const tfm_ctx *ctx, const char *what) {
    if (st != TFM_OK) {
        std::string msg = std::string(what) + ": " + tfm_status_str(st);
        const char *detail = tfm_ctx_last_error(ctx);
        if (detail && *detail) msg += std::string(": ") + detail;
        throw error(st, msg);
    }
}

struct ctx_deleter { void operator()(tfm_ctx *p) const { tfm_ctx_free(p); } };
struct model_deleter { void operator()(tfm_model *p) const { tfm_model_free(p); } };
struct session_deleter { void operator()(tfm_session *p) const { tfm_session_free(p); } };

class context {
public:
    explicit context(int n_threads = 1) {
        tfm_ctx_params p = tfm_ctx_params_default();
        p.n_threads = n_threads;
        tfm_ctx *raw = NULL;
        check(tfm_ctx_create(&p, &raw), NULL, "tfm_ctx_create");
        h_.reset(raw);
    }
    tfm_ctx *get() const { return h_.get(); }

private:
    std::unique_ptr<tfm_ctx, ctx_deleter> h_;
};

// An immutable loaded model; share it between sessions (and threads).
class model {
public:
    // tokenizer: a tokenizer file, or "" for the one beside the model.
    model(const context &ctx, const std::string &path,
          const std::string &tokenizer = std::string()) {
        tfm_model_params p = tfm_model_params_default();
        tfm_model *raw = NULL;
        if (!tokenizer.empty()) p.tokenizer_path = tokenizer.c_str();
        check(tfm_model_load(ctx.get(), path.c_str(), &p, &raw), ctx.get(),
              "tfm_model_load");
        h_.reset(raw);
    }
    const tfm_model *get() const { return h_.get(); }
    std::string arch() const { return tfm_model_arch(h_.get()); }

private:
    std::unique_ptr<tfm_model, model_deleter> h_;
};

class session {
public:
    session(const context &ctx, const model &m) : ctx_(ctx.get()) {
        tfm_session *raw = NULL;
        check(tfm_session_create(ctx_, m.get(), NULL, &raw), ctx_, "tfm_session_create");
        h_.reset(raw);
    }
    tfm_session *get() const { return h_.get(); }

    // Generates from `prompt`; calls on_piece(text) for each token as it
    // comes. Returns the generated ids.
    template <class F>
    std::vector<int32_t> generate(const std::string &prompt, tfm_gen_params params,
                                  F on_piece) {
        std::vector<int32_t> ids(params.max_new_tokens > 0 ? params.max_new_tokens : 4096);
        int32_t n = 0;
        params.on_token = &session::trampoline<F>;
        params.on_token_ud = &on_piece;
        check(tfm_generate(h_.get(), prompt.c_str(), &params, ids.data(),
                           (int32_t)ids.size(), &n, NULL),
              ctx_, "tfm_generate");
        ids.resize((size_t)n);
        return ids;
    }

private:
    template <class F>
    static int trampoline(void *ud, int32_t, const char *piece, size_t len) {
        (*static_cast<F *>(ud))(std::string(piece ? piece : "", len));
        return 0;
    }
    tfm_ctx *ctx_;
    std::unique_ptr<tfm_session, session_deleter> h_;
};

} // namespace tfm

#endif
