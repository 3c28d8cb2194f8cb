"""DienModel, DinModel and BaseModel as torch modules, written from the paper and the .NET behaviour.

Every module keeps the .NET state-dict keys and shapes (docs/state-dict.md), so a state dict moves between the
two sides unchanged. The equations and their order are those of the .NET components (src/Dien/Embeddings,
Extractor, Attention, Evolution, Auxiliary, Head); tests/Dien.Tests/Interop compares logits, losses and every
gradient with the .NET models in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .batch import Batch
from .options import CtrModelOptions

MASKED_SCORE = -1e9  # far below any real score: exp underflows to exactly 0, and a row without valid positions stays finite


@dataclass
class CtrOutput:
    """Click logits and probabilities [B]; with labels the target loss, the auxiliary loss (or None) and the total."""

    logit: Tensor
    probability: Tensor
    target_loss: Optional[Tensor] = None
    auxiliary_loss: Optional[Tensor] = None
    loss: Optional[Tensor] = None


def masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """Softmax over the valid positions; exactly 0 at padding, all zero for a row without valid positions."""
    return scores.masked_fill(~mask, MASKED_SCORE).softmax(-1) * mask.to(scores.dtype)


def attention_weights(scores: Tensor, mask: Tensor, normalization: str) -> Tensor:
    """The .NET ``AttentionNormalization``: a masked softmax, or a sigmoid of each valid score; 0 at padding."""
    if normalization == "Sigmoid":
        return torch.sigmoid(scores) * mask.to(scores.dtype)
    return masked_softmax(scores, mask)


# ----------------------------------------------------------------------------------------------- embeddings
class BehaviourEmbedding(nn.Module):
    """Items, categories, the optional user and the extra fields; id 0 is padding (zero, no gradient)."""

    def __init__(self, o: CtrModelOptions):
        super().__init__()
        self.items = self._table(o.item_vocabulary_size, o.item_embedding_size, o, o.item_max_norm)
        self.categories = self._table(o.category_vocabulary_size, o.category_embedding_size, o)
        self.user = self._table(o.user_vocabulary_size, o.user_embedding_size, o) if o.use_user_field else None
        self.extras = nn.ModuleList([self._table(size, o.user_embedding_size, o) for size in o.extra_field_vocabulary_sizes])
        self.behaviour_size = o.behaviour_size
        self.user_size = o.user_embedding_size if o.use_user_field else 0
        self.extra_size = o.user_embedding_size * len(o.extra_field_vocabulary_sizes)

    @staticmethod
    def _table(rows: int, width: int, o: CtrModelOptions, max_norm: Optional[float] = None) -> nn.Embedding:
        table = nn.Embedding(rows, width, padding_idx=0, max_norm=max_norm)
        with torch.no_grad():
            if o.embedding_init == "Uniform":
                nn.init.uniform_(table.weight, -o.embedding_init_scale, o.embedding_init_scale)
            else:
                nn.init.normal_(table.weight, 0.0, o.embedding_init_scale)
            table.weight[0].zero_()
        return table

    def forward(self, item_ids: Tensor, category_ids: Tensor) -> Tensor:
        return torch.cat([self.items(item_ids), self.categories(category_ids)], -1)

    def embed(self, batch: Batch, mask: Tensor, include_negatives: bool) -> "Embedded":
        """One lookup per table for history (padding set to id 0), target and negatives: a max-norm renormalises
        rows in place, which must not happen between two lookups of one forward pass."""
        b, t = batch.size, batch.width
        padding = ~mask
        negatives = include_negatives and batch.negative_items is not None and batch.negative_categories is not None
        items = [batch.history_items.masked_fill(padding, 0).reshape(-1), batch.target_items]
        cats = [batch.history_categories.masked_fill(padding, 0).reshape(-1), batch.target_categories]
        if negatives:
            items.append(batch.negative_items.masked_fill(padding, 0).reshape(-1))
            cats.append(batch.negative_categories.masked_fill(padding, 0).reshape(-1))
        item_ids, category_ids = torch.cat(items), torch.cat(cats)
        all_ = self(item_ids, category_ids)
        history = all_.narrow(0, 0, b * t).reshape(b, t, self.behaviour_size)
        target = all_.narrow(0, b * t, b)
        negative = all_.narrow(0, b * t + b, b * t).reshape(b, t, self.behaviour_size) if negatives else None
        user = self.user(batch.user_ids) if self.user is not None else None
        extras = None
        if len(self.extras) > 0 and batch.extra_fields is not None:
            extras = torch.cat([table(batch.extra_fields.select(1, f)) for f, table in enumerate(self.extras)], -1)
        return Embedded(history, target, user, extras, negative, item_ids, category_ids)

    def squared_norm_of_used_rows(self, e: "Embedded", batch: Batch) -> Tensor:
        """sum ||w_j||^2 over the distinct rows j each table looked up for this batch."""
        def used(table: nn.Embedding, ids: Tensor) -> Tensor:
            rows = table.weight.index_select(0, torch.unique(ids.reshape(-1)))
            return (rows * rows).sum()

        total = used(self.items, e.item_ids) + used(self.categories, e.category_ids)
        if self.user is not None:
            total = total + used(self.user, batch.user_ids)
        if batch.extra_fields is not None:
            for f, table in enumerate(self.extras):
                total = total + used(table, batch.extra_fields.select(1, f))
        return total


@dataclass
class Embedded:
    history: Tensor
    target: Tensor
    user: Optional[Tensor]
    extras: Optional[Tensor]
    negatives: Optional[Tensor]
    item_ids: Tensor
    category_ids: Tensor

    def history_sum(self) -> Tensor:
        return self.history.sum(1)

    def head_input(self, sum_terms: bool, *interests: Tensor) -> Tensor:
        """[user, e_a, sum e_t, e_a * sum e_t, interests..., extras] (user and the sum terms only when used)."""
        parts = []
        if self.user is not None:
            parts.append(self.user)
        parts.append(self.target)
        if sum_terms:
            s = self.history_sum()
            parts += [s, self.target * s]
        parts += list(interests)
        if self.extras is not None:
            parts.append(self.extras)
        return torch.cat(parts, 1)


# ------------------------------------------------------------------------------------------------ extractor
class InterestExtractor(nn.Module):
    """A GRU over the valid behaviours (torch's nn.GRU, keys gru.*_l0; z the keep gate); zero states at padding."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.gru = nn.GRU(input_size, hidden_size, batch_first=True)
        self.hidden_size = hidden_size

    def forward(self, behaviours: Tensor, mask: Tensor, lengths: Tensor) -> Tensor:
        b, t = behaviours.shape[0], behaviours.shape[1]
        last = int(lengths.max()) if lengths.numel() > 0 else 0
        if last == 0:
            return behaviours.new_zeros(b, t, self.hidden_size)
        x = behaviours.narrow(1, 0, last)
        # Packing rejects empty rows: run them one step and zero their output afterwards.
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.clamp_min(1).cpu(), batch_first=True, enforce_sorted=False)
        output, _ = self.gru(packed)
        states, _ = nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=last)
        states = states * mask.narrow(1, 0, last).unsqueeze(-1).to(states.dtype)
        if last < t:
            states = F.pad(states, (0, 0, 0, t - last))
        return states


