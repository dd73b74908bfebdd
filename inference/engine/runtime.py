"""Serving: load an artifact into a thread-safe ``Predictor``; the same predict path serves evaluation.

Inputs are tokenised once, sorted by length and run in dynamically padded chunks, then answers are
put back in input order. Extraction labels words by their first sub-word and turns word tags into
character spans with ``words.tags_to_spans`` (the one place spans and tags meet).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load_file
from torch import nn

from . import artifact as _artifact
from . import basemodels
from .basemodels import TaskModel
from .words import tags_to_spans, word_offsets

if TYPE_CHECKING:
    from .training import TrainedModel

logger = logging.getLogger("scalpel.engine.runtime")

DEFAULT_TOP_K = 5
BATCH_SIZE = 32


def tag_names(entity_types: list[str]) -> list[str]:
    """IOB2 tag set for entity types: O, then B-/I- per type in label order."""
    return ["O"] + [f"{p}-{t}" for t in entity_types for p in ("B", "I")]


@dataclass
class Segment:
    """A window of one input that fits the model: ids plus, for extraction, the word index of each id."""

    item: int
    input_ids: list[int]
    word_ids: list[int | None] | None = None


def encode_texts(tokenizer, texts: list[str], max_length: int) -> list[Segment]:
    """One truncated segment per text (sequence tasks)."""
    enc = tokenizer(list(texts), truncation=True, max_length=max_length)
    return [Segment(i, ids) for i, ids in enumerate(enc["input_ids"])]


def encode_words(tokenizer, words: list[list[str]], max_length: int) -> list[Segment]:
    """Segments of pre-split words; a text longer than ``max_length`` sub-words is cut into several
    windows at word boundaries so that every word gets a prediction."""
    segments: list[Segment] = []
    items = [i for i, w in enumerate(words) if w]  # a text without words needs no model call
    if not items:
        return segments
    enc = tokenizer([words[i] for i in items], is_split_into_words=True, truncation=False)
    budget = max(max_length - 2, 8)
    for row, ids in enumerate(enc["input_ids"]):
        i, wids = items[row], enc.word_ids(row)
        body = [k for k, w in enumerate(wids) if w is not None]
        if not body:
            segments.append(Segment(i, list(ids), list(wids)))
            continue
        prefix, suffix = ids[: body[0]], ids[body[-1] + 1 :]
        start = body[0]
        end_body = body[-1] + 1
        while start < end_body:
            stop = min(start + budget, end_body)
            # Back off to a word start so a word is never split across windows (unless it alone is too long).
            if stop < end_body:
                cut = stop
                while cut > start + 1 and wids[cut] == wids[cut - 1]:
                    cut -= 1
                if cut > start + 1:
                    stop = cut
            segments.append(
                Segment(
                    i,
                    prefix + ids[start:stop] + suffix,
                    [None] * len(prefix) + wids[start:stop] + [None] * len(suffix),
                )
            )
            start = stop
    return segments


def length_chunks(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices sorted by length, cut into chunks: padding stays minimal."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[k : k + batch_size] for k in range(0, len(order), batch_size)]


def pad(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists to the longest one; returns (input_ids, attention_mask)."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask


def param_bytes(params) -> int:
    """Bytes held by a collection of tensors, each counted once."""
    seen, total = set(), 0
    for p in params:
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel() * p.element_size()
    return total


_lock_guard = threading.Lock()


def _tokenizer_lock(tokenizer) -> threading.Lock:
    """One lock per tokenizer object: head versions share the base's tokenizer across predictors."""
    with _lock_guard:
        lock = getattr(tokenizer, "_scalpel_lock", None)
        if lock is None:
            lock = threading.Lock()
            with contextlib.suppress(AttributeError):
                tokenizer._scalpel_lock = lock
        return lock


