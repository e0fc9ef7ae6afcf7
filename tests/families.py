"""Tiny offline models of each tokenizer family, with real tokenizers built by the `tokenizers` library.

Each builder writes tokenizer.json (the family's model type, normalizer, pre-tokenizer, decoder,
post-processor and added tokens), tokenizer_config.json (the family's tokenizer_class and special
tokens) and a tiny random model of the matching architecture, as the hub's folders hold them.
BPE vocabularies are assembled: every listed piece gets a chain of merges that builds it left
to right, so each listed piece is in the vocabulary whatever a trainer would have picked.
Every vocabulary holds a Cyrillic word, a number, a preposition with and without the word-start
marker, and special tokens; the byte-level and byte-fallback ones hold bytes that are not whole
characters.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

HIDDEN = 8
POSITIONS = 32

# Pieces of the byte-level and BPE families, as text: " x" begins a word.
WORDS = [" the", " of", "of", " мир", "мир", " world", " river", " bank", " account", " and", " welcome",
         " hello", "ing", " into", " 1990", "42", " 你好", "ten"]  # fmt: skip
# Sentences the tiny tokenizers cut into known pieces (and a few bytes).
SENTENCES = ["the river bank of мир", "hello world and welcome", "the bank account 1990"]


def _save(folder: Path, tokenizer: object, config: dict, model: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")
    model.save_pretrained(folder)
    return folder


def _chains(pieces: list[str], vocab: dict[str, int]) -> list[tuple[str, str]]:
    """Merges that build each piece from its characters left to right; every prefix joins `vocab`."""
    merges: list[tuple[str, str]] = []
    for piece in pieces:
        for ch in piece:
            vocab.setdefault(ch, len(vocab))
        for end in range(2, len(piece) + 1):
            if piece[:end] not in vocab:
                vocab[piece[:end]] = len(vocab)
                merges.append((piece[: end - 1], piece[end - 1]))
    return merges


def _byte_level(text: str) -> str:
    from tokenizers.pre_tokenizers import ByteLevel

    return "".join(part for part, _ in ByteLevel(add_prefix_space=False, use_regex=False).pre_tokenize_str(text))


def _byte_level_bpe(head: list[str], pieces: list[str] = WORDS) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """`head` tokens, the 256 byte characters, then `pieces` in byte-level spelling with their merges."""
    from tokenizers.pre_tokenizers import ByteLevel

    vocab = {t: i for i, t in enumerate(head)}
    for ch in sorted(ByteLevel.alphabet()):
        vocab.setdefault(ch, len(vocab))
    return vocab, _chains([_byte_level(p) for p in pieces], vocab)


def _added(tokenizer: object, specials: list[str]) -> None:
    from tokenizers import AddedToken

    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])


def _decoder_config(tokenizer: object) -> dict:
    """tokenizer_config.json's added_tokens_decoder, as transformers writes it."""
    added = json.loads(tokenizer.to_str())["added_tokens"]
    keys = ("content", "lstrip", "normalized", "rstrip", "single_word", "special")
    return {str(t["id"]): {k: t[k] for k in keys} for t in added}


def build_gpt2(folder: Path) -> Path:
    """GPT-2: byte-level BPE, `<|endoftext|>` as BOS, EOS and UNK, no padding token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import GPT2Config, GPT2Model

    vocab, merges = _byte_level_bpe([])
    tokenizer = Tokenizer(models.BPE(vocab, merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    tokenizer.decoder = decoders.ByteLevel()
    _added(tokenizer, ["<|endoftext|>"])
    eot = "<|endoftext|>"
    config = {
        "tokenizer_class": "GPT2Tokenizer",
        "bos_token": eot,
        "eos_token": eot,
        "unk_token": eot,
        "model_max_length": POSITIONS,
        "add_prefix_space": False,
    }
    eos = tokenizer.token_to_id(eot)
    model = GPT2Model(
        GPT2Config(
            vocab_size=tokenizer.get_vocab_size(),
            n_embd=HIDDEN,
            n_layer=1,
            n_head=2,
            n_positions=POSITIONS,
            bos_token_id=eos,
            eos_token_id=eos,
        )
    )
    return _save(folder, tokenizer, config, model)


def build_roberta(folder: Path) -> Path:
    """RoBERTa: GPT-2's byte-level BPE with `<s>`, `<pad>`, `</s>`, `<unk>` first and `<mask>` last."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import RobertaConfig, RobertaModel

    head = ["<s>", "<pad>", "</s>", "<unk>"]
    vocab, merges = _byte_level_bpe(head)
    tokenizer = Tokenizer(models.BPE(vocab, merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True)
    tokenizer.decoder = decoders.ByteLevel()
    _added(tokenizer, head)
    tokenizer.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    config = {
        "tokenizer_class": "RobertaTokenizer",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
        "model_max_length": POSITIONS - 2,
        "add_prefix_space": False,
    }
    model = RobertaModel(
        RobertaConfig(
            vocab_size=tokenizer.get_vocab_size(),
            hidden_size=HIDDEN,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=16,
            max_position_embeddings=POSITIONS + 2,
            pad_token_id=1,
            bos_token_id=0,
            eos_token_id=2,
            type_vocab_size=1,
        )
    )
    return _save(folder, tokenizer, config, model)


# Llama-3's pre-tokenizer split: contractions, letters with one leading non-letter, digits in threes.
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                   "<|reserved_special_token_1|>", "<|start_header_id|>", "<|end_header_id|>",
                   "<|reserved_special_token_2|>", "<|eot_id|>"]  # fmt: skip


