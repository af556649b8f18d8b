import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel

from mapper.encoder import PackedLinear, TextEncoder, cpu_has_bf16_matmul, mean_pool, pack_linears


def test_shapes_and_mask(minilm):
    out = minilm.encode(["a cat", "a tabby cat sleeping on the warm windowsill"])
    batch, seq, hidden = out.hidden_states.shape
    assert (batch, hidden) == (2, 384) and minilm.hidden_size == 384
    assert out.attention_mask.shape == (2, seq)
    assert out.attention_mask[1].all() and not out.attention_mask[0].all()
    assert out.attention_mask[0].sum() == 4  # [CLS] a cat [SEP]


def test_long_text_is_truncated(minilm):
    out = minilm.encode(["cat " * 2000])
    assert out.hidden_states.shape[1] == minilm.max_length == 512


def test_padding_does_not_change_states(minilm):
    alone = minilm.encode(["a cat"]).hidden_states[0]
    padded = minilm.encode(["a cat", "a much longer sentence about a cat on a mat"]).hidden_states[0, :4]
    assert torch.allclose(alone, padded, atol=1e-4)


def test_meaning_tabby_closer_to_kitten_than_sports_car(minilm):
    out = minilm.encode(["a tabby cat", "a kitten", "a sports car"])
    tabby, kitten, car = F.normalize(mean_pool(out.hidden_states, out.attention_mask), dim=-1)
    assert tabby @ kitten > tabby @ car + 0.2


def test_missing_folder_and_unknown_id(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        TextEncoder.from_pretrained(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="no-such-org/no-such-encoder"):
        TextEncoder.from_pretrained("no-such-org/no-such-encoder")


def test_packed_linears_give_the_plain_models_states(minilm, minilm_path):
    plain = TextEncoder(minilm.tokenizer, AutoModel.from_pretrained(minilm_path), minilm_path)
    assert not any(isinstance(m, torch.nn.Linear) for m in minilm.model.modules())
    assert sum(isinstance(m, PackedLinear) for m in minilm.model.modules()) == 37  # 6 layers x 6, and the pooler
    texts = ["a cat", "a tabby cat sleeping on the warm windowsill", "cat " * 600]
    for batch in ([texts[0]], texts[:2], [texts[2]]):
        packed, reference = minilm.encode(batch), plain.encode(batch)
        assert torch.equal(packed.attention_mask, reference.attention_mask)
        real = packed.attention_mask.bool()  # padding's states are never read, and differ more (3e-5)
        assert torch.allclose(packed.hidden_states[real], reference.hidden_states[real], atol=1e-5, rtol=0)


BF16_CPU = cpu_has_bf16_matmul()


@pytest.mark.skipif(not BF16_CPU, reason="this CPU has no oneDNN bfloat16 matmul (AVX-512 BF16 / AVX-NE-CONVERT)")
def test_bfloat16_packing_stays_close_but_not_equal(minilm, minilm_path):
    # what bench/encoder_precision.py measures: bfloat16 weights move the states a little, not a lot
    bf16 = TextEncoder(minilm.tokenizer, pack_linears(AutoModel.from_pretrained(minilm_path), torch.bfloat16), minilm_path)
    assert {m.weight.dtype for m in bf16.model.modules() if isinstance(m, PackedLinear)} == {torch.bfloat16}
    batch = ["a cat", "a tabby cat sleeping on the warm windowsill"]
    low, full = bf16.encode(batch), minilm.encode(batch)
    assert low.hidden_states.dtype == torch.float32
    real = full.attention_mask.bool()
    cosine = F.cosine_similarity(low.hidden_states[real], full.hidden_states[real], dim=-1)
    assert cosine.min() > 0.99 and not torch.allclose(low.hidden_states[real], full.hidden_states[real], atol=1e-5)


@pytest.mark.skipif(BF16_CPU or not torch.backends.mkldnn.is_available(), reason="runs only where oneDNN is present without a bfloat16 matmul")
def test_bfloat16_packing_is_refused_where_the_cpu_lacks_it(minilm_path):
    with pytest.raises(RuntimeError, match="no oneDNN bfloat16 matmul"):
        pack_linears(AutoModel.from_pretrained(minilm_path), torch.bfloat16)


def test_the_revision_given_reaches_transformers(minilm_path, monkeypatch):
    """Both the weights and the tokenizer are asked for at that revision of the Hub repo."""
    from mapper import encoder

    asked = []

    def recording(loader):
        load = loader.from_pretrained

        def from_pretrained(name, revision=None):
            asked.append((loader.__name__, name, revision))
            return load(minilm_path)

        return from_pretrained

    for loader in (encoder.AutoModel, encoder.AutoTokenizer):
        monkeypatch.setattr(loader, "from_pretrained", recording(loader))
    TextEncoder.from_pretrained("sentence-transformers/all-MiniLM-L6-v2", revision="0123abc")
    repo = "sentence-transformers/all-MiniLM-L6-v2"
    assert asked == [("AutoModel", repo, "0123abc"), ("AutoTokenizer", repo, "0123abc")]
