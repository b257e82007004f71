"""A tiny random-init BERT and WordPiece tokenizer written to disk: no downloads."""
from __future__ import annotations

from pathlib import Path

from mhexplain.classifiers.bert import BertClassifier, InferenceConfig

from .helpers import CLASS_WORDS, FILLER

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def make_tiny_bert(directory: Path, seed: int = 0) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    words = sorted({w for ws in CLASS_WORDS.values() for w in ws} | set(FILLER) | {"post", "true", "conflict"})
    chars = "abcdefghijklmnopqrstuvwxyz0123456789"
    pieces = sorted(set(chars + ".,!?'&;#") | {"##" + c for c in chars})
    directory.mkdir(parents=True, exist_ok=True)
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(SPECIAL + words + pieces) + "\n")
    tok = BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(SPECIAL) + len(words) + len(pieces), hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=128, num_labels=5)
    BertForSequenceClassification(cfg).save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory


def tiny_classifier(directory: Path, **settings):
    """A CPU, fp32 ``BertClassifier`` on the tiny encoder; ``settings`` go to its InferenceConfig."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(directory, num_labels=5)
    return BertClassifier(model, AutoTokenizer.from_pretrained(directory),
                          config=InferenceConfig(precision="fp32", **settings), device="cpu")