def llama3_tokenizer(pieces: list[str] = WORDS) -> object:
    """Llama-3's tokenizer: byte-level BPE after a regex split, `<|...|>` added specials."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors

    vocab, merges = _byte_level_bpe([], pieces)
    tokenizer = Tokenizer(models.BPE(vocab, merges, ignore_merges=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
        ]
    )
    bos = LLAMA3_SPECIALS[0]
    tokenizer.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, len(vocab))]
            ),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    _added(tokenizer, LLAMA3_SPECIALS)
    return tokenizer


def build_llama3(folder: Path) -> Path:
    """Llama-3: byte-level BPE with 8 `<|...|>` specials, all `special: true`, and no padding token."""
    from transformers import LlamaModel

    tokenizer = llama3_tokenizer()
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": LLAMA3_SPECIALS[0],
        "eos_token": LLAMA3_SPECIALS[1],
        "model_max_length": POSITIONS,
        "added_tokens_decoder": _decoder_config(tokenizer),
    }
    return _save(folder, tokenizer, config, LlamaModel(_llama_config(tokenizer, LLAMA3_SPECIALS[:2])))


def _llama_config(tokenizer: object, bos_eos: list[str]) -> object:
    from transformers import LlamaConfig

    bos, eos = (tokenizer.token_to_id(t) for t in bos_eos)
    return LlamaConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=HIDDEN,
        intermediate_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=POSITIONS,
        bos_token_id=bos,
        eos_token_id=eos,
    )


def build_llama2(folder: Path) -> Path:
    """Llama-2: SentencePiece BPE written as tokenizer.json (spaces become `▁` in the normalizer),
    the 256 `<0xNN>` byte-fallback pieces after `<unk>`, `<s>`, `</s>`; a LlamaForCausalLM."""
    from tokenizers import Tokenizer, decoders, models, normalizers, processors
    from transformers import LlamaForCausalLM

    head = ["<unk>", "<s>", "</s>", *(f"<0x{b:02X}>" for b in range(256))]
    vocab = {t: i for i, t in enumerate(head)}
    merges = _chains([w.replace(" ", "▁") for w in WORDS if "你" not in w], vocab)
    tokenizer = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)]
    )
    tokenizer.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    _added(tokenizer, head[:3])
    config = {
        "tokenizer_class": "LlamaTokenizer",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "add_bos_token": True,
        "add_eos_token": False,
        "legacy": False,
        "model_max_length": POSITIONS,
    }
    return _save(folder, tokenizer, config, LlamaForCausalLM(_llama_config(tokenizer, ["<s>", "</s>"])))


def _unigram(head: list[str], unk: str) -> tuple[list[tuple[str, float]], int]:
    """A Unigram vocabulary: `head`, `▁`, every character, then the words as SentencePiece spells them."""
    words = [w.replace(" ", "▁") for w in WORDS if "你" not in w]
    chars = sorted({ch for w in words for ch in w} - {"▁"})
    scored = [(t, 0.0) for t in head] + [("▁", -2.0)] + [(ch, -5.0) for ch in chars]
    scored += [(w, -1.0) for w in words]
    return scored, head.index(unk)


def _sentencepiece_pipeline(tokenizer: object) -> None:
    from tokenizers import Regex, decoders, normalizers, pre_tokenizers

    tokenizer.normalizer = normalizers.Sequence([normalizers.Replace(Regex(" {2,}"), " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")


def build_t5(folder: Path) -> Path:
    """T5: Unigram with Metaspace, `</s>` after every text, no byte fallback; a T5 encoder-decoder."""
    from tokenizers import Tokenizer, models, processors
    from transformers import T5Config, T5Model

    head = ["<pad>", "</s>", "<unk>"]
    vocab, unk_id = _unigram(head, "<unk>")
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=unk_id, byte_fallback=False))
    _sentencepiece_pipeline(tokenizer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    _added(tokenizer, head)
    config = {
        "tokenizer_class": "T5Tokenizer",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "extra_ids": 0,
        "model_max_length": POSITIONS,
    }
    model = T5Model(
        T5Config(
            vocab_size=len(vocab),
            d_model=HIDDEN,
            d_kv=4,
            d_ff=16,
            num_layers=1,
            num_decoder_layers=1,
            num_heads=2,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
    )
    return _save(folder, tokenizer, config, model)


# Rows past the tokenizer's vocabulary, as in T5's hub checkpoints (32,128 rows for 32,100 tokens).
PADDED_ROWS = 5


def build_t5_encoder(folder: Path) -> Path:
    """A T5 encoder-only checkpoint (`T5EncoderModel`, `is_encoder_decoder: false`), its table padded
    past the vocabulary; T5's tokenizer."""
    from tokenizers import Tokenizer, models, processors
    from transformers import T5Config, T5EncoderModel

    head = ["<pad>", "</s>", "<unk>"]
    vocab, unk_id = _unigram(head, "<unk>")
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=unk_id, byte_fallback=False))
    _sentencepiece_pipeline(tokenizer)
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    _added(tokenizer, head)
    config = {"tokenizer_class": "T5Tokenizer", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
              "extra_ids": 0, "model_max_length": POSITIONS}  # fmt: skip
    t5 = T5Config(vocab_size=len(vocab) + PADDED_ROWS, d_model=HIDDEN, d_kv=4, d_ff=16, num_layers=1, num_heads=2,
                  pad_token_id=0, eos_token_id=1, is_encoder_decoder=False, use_cache=False)  # fmt: skip
    return _save(folder, tokenizer, config, T5EncoderModel(t5))