# ------------------------------------------------------------------------------------------------ attention
class MlpAttention(nn.Module):
    """q = query(e_a); score_t = MLP([q, h_t, q - h_t, q * h_t]) with sigmoid hidden layers; masked softmax."""

    def __init__(self, key_size: int, query_size: int, hidden_sizes: List[int], normalization: str = "Softmax"):
        super().__init__()
        self.normalization = normalization
        self.query = nn.Linear(query_size, key_size)
        widths = [4 * key_size] + list(hidden_sizes)
        self.layers = nn.ModuleList([nn.Linear(widths[i], widths[i + 1]) for i in range(len(widths) - 1)])
        self.score = nn.Linear(widths[-1], 1)

    def forward(self, states: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        q = self.query(target).unsqueeze(1).expand_as(states)
        x = torch.cat([q, states, q - states, q * states], -1)
        for layer in self.layers:
            x = torch.sigmoid(layer(x))
        return attention_weights(self.score(x).squeeze(-1), mask, self.normalization)


class BilinearAttention(nn.Module):
    """Paper eq. 8: a_t = softmax_t(h_t W e_a) over the valid positions; W [key, query] (key ``weight``)."""

    def __init__(self, key_size: int, query_size: int, normalization: str = "Softmax"):
        super().__init__()
        self.normalization = normalization
        bound = 1.0 / math.sqrt(query_size)
        self.weight = nn.Parameter(torch.empty(key_size, query_size).uniform_(-bound, bound))

    def forward(self, states: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        projected = F.linear(target, self.weight)
        return attention_weights(states.matmul(projected.unsqueeze(-1)).squeeze(-1), mask, self.normalization)


def target_attention(key_size: int, o: CtrModelOptions) -> nn.Module:
    """The attention the options ask for, over keys of width ``key_size`` (DIEN: H; DIN: E); the .NET ``AttentionFor``."""
    if o.attention == "Bilinear":
        return BilinearAttention(key_size, o.behaviour_size, o.attention_normalization)
    return MlpAttention(key_size, o.behaviour_size, o.attention_hidden_sizes, o.attention_normalization)


# ------------------------------------------------------------------------------------------------ evolution
class InterestEvolution(nn.Module):
    """The attentional GRU (the .NET ``Dien.Evolution.InterestEvolution``); gate rows (r, u, h~), u the UPDATE gate.

    AUGRU (paper): h = (1 - a u) h_prev + a u h~; AUGRU (authors' code): the attention scales the keep gate,
    h = (1 - a)(1 - u) h_prev + (1 - (1 - a)(1 - u)) h~; AGRU: h = (1 - a) h_prev + a h~; AIGRU: a plain GRU step over
    a_t h_t; GRU: a plain GRU whose outputs are summed with the attention weights. Padded steps keep the state.
    """

    def __init__(self, input_size: int, hidden_size: int, variant: str):
        super().__init__()
        bound = 1.0 / math.sqrt(hidden_size)
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size).uniform_(-bound, bound))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size).uniform_(-bound, bound))
        self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size).uniform_(-bound, bound))
        self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size).uniform_(-bound, bound))
        self.variant = variant
        self.hidden_size = hidden_size

    def forward(self, states: Tensor, attention: Tensor, mask: Tensor, lengths: Tensor) -> Tensor:
        b = states.shape[0]
        last = int(lengths.max()) if lengths.numel() > 0 else 0
        if last == 0:
            return states.new_zeros(b, self.hidden_size)
        x = states.narrow(1, 0, last)
        a = attention.narrow(1, 0, last)
        valid = mask.narrow(1, 0, last)
        if self.variant == "Aigru":
            return self._run("plain", x * a.unsqueeze(-1), None, valid, all_states=False)
        if self.variant == "Gru":
            return (self._run("plain", x, None, valid, all_states=True) * a.unsqueeze(-1)).sum(1)
        return self._run(self.variant, x, a, valid, all_states=False)

    def _run(self, cell: str, x: Tensor, a: Optional[Tensor], valid: Tensor, all_states: bool) -> Tensor:
        projection = F.linear(x, self.weight_ih, self.bias_ih)
        h = x.new_zeros(x.shape[0], self.hidden_size)
        outputs = []
        for t in range(x.shape[1]):
            hr, hu, hn = F.linear(h, self.weight_hh, self.bias_hh).chunk(3, -1)
            xr, xu, xn = projection[:, t].chunk(3, -1)
            r = torch.sigmoid(xr + hr)
            u = torch.sigmoid(xu + hu)
            candidate = torch.tanh(xn + r * hn)
            if cell == "plain":
                nxt = (1 - u) * h + u * candidate
            else:
                at = a[:, t].unsqueeze(1)
                if cell == "Augru":
                    nxt = (1 - at * u) * h + at * u * candidate
                elif cell == "AugruAuthorsCode":
                    keep = (1 - at) * (1 - u)
                    nxt = keep * h + (1 - keep) * candidate
                elif cell == "Agru":
                    nxt = (1 - at) * h + at * candidate
                else:
                    raise NotImplementedError(f"Evolution = {cell} is not an evolution variant this package knows.")
            keep_step = valid[:, t].unsqueeze(1)
            h = torch.where(keep_step, nxt, h)
            if all_states:
                outputs.append(torch.where(keep_step, nxt, torch.zeros_like(nxt)))
        return torch.stack(outputs, 1) if all_states else h


