// generate: text generation from C++ through the RAII wrapper in tfm.hpp.
//
//   g++ -std=c++11 -Iinclude examples/cpp/generate.cpp build/libtransformer.a -lpthread
//   ./a.out MODEL [TOKENIZER|-] [PROMPT] [STEPS]
#include "tfm.hpp"

#include <cstdio>
#include <cstdlib>
#include <iostream>

int main(int argc, char **argv) {
    if (argc < 2) {
        std::cerr << "usage: " << argv[0] << " MODEL [TOKENIZER|-] [PROMPT] [STEPS]\n";
        return 1;
    }
    try {
        tfm::context ctx(2);
        std::string tok = argc > 2 && std::string(argv[2]) != "-" ? argv[2] : "";
        tfm::model model(ctx, argv[1], tok);
        tfm::session session(ctx, model);
        tfm_gen_params p = tfm_gen_params_default();
        p.temperature = 0.0f; // greedy
        p.max_new_tokens = argc > 4 ? std::atoi(argv[4]) : 64;
        std::string prompt = argc > 3 ? argv[3] : "";
        std::cout << prompt; // the callback sees only the generated text
        std::vector<int32_t> ids = session.generate(
            prompt, p,
            [](const std::string &piece) { std::cout << piece << std::flush; });
        std::cout << "\n";
        std::cerr << model.arch() << ": " << ids.size() << " tokens\n";
    } catch (const tfm::error &e) {
        std::cerr << "error: " << e.what() << " (status " << e.status() << ")\n";
        return 2;
    }
    return 0;
}