def build_llama2_metaspace(folder: Path) -> Path:
    """Llama-2 as newer transformers write it: a Metaspace pre-tokenizer with `prepend_scheme: first`
    and `split: false` (no normalizer), so `word_ids()` calls a whole sentence one word."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import LlamaModel

    head = ["<unk>", "<s>", "</s>", *(f"<0x{b:02X}>" for b in range(256))]
    vocab = {t: i for i, t in enumerate(head)}
    merges = _chains([w.replace(" ", "▁") for w in WORDS if "你" not in w], vocab)
    tokenizer = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    _added(tokenizer, head[:3])
    config = {"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
              "add_bos_token": True, "legacy": False, "model_max_length": POSITIONS}  # fmt: skip
    return _save(folder, tokenizer, config, LlamaModel(_llama_config(tokenizer, ["<s>", "</s>"])))


def build_albert(folder: Path) -> Path:
    """ALBERT: Unigram with Metaspace, `[CLS] ... [SEP]`, and word vectors (4) narrower than its layers (8)."""
    from tokenizers import Tokenizer, models, processors
    from transformers import AlbertConfig, AlbertModel

    head = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
    vocab, unk_id = _unigram(head, "<unk>")
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=unk_id, byte_fallback=False))
    _sentencepiece_pipeline(tokenizer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)],
    )
    _added(tokenizer, head)
    config = {
        "tokenizer_class": "AlbertTokenizer",
        "bos_token": "[CLS]",
        "eos_token": "[SEP]",
        "unk_token": "<unk>",
        "sep_token": "[SEP]",
        "pad_token": "<pad>",
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
        "do_lower_case": True,
        "keep_accents": True,
        "model_max_length": POSITIONS,
    }
    model = AlbertModel(
        AlbertConfig(
            vocab_size=len(vocab),
            embedding_size=4,
            hidden_size=HIDDEN,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=16,
            max_position_embeddings=POSITIONS,
        )
    )
    return _save(folder, tokenizer, config, model)


WORDPIECE_VOCAB = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "of", "##of", "мир", "##ир",
                   "world", "river", "bank", "account", "and", "welcome", "hello", "##w", "##ing", "into", "1990",
                   "42", "м", "и", "р"]  # fmt: skip


def build_bert(folder: Path) -> Path:
    """BERT: WordPiece with `##`, BERT's normalizer and pre-tokenizer, `[CLS] ... [SEP]`."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel

    vocab = {t: i for i, t in enumerate(WORDPIECE_VOCAB)}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 3), ("[SEP]", 4)],
    )
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    _added(tokenizer, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    config = {
        "tokenizer_class": "BertTokenizer",
        "unk_token": "[UNK]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
        "do_lower_case": True,
        "model_max_length": POSITIONS,
    }
    model = BertModel(
        BertConfig(
            vocab_size=len(vocab),
            hidden_size=HIDDEN,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=16,
            max_position_embeddings=POSITIONS,
        )
    )
    return _save(folder, tokenizer, config, model)


def build_mpnet(folder: Path) -> Path:
    """MPNet: BERT's WordPiece vocabulary behind `<s> <pad> </s> <unk>`, `<mask>` last; BERT's own
    `[PAD] [CLS] [SEP] [MASK]` rows are left over in it, listed as special nowhere."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import MPNetConfig, MPNetModel

    head = ["<s>", "<pad>", "</s>", "<unk>"]
    vocab = {t: i for i, t in enumerate([*head, *WORDPIECE_VOCAB, "<mask>"])}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="<unk>", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    _added(tokenizer, [*head, "<mask>"])
    config = {"tokenizer_class": "MPNetTokenizer", "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>",
              "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>",
              "do_lower_case": True, "model_max_length": POSITIONS}  # fmt: skip
    model = MPNetModel(MPNetConfig(vocab_size=len(vocab), hidden_size=HIDDEN, num_hidden_layers=1,
                                   num_attention_heads=2, intermediate_size=16,
                                   max_position_embeddings=POSITIONS + 2, pad_token_id=1))  # fmt: skip
    return _save(folder, tokenizer, config, model)


MODERNBERT_SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
MODERNBERT_UNUSED = ["[unused0]", "[unused1]", "[unused2]"]


def build_modernbert(folder: Path) -> Path:
    """ModernBERT: byte-level BPE where `<|endoftext|>` is a plain vocabulary entry, BERT's special
    tokens added as special and `[unusedN]` added with `special: false`."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import ModernBertConfig, ModernBertModel

    vocab, merges = _byte_level_bpe(["<|endoftext|>"])
    tokenizer = Tokenizer(models.BPE(vocab, merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    _added(tokenizer, MODERNBERT_SPECIALS)
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in MODERNBERT_UNUSED])
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]", "cls_token": "[CLS]",
              "sep_token": "[SEP]", "pad_token": "[PAD]", "mask_token": "[MASK]", "model_max_length": POSITIONS,
              "added_tokens_decoder": _decoder_config(tokenizer)}  # fmt: skip
    pad = tokenizer.token_to_id("[PAD]")
    model = ModernBertModel(ModernBertConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=HIDDEN,
                                             intermediate_size=16, num_hidden_layers=1, num_attention_heads=2,
                                             max_position_embeddings=POSITIONS, pad_token_id=pad,
                                             cls_token_id=cls, sep_token_id=sep, bos_token_id=cls,
                                             eos_token_id=sep))  # fmt: skip
    return _save(folder, tokenizer, config, model)