# ------------------------------------------------------------------------------------------------ auxiliary
class NextBehaviourAuxiliaryLoss(nn.Module):
    """h_t must tell e_{t+1} from the sampled e'_{t+1}: mean over valid pairs of softplus(-f(h, e)) + softplus(f(h, e'))."""

    def __init__(self, hidden_size: int, behaviour_size: int, scorer: str, hidden_sizes: List[int]):
        super().__init__()
        self.scorer = scorer
        if scorer == "InnerProduct":
            if hidden_size != behaviour_size:
                raise ValueError(f"The inner-product scorer needs hidden_size = behaviour_size, got {hidden_size} and {behaviour_size}.")
            self.layers = nn.ModuleList()
            self.output = None
        else:
            widths = [hidden_size + behaviour_size] + list(hidden_sizes)
            self.layers = nn.ModuleList([nn.Linear(widths[i], widths[i + 1]) for i in range(len(widths) - 1)])
            self.output = nn.Linear(widths[-1], 1)

    def forward(self, states: Tensor, behaviours: Tensor, negatives: Tensor, mask: Tensor) -> Tensor:
        steps = states.shape[1]
        if steps < 2:
            return states.sum() * 0
        h = states.narrow(1, 0, steps - 1)
        pairs = (mask.narrow(1, 0, steps - 1) & mask.narrow(1, 1, steps - 1)).to(states.dtype)
        real = self._score(h, behaviours.narrow(1, 1, steps - 1))
        fake = self._score(h, negatives.narrow(1, 1, steps - 1))
        loss = (F.softplus(-real) + F.softplus(fake)) * pairs
        return loss.sum() / pairs.sum().clamp_min(1)

    def _score(self, h: Tensor, e: Tensor) -> Tensor:
        if self.output is None:
            return (h * e).sum(-1)
        x = torch.cat([h, e], -1)
        for layer in self.layers:
            x = torch.sigmoid(layer(x))
        return self.output(x).squeeze(-1)