class Predictor:
    """A trained model ready to answer; ``predict`` is safe to call from many threads at once."""

    def __init__(
        self,
        *,
        task: str,
        labels: list[str],
        method: str,
        model: TaskModel,
        tokenizer,
        max_length: int,
        threshold: float | None = None,
        private_bytes: int | None = None,
    ):
        self.task = task
        self.labels = list(labels)
        self.method = method
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        self.threshold = 0.5 if threshold is None else float(threshold)
        self.tags = tag_names(self.labels) if task == "extraction" else None
        self._private_bytes = private_bytes
        # Fast tokenizers are Rust objects that raise "Already borrowed" when two threads use one at once.
        self._tokenizer_lock = _tokenizer_lock(tokenizer)
        self._pad_id = tokenizer.pad_token_id or 0
        # Rows per forward call; 1 means every text runs alone (no padding, no neighbours).
        self.batch_size = BATCH_SIZE
        self.runtime = "torch"

    def memory_bytes(self) -> int:
        """Approximate bytes of parameters held by this predictor alone (a shared base is not counted)."""
        if self._private_bytes is not None:
            return self._private_bytes
        return param_bytes(list(self.model.parameters()) + list(self.model.buffers()))

    # -- raw scores -------------------------------------------------------------------------------

    def _logits(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The backend: (batch, labels) or (batch, tokens, tags) logits. Subclasses run other engines."""
        return self.model(ids, mask)

    def _forward(self, segments: list[Segment]) -> list[torch.Tensor]:
        """Probabilities per segment (softmax/sigmoid), computed in length-sorted chunks."""
        out: list[torch.Tensor | None] = [None] * len(segments)
        for chunk in length_chunks([len(s.input_ids) for s in segments], self.batch_size):
            for i, p in zip(chunk, self._chunk_probs([segments[i] for i in chunk]), strict=True):
                out[i] = p
        return out  # type: ignore[return-value]

    def _chunk_probs(self, segments: list[Segment]) -> list[torch.Tensor]:
        """Probabilities of one padded batch: a row per sequence, or per token for extraction."""
        with torch.inference_mode():
            ids, mask = pad([s.input_ids for s in segments], self._pad_id)
            logits = self._logits(ids, mask).float()
            probs = torch.sigmoid(logits) if self.task == "multilabel" else torch.softmax(logits, dim=-1)
            if self.task == "extraction":
                return [probs[row, : int(mask[row].sum())] for row in range(len(segments))]
            return list(probs)

    def sequence_probs(self, texts: list[str]) -> torch.Tensor:
        """(n_texts, n_labels) label probabilities for classification/multilabel."""
        if not texts:
            return torch.zeros((0, len(self.labels)))
        with self._tokenizer_lock:
            segments = encode_texts(self.tokenizer, texts, self.max_length)
        return torch.stack(self._forward(segments))

    def word_probs(self, texts: list[str], tokens: list[list[str]] | None) -> list[tuple[list, torch.Tensor]]:
        """Per text: (word offsets, (n_words, n_tags) tag probabilities from each word's first sub-word)."""
        offsets = [word_offsets(t, tokens[i] if tokens is not None else None) for i, t in enumerate(texts)]
        words = [[t[s:e] for s, e in offs] for t, offs in zip(texts, offsets, strict=True)]
        with self._tokenizer_lock:
            segments = encode_words(self.tokenizer, words, self.max_length)
        probs = self._forward(segments) if segments else []
        result = []
        for offs in offsets:
            empty = torch.zeros((len(offs), len(self.tags)))
            empty[:, 0] = 1.0  # a word the model never saw (no sub-words) is outside any entity
            result.append((offs, empty))
        for seg, p in zip(segments, probs, strict=True):
            table = result[seg.item][1]
            previous = None
            for pos, w in enumerate(seg.word_ids):
                if w is not None and w != previous:
                    table[w] = p[pos]
                previous = w
        return result

    # -- answers ----------------------------------------------------------------------------------

    def predict(
        self, texts: list[str], *, top_k: int | None = None, tokens: list[list[str]] | None = None
    ) -> list[dict]:
        """Answers in input order; ``tokens`` (extraction) gives each text's words when pre-tokenised."""
        texts = list(texts)
        return self.answers(texts, self.scores(texts, tokens), top_k=top_k)

    def scores(self, texts: list[str], tokens: list[list[str]] | None = None):
        """Raw scores for ``texts``: a (n, labels) tensor, or per text (word offsets, tag probabilities).

        Rows belong to texts one to one, so scores of several requests can be computed together
        (micro-batching) and split again before ``answers`` shapes each request.
        """
        if tokens is not None and len(tokens) != len(texts):
            raise ValueError(f"got {len(tokens)} token lists for {len(texts)} texts")
        if self.task == "extraction":
            return self.word_probs(texts, tokens)
        return self.sequence_probs(texts)

    def answers(self, texts: list[str], scores, *, top_k: int | None = None) -> list[dict]:
        """Shape raw ``scores`` (from ``scores``) into the API's answers, in input order."""
        if self.task == "extraction":
            return [self._entities(text, offs, p) for text, (offs, p) in zip(texts, scores, strict=True)]
        k = DEFAULT_TOP_K if top_k is None else max(int(top_k), 1)
        answers = []
        for row in scores.tolist():
            ranked = sorted(zip(self.labels, row, strict=True), key=lambda x: -x[1])
            if self.task == "classification":
                answers.append(
                    {
                        "label": ranked[0][0],
                        "score": ranked[0][1],
                        "labels": [{"label": lab, "score": s} for lab, s in ranked[:k]],
                    }
                )
            else:
                chosen = [{"label": lab, "score": s} for lab, s in ranked if s >= self.threshold]
                if top_k is not None:
                    chosen = chosen[:k]
                answers.append({"labels": chosen, "scores": dict(zip(self.labels, row, strict=True))})
        return answers

    def _entities(self, text: str, offsets: list[tuple[int, int]], probs: torch.Tensor) -> dict:
        """Character spans from the argmax tag of each word; score = mean probability of the span's words."""
        if not offsets:
            return {"entities": []}
        best, idx = probs.max(dim=-1)
        tags = [self.tags[i] for i in idx.tolist()]
        entities = []
        for span in tags_to_spans(offsets, tags):
            inside = [k for k, (s, e) in enumerate(offsets) if s >= span.start and e <= span.end]
            score = float(best[inside].mean()) if inside else 0.0
            entities.append(
                {
                    "start": span.start,
                    "end": span.end,
                    "label": span.label,
                    "text": text[span.start : span.end],
                    "score": score,
                }
            )
        return {"entities": entities}


class OnnxPredictor(Predictor):
    """A Predictor whose forward pass is an onnxruntime session; every answer is shaped by Predictor.

    ``head`` set: the session is the process-wide shared base encoder (``pooled`` or ``hidden``
    states) and this version's own linear head runs in torch on its output. int8 graphs run one
    text per call (see ``onnx_export``), so an answer never depends on its batch neighbours.
    """

    def __init__(self, *, session, output: str, int8: bool, head: nn.Module | None = None, **kwargs):
        super().__init__(model=None, **kwargs)
        self.session, self.output, self.head = session, output, head
        self.runtime = "onnx-int8" if int8 else "onnx"
        if int8:
            self.batch_size = 1

    def _forward(self, segments: list[Segment]) -> list[torch.Tensor]:
        if self.batch_size != 1 or len(segments) < 2:
            return super()._forward(segments)
        # int8 runs text by text on single-threaded sessions: spread the texts over the cores.
        from .onnx_export import row_pool

        return list(row_pool().map(lambda seg: self._chunk_probs([seg])[0], segments))

    def _logits(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        from .onnx_export import as_numpy

        out = torch.from_numpy(self.session.run([self.output], as_numpy(ids, mask))[0])
        return self.head(out) if self.head is not None else out


# -- loading ---------------------------------------------------------------------------------------

_bases: dict[tuple[str, str], tuple[nn.Module, object]] = {}
_bases_lock = threading.Lock()


def shared_base(base_model_dir: str, expected_fingerprint: str | None = None) -> tuple[nn.Module, object]:
    """The process-wide frozen (encoder, tokenizer) for a base dir, loaded once and shared by predictors."""
    fp = basemodels.fingerprint(base_model_dir)
    if expected_fingerprint and fp != expected_fingerprint:
        raise _artifact.ArtifactError(
            f"base model in {base_model_dir} (fingerprint {fp[:12]}) is not the one this model was "
            f"trained on (fingerprint {expected_fingerprint[:12]})"
        )
    key = (str(Path(base_model_dir).resolve()), fp)
    with _bases_lock:
        if key not in _bases:
            encoder = basemodels.load_encoder(base_model_dir).eval()
            for p in encoder.parameters():
                p.requires_grad_(False)
            _bases[key] = (encoder, basemodels.load_tokenizer(base_model_dir))
        return _bases[key]


def shared_base_count() -> int:
    """Shared torch base encoders loaded in this process (LoRA and torch-served head versions)."""
    with _bases_lock:
        return len(_bases)


def twin_sharing_weights(encoder: nn.Module) -> nn.Module:
    """A structural copy of ``encoder`` whose parameters and buffers are the very same tensors.

    LoRA injects wrapper modules into the copy without touching the shared weights, so many tenants'
    adapters can sit on one base in memory.
    """
    memo = {id(t): t for t in list(encoder.parameters()) + list(encoder.buffers())}
    return copy.deepcopy(encoder, memo)


def _head_state(path: Path) -> dict:
    state = load_file(str(path))
    return {"weight": state["weight"], "bias": state["bias"]}


def _head_into(model: TaskModel, path: Path) -> None:
    model.head.load_state_dict(_head_state(path))


_tokenizers: dict[tuple[str, str], object] = {}
_hidden: dict[str, int] = {}


def shared_base_tokenizer(base_model_dir: str, expected_fingerprint: str | None = None):
    """(fingerprint, tokenizer) of a base dir, loaded once per process, without loading its weights."""
    fp = basemodels.fingerprint(base_model_dir)
    if expected_fingerprint and fp != expected_fingerprint:
        raise _artifact.ArtifactError(
            f"base model in {base_model_dir} (fingerprint {fp[:12]}) is not the one this model was "
            f"trained on (fingerprint {expected_fingerprint[:12]})"
        )
    key = (str(Path(base_model_dir).resolve()), fp)
    with _bases_lock:
        if key not in _tokenizers:
            _tokenizers[key] = basemodels.load_tokenizer(base_model_dir)
        return fp, _tokenizers[key]


def _hidden_size(base_model_dir: str) -> int:
    if base_model_dir not in _hidden:
        config = json.loads((Path(base_model_dir) / "config.json").read_text())
        _hidden[base_model_dir] = int(config.get("hidden_size") or config.get("dim"))
    return _hidden[base_model_dir]


def load(
    directory: str,
    *,
    base_model_dir: str | None = None,
    verify_checksums: bool = True,
    runtime: str | None = None,
    onnx_cache_dir: str | None = None,
) -> Predictor:
    """Load an artifact written by ``artifact.save``; only files listed in its manifest are read.

    The runtime recorded in the manifest (``onnx-int8``, ``onnx`` or ``torch``; older artifacts have
    none and are torch) is used unless ``runtime`` overrides it; torch is the fallback when
    onnxruntime is not installed.
    """
    root = Path(directory)
    manifest = _artifact.load_manifest(directory)
    if verify_checksums:
        _artifact.verify(directory)
    files = manifest["files"]

    def path(name: str) -> Path:
        if name not in files:
            raise _artifact.ArtifactError(f"artifact {directory} lacks {name} in its manifest")
        return root / name

    task, labels, method = manifest["task"], manifest["labels"], manifest["method"]
    num_outputs = len(tag_names(labels)) if task == "extraction" else len(labels)
    token_level = task == "extraction"
    chosen = runtime or (manifest.get("runtime") or {}).get("name") or "torch"
    if chosen in ("onnx", "onnx-int8"):
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            logger.warning("onnxruntime is not installed: serving %s with torch", directory)
            chosen = "torch"
    if chosen in ("onnx", "onnx-int8"):
        common = {
            "task": task,
            "labels": labels,
            "method": method,
            "max_length": manifest["max_length"],
            "threshold": manifest.get("threshold"),
        }
        int8 = chosen == "onnx-int8"
        if method == "full":
            from .onnx_export import MODEL_FP32, MODEL_INT8, int8_session, session

            graph = path(MODEL_INT8 if int8 else MODEL_FP32)
            return OnnxPredictor(
                session=int8_session(graph) if int8 else session(graph),
                output="token_logits" if token_level else "logits",
                int8=int8,
                tokenizer=basemodels.load_tokenizer(str(path(_artifact.TOKENIZER_FILE).parent)),
                private_bytes=graph.stat().st_size,
                **common,
            )
        if method == "head":
            from .onnx_export import shared_encoder

            base_dir = base_model_dir or _default_base_for(manifest)
            _, base_tokenizer = shared_base_tokenizer(base_dir, manifest["base_model"].get("fingerprint"))
            head = nn.Linear(_hidden_size(base_dir), num_outputs)
            head.load_state_dict(_head_state(path(_artifact.HEAD_FILE)))
            head.eval().requires_grad_(False)
            return OnnxPredictor(
                session=shared_encoder(base_dir, "int8" if int8 else "fp32", onnx_cache_dir),
                output="hidden" if token_level else "pooled",
                int8=int8,
                head=head,
                tokenizer=base_tokenizer,
                private_bytes=param_bytes(head.parameters()),
                **common,
            )
        raise _artifact.ArtifactError(f"runtime {chosen!r} does not serve method {method!r} ({directory})")
    if method == "full":
        encoder = basemodels.encoder_from_config(str(path(_artifact.CONFIG_FILE).parent))
        encoder.load_state_dict(load_file(str(path(_artifact.MODEL_FILE))))
        tokenizer = basemodels.load_tokenizer(str(path(_artifact.TOKENIZER_FILE).parent))
        model = TaskModel(encoder, num_outputs, token_level=token_level)
        _head_into(model, path(_artifact.HEAD_FILE))
        private = None
    else:
        base_dir = base_model_dir or _default_base_for(manifest)
        base, base_tokenizer = shared_base(base_dir, manifest["base_model"].get("fingerprint"))
        if method == "lora":
            from peft import LoraConfig, inject_adapter_in_model, set_peft_model_state_dict

            encoder = twin_sharing_weights(base)
            config = LoraConfig.from_pretrained(str(path(_artifact.ADAPTER_CONFIG_FILE).parent))
            inject_adapter_in_model(config, encoder)
            result = set_peft_model_state_dict(encoder, load_file(str(path(_artifact.ADAPTER_FILE))))
            if getattr(result, "unexpected_keys", None):
                raise _artifact.ArtifactError(f"adapter in {directory} does not fit the base model")
            tokenizer = basemodels.load_tokenizer(str(path(_artifact.TOKENIZER_FILE).parent))
        elif method == "head":
            encoder, tokenizer = base, base_tokenizer
        else:
            raise _artifact.ArtifactError(f"unknown method {method!r} in {directory}/manifest.json")
        model = TaskModel(encoder, num_outputs, token_level=token_level)
        _head_into(model, path(_artifact.HEAD_FILE))
        private = private_param_bytes(model, method)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return Predictor(
        task=task,
        labels=labels,
        method=method,
        model=model,
        tokenizer=tokenizer,
        max_length=manifest["max_length"],
        threshold=manifest.get("threshold"),
        private_bytes=private,
    )


def _default_base_for(manifest: dict) -> str:
    base_id = manifest["base_model"].get("id")
    if base_id != basemodels.DEFAULT_BASE_MODEL_ID:
        raise _artifact.ArtifactError(f"model needs base model {base_id!r}: pass base_model_dir")
    return basemodels.default_base_model_dir()


def private_param_bytes(model: TaskModel, method: str) -> int:
    """Bytes of the parameters specific to one trained model: all of them for full, else adapter + head."""
    if method == "full":
        return param_bytes(list(model.parameters()) + list(model.buffers()))
    own = [p for n, p in model.named_parameters() if n.startswith("head.") or "lora_" in n]
    return param_bytes(own)


def predictor_from_trained(trained: TrainedModel) -> Predictor:
    """Wrap a freshly trained model; evaluation uses this so it answers exactly as serving will."""
    trained.model.eval()
    return Predictor(
        task=trained.task,
        labels=trained.labels,
        method=trained.method,
        model=trained.model,
        tokenizer=trained.tokenizer,
        max_length=trained.max_length,
        threshold=trained.threshold,
        private_bytes=private_param_bytes(trained.model, trained.method),
    )