def build_sentence_transformers_old(folder: Path) -> Path:
    """A sentence-transformers folder in the old layout: modules.json at the top, the BERT in `0_Transformer/`."""
    build_bert(folder / "0_Transformer")
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": HIDDEN}))
    modules = [
        {"idx": 0, "name": "0", "path": "0_Transformer", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules, indent=2))
    return folder


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "gpt2": build_gpt2,
    "roberta": build_roberta,
    "llama2": build_llama2,
    "t5": build_t5,
    "llama3": build_llama3,
    "albert": build_albert,
    "bert": build_bert,
    "st-old": build_sentence_transformers_old,
    "t5-encoder": build_t5_encoder,
    "llama2-metaspace": build_llama2_metaspace,
    "mpnet": build_mpnet,
    "modernbert": build_modernbert,
}


def build_all(root: Path, seed: int = 0) -> dict[str, Path]:
    """Every family under `root`, one folder each."""
    import torch

    torch.manual_seed(seed)
    return {name: build(root / name) for name, build in BUILDERS.items()}


def synthetic_pieces(count: int) -> list[str]:
    """`count` distinct pieces in a Llama-3-like mix: Latin, Cyrillic and CJK words and digit groups,
    about half of them word-initial (for sizing benchmarks; not a trained vocabulary)."""
    latin = "etaoinshrdlucmfwypvbgkqjxz"
    cyrillic = "оеаинтсрвлкмдпуяыьгзбчйхжшюцщэфъё"
    cjk = [chr(c) for c in range(0x4E00, 0x4E00 + 600)]
    pieces: list[str] = [str(n) for n in range(1000)]
    n = 0
    while len(pieces) < count:
        n += 1
        alphabet = (latin, cyrillic, cjk)[n % 3] if n % 5 else latin
        chars, value = [], n
        while value:
            value, rest = divmod(value, len(alphabet))
            chars.append(alphabet[rest])
        word = "".join(chars)
        pieces.append(" " + word if n % 2 else word)
    return pieces[:count]