class LabelledHistoryAuxiliaryLoss(nn.Module):
    """BCE(sigmoid(h_t . e_t), y_t) averaged over the valid positions; no parameters."""

    def forward(self, states: Tensor, behaviours: Tensor, history_labels: Tensor, mask: Tensor) -> Tensor:
        valid = mask.to(states.dtype)
        logits = (states * behaviours).sum(-1)
        loss = F.binary_cross_entropy_with_logits(logits, history_labels.to(states.dtype), reduction="none") * valid
        return loss.sum() / valid.sum().clamp_min(1)


# ----------------------------------------------------------------------------------------------------- head
class Dice(nn.Module):
    """p = sigmoid(BN(s)) with an affine-free BatchNorm (eps 1e-8); f(s) = p s + (1 - p) alpha s (alpha from 0)."""

    def __init__(self, features: int, eps: float = 1e-8, momentum: float = 0.1):
        super().__init__()
        self.norm = nn.BatchNorm1d(features, eps=eps, momentum=momentum, affine=False)
        self.alpha = nn.Parameter(torch.zeros(features))

    def forward(self, x: Tensor) -> Tensor:
        p = torch.sigmoid(self.norm(x))
        return p * x + (1 - p) * self.alpha * x


class MlpHead(nn.Module):
    """Optional BatchNorm on the input, hidden layers with PReLU or Dice (and dropout), one logit or two."""

    def __init__(self, input_size: int, o: CtrModelOptions):
        super().__init__()
        self.norm = nn.BatchNorm1d(input_size) if o.head_batch_norm else nn.Identity()
        widths = [input_size] + list(o.head_hidden_sizes)
        self.layers = nn.ModuleList([nn.Linear(widths[i], widths[i + 1]) for i in range(len(widths) - 1)])
        self.activations = nn.ModuleList([Dice(w) if o.head_activation == "Dice" else nn.PReLU(w) for w in widths[1:]])
        self.dropout = nn.Dropout(o.head_dropout) if o.head_dropout > 0 else None
        self.softmax = o.head_output == "Softmax"
        self.output = nn.Linear(widths[-1], 2 if self.softmax else 1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(x)
        for layer, activation in zip(self.layers, self.activations):
            x = activation(layer(x))
            if self.dropout is not None:
                x = self.dropout(x)
        logits = self.output(x)
        # Two logits: softmax(l)_1 = sigmoid(l_1 - l_0), so the click logit is their difference.
        return logits[:, 1] - logits[:, 0] if self.softmax else logits.squeeze(-1)


# --------------------------------------------------------------------------------------------------- models
class CtrModel(nn.Module):
    """What the three models share: options, batch checks and the losses (as the .NET CtrModel)."""

    kind = "CtrModel"

    def __init__(self, options: CtrModelOptions):
        super().__init__()
        options.ensure_valid()
        self.options = options.clone()

    def check_batch(self, batch: Batch) -> None:
        o = self.options
        mask = batch.mask
        extra = 0 if batch.extra_fields is None else batch.extra_fields.shape[1]
        if extra != len(o.extra_field_vocabulary_sizes):
            raise ValueError(f"the batch has {extra} extra field(s) but the model was built with {len(o.extra_field_vocabulary_sizes)}.")

        def below(name: str, ids: Tensor, size: int, option: str, where: Optional[Tensor] = None) -> None:
            values = ids if where is None else ids[where]
            if values.numel() and (int(values.min()) < 0 or int(values.max()) >= size):
                bad = int(values.max()) if int(values.max()) >= size else int(values.min())
                raise ValueError(f"{name} holds id {bad}, outside 0 .. {size - 1} ({option} = {size}).")

        below("user_ids", batch.user_ids, o.user_vocabulary_size, "UserVocabularySize")
        below("target_items", batch.target_items, o.item_vocabulary_size, "ItemVocabularySize")
        below("target_categories", batch.target_categories, o.category_vocabulary_size, "CategoryVocabularySize")
        below("history_items", batch.history_items, o.item_vocabulary_size, "ItemVocabularySize", mask)
        below("history_categories", batch.history_categories, o.category_vocabulary_size, "CategoryVocabularySize", mask)
        if batch.negative_items is not None:
            below("negative_items", batch.negative_items, o.item_vocabulary_size, "ItemVocabularySize", mask)
            below("negative_categories", batch.negative_categories, o.category_vocabulary_size, "CategoryVocabularySize", mask)
        for f, size in enumerate(o.extra_field_vocabulary_sizes):
            below(f"extra_fields[:, {f}]", batch.extra_fields[:, f], size, f"ExtraFieldVocabularySizes[{f}]")
        if self.training and (o.head_batch_norm or o.head_activation == "Dice") and batch.size < 2:
            raise ValueError(f"A training batch needs at least 2 rows when the head uses BatchNorm or Dice; got {batch.size}. Call eval() to score single rows.")

    def _finish(self, batch: Batch, logit: Tensor, auxiliary: Optional[Tensor], penalty: Optional[Tensor]) -> CtrOutput:
        probability = torch.sigmoid(logit)
        target = loss = None
        if batch.labels is not None:
            target = F.binary_cross_entropy_with_logits(logit, batch.labels.to(logit.dtype))
            loss = target if auxiliary is None else target + auxiliary * self.options.alpha
            if penalty is not None:
                loss = loss + penalty
        return CtrOutput(logit, probability, target, auxiliary, loss)

    def _penalty(self, embedding: BehaviourEmbedding, e: Embedded, batch: Batch) -> Optional[Tensor]:
        if not self.training or batch.labels is None or self.options.embedding_l2 == 0:
            return None
        return embedding.squared_norm_of_used_rows(e, batch) * self.options.embedding_l2

    def dotnet_state_order(self) -> List[str]:
        """The state-dict keys in the order the .NET model lists them: every parameter, then every buffer."""
        return [n for n, _ in self.named_parameters()] + [n for n, _ in self.named_buffers()]


class DienModel(CtrModel):
    """DIEN: embedding, GRU extractor with an auxiliary loss, target attention, interest evolution, MLP head."""

    kind = "DienModel"

    def __init__(self, options: CtrModelOptions):
        super().__init__(options)
        o = self.options
        self.embedding = BehaviourEmbedding(o)
        self.extractor = InterestExtractor(o.behaviour_size, o.hidden_size)
        self.attention = target_attention(o.hidden_size, o)
        self.evolution = InterestEvolution(o.hidden_size, o.hidden_size, o.evolution)
        if o.alpha > 0:
            self.auxiliary = (NextBehaviourAuxiliaryLoss(o.hidden_size, o.behaviour_size, o.auxiliary_scorer, o.auxiliary_hidden_sizes)
                              if o.auxiliary_loss == "NextBehaviour" else LabelledHistoryAuxiliaryLoss())
        else:
            self.auxiliary = None
        width = self.embedding.user_size + (3 if o.head_sum_terms else 1) * o.behaviour_size + o.hidden_size + self.embedding.extra_size
        self.head = MlpHead(width, o)

    def forward(self, batch: Batch) -> CtrOutput:
        self.check_batch(batch)
        o = self.options
        next_behaviour = o.auxiliary_loss == "NextBehaviour"
        with_aux = self.auxiliary is not None and self.training and batch.labels is not None
        if with_aux and next_behaviour and batch.negative_items is None:
            raise ValueError("The batch has no negative_items: the next-behaviour auxiliary loss (alpha > 0) needs a sampled negative per history position in training.")
        if with_aux and not next_behaviour and batch.history_labels is None:
            raise ValueError("The batch has no history_labels: the labelled-history auxiliary loss (alpha > 0) needs a 0/1 label per history position in training.")
        mask = batch.mask
        e = self.embedding.embed(batch, mask, include_negatives=with_aux and next_behaviour)
        states = self.extractor(e.history, mask, batch.lengths)
        weights = self.attention(states, e.target, mask)
        interest = self.evolution(states, weights, mask, batch.lengths)
        logit = self.head(e.head_input(o.head_sum_terms, interest))
        aux = None
        if with_aux:
            aux = self.auxiliary(states, e.history, e.negatives if next_behaviour else batch.history_labels, mask)
        return self._finish(batch, logit, aux, self._penalty(self.embedding, e, batch))


class DinModel(CtrModel):
    """DIN as the DIEN paper compares it: attention over the behaviour embeddings, pooled sum_t a_t e_t."""

    kind = "DinModel"

    def __init__(self, options: CtrModelOptions):
        super().__init__(options)
        o = self.options
        self.embedding = BehaviourEmbedding(o)
        self.attention = target_attention(o.behaviour_size, o)
        behaviours = 4 if o.head_sum_terms else 2
        self.head = MlpHead(self.embedding.user_size + behaviours * o.behaviour_size + self.embedding.extra_size, o)

    def forward(self, batch: Batch) -> CtrOutput:
        self.check_batch(batch)
        mask = batch.mask
        e = self.embedding.embed(batch, mask, include_negatives=False)
        weights = self.attention(e.history, e.target, mask)
        pooled = (weights.unsqueeze(-1) * e.history).sum(1)
        return self._finish(batch, self.head(e.head_input(self.options.head_sum_terms, pooled)), None, self._penalty(self.embedding, e, batch))


class SumPoolingModel(CtrModel):
    """The paper's BaseModel (Embedding & MLP): the history is sum-pooled."""

    kind = "BaseModel"

    def __init__(self, options: CtrModelOptions):
        super().__init__(options)
        o = self.options
        self.embedding = BehaviourEmbedding(o)
        behaviours = 3 if o.head_sum_terms else 2
        self.head = MlpHead(self.embedding.user_size + behaviours * o.behaviour_size + self.embedding.extra_size, o)

    def forward(self, batch: Batch) -> CtrOutput:
        self.check_batch(batch)
        e = self.embedding.embed(batch, batch.mask, include_negatives=False)
        x = e.head_input(True) if self.options.head_sum_terms else e.head_input(False, e.history_sum())
        return self._finish(batch, self.head(x), None, self._penalty(self.embedding, e, batch))


MODEL_KINDS: Dict[str, Callable[[CtrModelOptions], CtrModel]] = {
    "DienModel": DienModel,
    "DinModel": DinModel,
    "BaseModel": SumPoolingModel,  # the kind keeps the paper's name: old files must load
}


def build_model(kind: str, options: CtrModelOptions) -> CtrModel:
    """A fresh model of a kind a .dien checkpoint names (DienModel, DinModel, BaseModel)."""
    if kind not in MODEL_KINDS:
        raise NotImplementedError(f"Model kind '{kind}' has no Python implementation (known: {', '.join(sorted(MODEL_KINDS))}).")
    return MODEL_KINDS[kind](options)
