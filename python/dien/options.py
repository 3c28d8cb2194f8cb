"""The model options, as the .NET ``CtrModelOptions`` and its ``options.json``."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Optional

EVOLUTION = ("Augru", "AugruAuthorsCode", "Agru", "Aigru", "Gru")
ATTENTION = ("Bilinear", "Mlp")
ATTENTION_NORMALIZATION = ("Softmax", "Sigmoid")
AUXILIARY_LOSS = ("NextBehaviour", "LabelledHistory")
AUXILIARY_SCORER = ("Mlp", "InnerProduct")
HEAD_ACTIVATION = ("PRelu", "Dice")
HEAD_OUTPUT = ("Sigmoid", "Softmax")
EMBEDDING_INIT = ("Normal", "Uniform")


class OptionsError(ValueError):
    """Options that no model can be built from, or that disagree with another side; lists every problem."""

    def __init__(self, errors: List[str]):
        self.errors = list(errors)
        super().__init__(f"Invalid CtrModelOptions ({len(errors)} problem{'s' if len(errors) != 1 else ''}):\n  " + "\n  ".join(errors))


# (python attribute, .NET property, kind) in the .NET declaration order, which is the JSON order.
_SCHEMA = [
    ("item_vocabulary_size", "ItemVocabularySize", "int"),
    ("category_vocabulary_size", "CategoryVocabularySize", "int"),
    ("user_vocabulary_size", "UserVocabularySize", "int"),
    ("extra_field_vocabulary_sizes", "ExtraFieldVocabularySizes", "ints"),
    ("item_embedding_size", "ItemEmbeddingSize", "int"),
    ("category_embedding_size", "CategoryEmbeddingSize", "int"),
    ("user_embedding_size", "UserEmbeddingSize", "int"),
    ("item_max_norm", "ItemMaxNorm", "double?"),
    ("embedding_init", "EmbeddingInit", EMBEDDING_INIT),
    ("embedding_init_scale", "EmbeddingInitScale", "double"),
    ("embedding_l2", "EmbeddingL2", "double"),
    ("use_user_field", "UseUserField", "bool"),
    ("head_sum_terms", "HeadSumTerms", "bool"),
    ("hidden_size", "HiddenSize", "int"),
    ("evolution", "Evolution", EVOLUTION),
    ("attention", "Attention", ATTENTION),
    ("attention_normalization", "AttentionNormalization", ATTENTION_NORMALIZATION),
    ("attention_hidden_sizes", "AttentionHiddenSizes", "ints"),
    ("auxiliary_loss", "AuxiliaryLoss", AUXILIARY_LOSS),
    ("auxiliary_scorer", "AuxiliaryScorer", AUXILIARY_SCORER),
    ("auxiliary_hidden_sizes", "AuxiliaryHiddenSizes", "ints"),
    ("alpha", "Alpha", "double"),
    ("head_hidden_sizes", "HeadHiddenSizes", "ints"),
    ("head_activation", "HeadActivation", HEAD_ACTIVATION),
    ("head_batch_norm", "HeadBatchNorm", "bool"),
    ("head_dropout", "HeadDropout", "double"),
    ("head_output", "HeadOutput", HEAD_OUTPUT),
    ("use_fused_kernels", "UseFusedKernels", "bool"),
]


# The value of every option in the release that wrote each checkpoint format version, as the .NET
# OptionsBaselines table records it: an option a file lacks takes its release's value, never today's default.
_VERSION_1_VALUES: Dict[str, Any] = {
    "ItemVocabularySize": 0, "CategoryVocabularySize": 0, "UserVocabularySize": 0, "ExtraFieldVocabularySizes": [],
    "ItemEmbeddingSize": 18, "CategoryEmbeddingSize": 18, "UserEmbeddingSize": 18, "ItemMaxNorm": None,
    "EmbeddingInit": "Normal", "EmbeddingInitScale": 0.01, "EmbeddingL2": 0.0, "UseUserField": False,
    "HeadSumTerms": True, "HiddenSize": 36, "Evolution": "Augru", "Attention": "Mlp",
    "AttentionNormalization": "Softmax", "AttentionHiddenSizes": [80, 40], "AuxiliaryLoss": "NextBehaviour",
    "AuxiliaryScorer": "Mlp", "AuxiliaryHiddenSizes": [100, 50], "Alpha": 0.0, "HeadHiddenSizes": [200, 80],
    "HeadActivation": "PRelu", "HeadBatchNorm": True, "HeadDropout": 0.0, "HeadOutput": "Sigmoid",
    "UseFusedKernels": True,
}
# Version 2: the same options; Alpha defaults to 1 (the paper's weight) again.
_VERSION_2_VALUES: Dict[str, Any] = {**_VERSION_1_VALUES, "Alpha": 1.0}
RELEASE_VALUES: Dict[int, Dict[str, Any]] = {1: _VERSION_1_VALUES, 2: _VERSION_2_VALUES}


@dataclass
class CtrModelOptions:
    """Everything that shapes a model; the same names (in snake_case), defaults and rules as the .NET ``CtrModelOptions``."""

    item_vocabulary_size: int = 0
    category_vocabulary_size: int = 0
    user_vocabulary_size: int = 0
    extra_field_vocabulary_sizes: List[int] = field(default_factory=list)
    item_embedding_size: int = 18
    category_embedding_size: int = 18
    user_embedding_size: int = 18
    item_max_norm: Optional[float] = None
    embedding_init: str = "Normal"
    embedding_init_scale: float = 0.01
    embedding_l2: float = 0.0
    use_user_field: bool = False
    head_sum_terms: bool = True
    hidden_size: int = 36
    evolution: str = "Augru"
    attention: str = "Mlp"
    attention_normalization: str = "Softmax"
    attention_hidden_sizes: List[int] = field(default_factory=lambda: [80, 40])
    auxiliary_loss: str = "NextBehaviour"
    auxiliary_scorer: str = "Mlp"
    auxiliary_hidden_sizes: List[int] = field(default_factory=lambda: [100, 50])
    alpha: float = 1.0
    head_hidden_sizes: List[int] = field(default_factory=lambda: [200, 80])
    head_activation: str = "PRelu"
    head_batch_norm: bool = True
    head_dropout: float = 0.0
    head_output: str = "Sigmoid"
    use_fused_kernels: bool = True

    @property
    def behaviour_size(self) -> int:
        """Width E of a behaviour: item plus category embedding."""
        return self.item_embedding_size + self.category_embedding_size

    # ----- validation (the .NET rules, every problem at once) -----
    def validate(self) -> List[str]:
        errors: List[str] = []

        def require(ok: bool, name: str, value: Any, rule: str) -> None:
            if not ok:
                errors.append(f"{name} = {_format_value(value)}: {rule}.")

        require(self.item_vocabulary_size >= 2, "ItemVocabularySize", self.item_vocabulary_size, "must be at least 2 (id 0 is padding)")
        require(self.category_vocabulary_size >= 2, "CategoryVocabularySize", self.category_vocabulary_size, "must be at least 2 (id 0 is padding)")
        require(self.user_vocabulary_size >= 1, "UserVocabularySize", self.user_vocabulary_size, "must be at least 1")
        for i, size in enumerate(self.extra_field_vocabulary_sizes):
            require(size >= 1, f"ExtraFieldVocabularySizes[{i}]", size, "must be at least 1")
        for name, value in (("ItemEmbeddingSize", self.item_embedding_size), ("CategoryEmbeddingSize", self.category_embedding_size),
                            ("UserEmbeddingSize", self.user_embedding_size), ("HiddenSize", self.hidden_size)):
            require(value > 0, name, value, "must be positive")
        m = self.item_max_norm
        require(m is None or (m > 0 and math.isfinite(m)), "ItemMaxNorm", m, "must be positive and finite, or null")
        require(self.embedding_init_scale > 0 and math.isfinite(self.embedding_init_scale), "EmbeddingInitScale", self.embedding_init_scale, "must be positive and finite")
        require(self.embedding_l2 >= 0 and math.isfinite(self.embedding_l2), "EmbeddingL2", self.embedding_l2, "must be zero or positive and finite")
        for attr, name, kind in _SCHEMA:
            if isinstance(kind, tuple):
                require(getattr(self, attr) in kind, name, getattr(self, attr), f"is not one of {', '.join(kind)}")
            if kind == "ints" and attr != "extra_field_vocabulary_sizes":  # table sizes, checked above, not layer widths
                for i, width in enumerate(getattr(self, attr)):
                    if width <= 0:
                        errors.append(f"{name}[{i}] = {width}: layer widths must be positive.")
        require(self.alpha >= 0 and math.isfinite(self.alpha), "Alpha", self.alpha, "must be zero or positive and finite")
        require(0 <= self.head_dropout < 1, "HeadDropout", self.head_dropout, "must be in [0, 1)")
        inner = self.alpha > 0 and (self.auxiliary_loss == "LabelledHistory" or self.auxiliary_scorer == "InnerProduct")
        require(not inner or self.hidden_size == self.behaviour_size, "HiddenSize", self.hidden_size,
                f"must equal the behaviour width ItemEmbeddingSize + CategoryEmbeddingSize = {self.behaviour_size} when the auxiliary loss uses the inner product h_t . e")
        return errors

    def ensure_valid(self) -> None:
        errors = self.validate()
        if errors:
            raise OptionsError(errors)

    # ----- JSON: ordinary JSON with the .NET property names, read by schema (.NET compares by value) -----
    @classmethod
    def from_dict(cls, data: Dict[str, Any], format_version: Optional[int] = None) -> "CtrModelOptions":
        """From the .NET property names (``options.json``); unknown names are an error.

        A name the file lacks takes the value that format version's release used (``RELEASE_VALUES``), as .NET does;
        without a format version, this package's default.
        """
        known = {net: (attr, kind) for attr, net, kind in _SCHEMA}
        unknown = [k for k in data if k not in known and k != "BehaviourSize"]
        if unknown:
            raise OptionsError([f"{k}: not an option of this version (known: {', '.join(known)})" for k in unknown])
        if format_version is not None and format_version not in RELEASE_VALUES:
            raise OptionsError([f"format version {format_version}: no recorded option values"])
        merged = dict(RELEASE_VALUES[format_version]) if format_version is not None else {}
        merged.update(data)
        options = cls()
        for net, value in merged.items():
            if net == "BehaviourSize":
                continue
            attr, kind = known[net]
            if kind == "ints":
                value = [int(v) for v in value]
            elif kind == "int":
                value = int(value)
            elif kind == "double":
                value = float(value)
            elif kind == "double?":
                value = None if value is None else float(value)
            elif kind == "bool":
                value = bool(value)
            setattr(options, attr, value)
        return options

    @classmethod
    def from_json(cls, text: str, format_version: Optional[int] = None) -> "CtrModelOptions":
        return cls.from_dict(json.loads(text), format_version)

    def to_dict(self) -> Dict[str, Any]:
        """The .NET property names and values (lists copied)."""
        return {net: (list(getattr(self, attr)) if kind == "ints" else getattr(self, attr)) for attr, net, kind in _SCHEMA}

    def to_json(self) -> str:
        """``options.json`` as ordinary JSON (.NET reads it by value, whatever the number formatting or order)."""
        return json.dumps(self.to_dict(), indent=2)

    def clone(self) -> "CtrModelOptions":
        return CtrModelOptions.from_json(self.to_json())

    def differences(self, other: "CtrModelOptions") -> List[str]:
        """One sentence per option that differs (for the error when two sides disagree)."""
        out = []
        for attr, net, _ in _SCHEMA:
            a, b = getattr(self, attr), getattr(other, attr)
            if a != b:
                out.append(f"{net} is {_format_value(a)} here but {_format_value(b)} there")
        return out


def _format_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return json.dumps(value)
    return str(value)