def build_llama3_sized(folder: Path, rows: int = 128_256, dim: int = 64) -> Path:
    """A Llama-3-sized folder: 256 bytes and synthetic pieces up to `rows` less 256 `<|...|>` specials,
    Llama-3's tokenizer pipeline, and a one-layer LlamaModel of width `dim`."""
    import torch
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import LlamaModel

    specials = [
        *LLAMA3_SPECIALS,
        *(f"<|reserved_special_token_{i}|>" for i in range(3, 256 - len(LLAMA3_SPECIALS) + 3)),
    ]
    tokenizer = llama3_tokenizer([])
    vocab = json.loads(tokenizer.to_str())["model"]["vocab"]
    vocab = {t: i for t, i in vocab.items() if i < 256}
    for piece in synthetic_pieces(rows - len(specials) - len(ByteLevel.alphabet())):
        vocab.setdefault(_byte_level(piece), len(vocab))
    described = json.loads(tokenizer.to_str())
    described["model"]["vocab"] = vocab
    described["added_tokens"] = [
        {"id": len(vocab) + i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for i, t in enumerate(specials)
    ]  # fmt: skip
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(json.dumps(described))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": LLAMA3_SPECIALS[0],
        "eos_token": LLAMA3_SPECIALS[1],
        "added_tokens_decoder": _decoder_config(tokenizer),
    }
    torch.manual_seed(0)
    llama = _llama_config(tokenizer, LLAMA3_SPECIALS[:2])
    llama.hidden_size, llama.intermediate_size = dim, 2 * dim
    return _save(folder, tokenizer, config, LlamaModel(llama))


XLMR_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def build_xlmr_sized(folder: Path, rows: int = 250_002, dim: int = 768, seed: int = 0) -> Path:
    """An XLM-R-sized folder written as plain files (no torch, no model): a Unigram/Metaspace
    tokenizer.json of `rows` pieces (4 specials, synthetic pieces, `<mask>` last), its config,
    and a safetensors file holding only `embeddings.word_embeddings.weight`, random, written in
    blocks. Enough for the word tensor's direct route, which never loads the model."""
    import struct

    import numpy as np
    from tokenizers import Tokenizer, models

    if (folder / "model.safetensors").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    pieces = [p.replace(" ", "▁") for p in synthetic_pieces(rows - len(XLMR_SPECIALS) - 1)]
    vocab = [(t, 0.0) for t in XLMR_SPECIALS] + [(p, -1.0 - i / rows) for i, p in enumerate(pieces)]
    tokenizer = Tokenizer(models.Unigram([*vocab, ("<mask>", 0.0)], unk_id=3, byte_fallback=False))
    _sentencepiece_pipeline(tokenizer)
    _added(tokenizer, [*XLMR_SPECIALS, "<mask>"])
    tokenizer.save(str(folder / "tokenizer.json"))
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}  # fmt: skip
    config = {"tokenizer_class": "XLMRobertaTokenizer", **specials}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    model = {"model_type": "xlm-roberta", "architectures": ["XLMRobertaModel"], "vocab_size": rows,
             "hidden_size": dim, "num_hidden_layers": 1, "num_attention_heads": 1}  # fmt: skip
    (folder / "config.json").write_text(json.dumps(model, indent=2), encoding="utf-8")
    size = rows * dim * 4
    header = {"embeddings.word_embeddings.weight": {"dtype": "F32", "shape": [rows, dim], "data_offsets": [0, size]}}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    rng = np.random.default_rng(seed)
    partial = folder / "model.safetensors.partial"
    with open(partial, "wb") as out:
        out.write(struct.pack("<Q", len(text)) + text)
        for start in range(0, rows, 16_384):
            block = rng.standard_normal((min(16_384, rows - start), dim), dtype=np.float32)
            out.write((block * 0.05).tobytes())
    partial.replace(folder / "model.safetensors")
    return folder
