"""Session fixtures: tiny tokenizers and LLMs built once, through save/from_pretrained."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def bpe_tok(tmp_path_factory):
    from svtk.testing.decoding import tiny_tokenizer

    return tiny_tokenizer("bpe", tmp_path_factory.mktemp("bpe"))


@pytest.fixture(scope="session")
def uni_tok(tmp_path_factory):
    from svtk.testing.decoding import tiny_tokenizer

    return tiny_tokenizer("unigram", tmp_path_factory.mktemp("unigram"))


@pytest.fixture(scope="session", params=["bpe", "unigram"])
def tok(request, bpe_tok, uni_tok):
    return bpe_tok if request.param == "bpe" else uni_tok


@pytest.fixture(scope="session")
def llama(tmp_path_factory, bpe_tok):
    from svtk.testing.decoding import tiny_llm

    return tiny_llm("llama", bpe_tok, tmp_path_factory.mktemp("llama"))


@pytest.fixture(scope="session")
def qwen(tmp_path_factory, bpe_tok):
    from svtk.testing.decoding import tiny_llm

    return tiny_llm("qwen2", bpe_tok, tmp_path_factory.mktemp("qwen2"))


@pytest.fixture(scope="session")
def t5(tmp_path_factory, uni_tok):
    from svtk.testing.decoding import tiny_llm

    return tiny_llm("t5", uni_tok, tmp_path_factory.mktemp("t5"))
