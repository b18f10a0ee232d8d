"""Translation (encoder-decoder models) against the float64 references of
tests/golden/marian and the tfm tool."""
import json

import numpy as np
import pytest

import libtransformer as tfm
from conftest import golden, run_tool

if not tfm.load_library().has("tfm_translate_tokens"):
    pytest.skip("this libtransformer has no translation API", allow_module_level=True)


def relerr(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30)


def sources(ref):
    ids, mask = ref["src_ids"], ref["src_mask"]
    return [ids[b, :int(mask[b].sum())].tolist() for b in range(ids.shape[0])]


def check_ids(res, ref, key):
    ids, lens = ref[key + "_ids"], ref[key + "_len"]
    assert [r.ids for r in res] == [ids[b, :lens[b]].tolist() for b in range(len(res))]


@pytest.mark.parametrize("name", ["marian_tiny", "transformer_tiny"])
def test_translate_tokens_against_reference(name):
    ref = tfm.SafeTensors(golden("marian", name + ".ref.safetensors"))
    with tfm.Model.load(golden("marian", name), n_threads=2) as model:
        assert model.arch in ("marian", "transformer")
        assert model.kind == "encoder-decoder"
        assert model.decoder_start is not None and model.src_vocab_size > 0
        lg = model.translate_logits(ref["src_ids"], ref["tgt_ids"], ref["src_mask"])
        assert relerr(lg, ref["logits"]) < 1e-5
        src = sources(ref)
        with model.session() as s:
            res = s.translate_tokens(src, beam_size=1, attention=True)
            check_ids(res, ref, "greedy")
            att = ref["greedy_att"]
            for b, r in enumerate(res):
                assert r.src_ids == src[b]
                assert r.attention.shape == (len(r.ids), len(src[b]))
                np.testing.assert_allclose(r.attention.sum(1), 1, rtol=1e-5)
                assert relerr(r.attention, att[b, :len(r.ids), :len(src[b])]) < 1e-4
            check_ids(s.translate_tokens(src), ref, "beam3")
            check_ids(s.translate_tokens(src, beam_size=4, length_penalty=0.6,
                                         early_stopping=True), ref, "beam4")
            one = s.translate_tokens(src[0], beam_size=1)
            assert one.ids == res[0].ids
    ref.close()


def test_translate_equals_tfm(tfm_tool):
    path = golden("marian", "marian_tiny")
    want = json.loads(run_tool(tfm_tool, "translate", path, "--ids", "5 6 7 8 0", "9 10 0",
                               "--json", "--beam", "3"))["translations"]
    with tfm.Model.load(path) as model:
        got = model.translate_tokens([[5, 6, 7, 8, 0], [9, 10, 0]], beam_size=3)
        assert [g.ids for g in got] == [w["ids"] for w in want]
        np.testing.assert_allclose([g.score for g in got], [w["score"] for w in want],
                                   rtol=1e-5)
        assert model.piece(got[0].ids[0]) is not None


def test_translate_errors():
    with tfm.Model.load(golden("marian", "marian_tiny")) as model:
        with pytest.raises(tfm.InvalidArgumentError):
            model.translate_tokens([[0]])  # the EOS alone
        with pytest.raises(tfm.RangeError):
            model.translate_tokens([[100000, 0]])
        with pytest.raises(tfm.UnsupportedError, match="tokenizer"):
            model.translate("Hallo")
        with pytest.raises(TypeError, match="unknown translate option"):
            model.translate_tokens([[5, 0]], beams=2)
    with tfm.Model.load(golden("gpt2", "tiny")) as model:
        with pytest.raises(tfm.InvalidArgumentError):
            model.translate_tokens([[5, 0]])


def test_translate_text_equals_tfm(tfm_tool):
    """Text translation with a folder that has SentencePiece models: the
    bundled models/de-en or $TFM_TRANSLATE_MODEL (skips without one)."""
    import os
    from conftest import ROOT
    path = os.environ.get("TFM_TRANSLATE_MODEL") or os.path.join(ROOT, "models", "de-en")
    if not os.path.isfile(os.path.join(path, "source.spm")):
        pytest.skip("no translation model with SentencePiece files (%s)" % path)
    texts = ["Das Haus ist klein.", "Ich habe einen Hund."]
    want = json.loads(run_tool(tfm_tool, "translate", path, *texts, "--json"))["translations"]
    with tfm.Model.load(path) as model:
        got = model.translate(texts)
        assert [g.text for g in got] == [w["translation"] for w in want]
        assert [g.ids for g in got] == [w["ids"] for w in want]
        one = model.translate(texts[0], attention=True)
        assert one.text == got[0].text and one.attention.shape == (len(one.ids), len(one.src_ids))
