"""CtrModelOptions: the defaults of the .NET library, every rule of its validation, and options.json both ways."""

import json

import pytest

from conftest import small_options
from dien import CtrModelOptions, OptionsError, build_model
from dien.checkpoint import FORMAT_VERSION
from dien.options import RELEASE_VALUES


def test_defaults_are_those_the_current_format_version_records():
    # The table an old file's missing options are filled from must agree with today's defaults for today's version.
    assert CtrModelOptions().to_dict() == RELEASE_VALUES[FORMAT_VERSION]


def test_defaults_are_the_papers_and_the_authors_code():
    o = CtrModelOptions()
    assert (o.item_embedding_size, o.category_embedding_size, o.hidden_size) == (18, 18, 36)
    assert o.behaviour_size == 36
    assert (o.evolution, o.attention, o.attention_hidden_sizes) == ("Augru", "Mlp", [80, 40])
    assert (o.auxiliary_loss, o.auxiliary_scorer, o.auxiliary_hidden_sizes, o.alpha) == ("NextBehaviour", "Mlp", [100, 50], 1.0)
    assert (o.head_hidden_sizes, o.head_activation, o.head_batch_norm, o.head_output) == ([200, 80], "PRelu", True, "Sigmoid")
    assert (o.embedding_init, o.embedding_init_scale, o.use_user_field, o.head_sum_terms) == ("Normal", 0.01, False, True)


def test_list_defaults_are_not_shared_between_instances():
    a, b = CtrModelOptions(), CtrModelOptions()
    a.head_hidden_sizes.append(7)
    assert b.head_hidden_sizes == [200, 80]


def test_small_options_are_valid():
    assert small_options().validate() == []


def test_defaults_without_vocabularies_report_every_missing_size_at_once():
    with pytest.raises(OptionsError) as caught:
        CtrModelOptions().ensure_valid()
    errors = caught.value.errors
    assert len(errors) == 3
    assert any(e.startswith("ItemVocabularySize = 0:") for e in errors)
    assert any(e.startswith("CategoryVocabularySize = 0:") for e in errors)
    assert any(e.startswith("UserVocabularySize = 0:") for e in errors)
    assert "3 problems" in str(caught.value)


@pytest.mark.parametrize("change, expected", [
    (dict(item_vocabulary_size=1), "ItemVocabularySize = 1: must be at least 2"),
    (dict(hidden_size=0), "HiddenSize = 0: must be positive"),
    (dict(evolution="Lstm"), "Evolution = Lstm: is not one of Augru, AugruAuthorsCode, Agru, Aigru, Gru"),
    (dict(attention="Dot"), "Attention = Dot: is not one of"),
    (dict(head_activation="Relu"), "HeadActivation = Relu: is not one of"),
    (dict(alpha=-1.0), "Alpha = -1.0: must be zero or positive and finite"),
    (dict(alpha=float("inf")), "Alpha = Infinity: must be zero or positive and finite"),
    (dict(head_dropout=1.0), "HeadDropout = 1.0: must be in [0, 1)"),
    (dict(item_max_norm=0.0), "ItemMaxNorm = 0.0: must be positive and finite, or null"),
    (dict(embedding_init_scale=0.0), "EmbeddingInitScale = 0.0: must be positive and finite"),
    (dict(embedding_l2=-1e-3), "EmbeddingL2 = -0.001: must be zero or positive and finite"),
    (dict(head_hidden_sizes=[8, 0]), "HeadHiddenSizes[1] = 0: layer widths must be positive."),
    (dict(extra_field_vocabulary_sizes=[3, 0]), "ExtraFieldVocabularySizes[1] = 0: must be at least 1"),
    # The inner-product auxiliary scorer compares h_t with e, so H must be the behaviour width (4 + 4).
    (dict(auxiliary_scorer="InnerProduct"), "HiddenSize = 6: must equal the behaviour width ItemEmbeddingSize + CategoryEmbeddingSize = 8"),
    (dict(auxiliary_loss="LabelledHistory"), "HiddenSize = 6: must equal the behaviour width"),
])
def test_each_rule_names_the_option_and_its_value(change, expected):
    errors = small_options(**change).validate()
    assert len(errors) == 1, errors
    assert errors[0].startswith(expected), errors[0]


def test_the_inner_product_rule_holds_only_while_the_auxiliary_loss_is_on():
    assert small_options(auxiliary_scorer="InnerProduct", alpha=0.0).validate() == []
    assert small_options(auxiliary_scorer="InnerProduct", hidden_size=8).validate() == []


def test_a_model_refuses_invalid_options():
    with pytest.raises(OptionsError, match="Evolution = Lstm"):
        build_model("DienModel", small_options(evolution="Lstm"))


def test_a_model_keeps_its_own_copy_of_the_options():
    options = small_options()
    model = build_model("DinModel", options)
    options.hidden_size = 99
    assert model.options.hidden_size == 6


def test_options_json_uses_the_dotnet_names_and_reads_back_equal():
    o = small_options(evolution="Agru", item_max_norm=1.5, extra_field_vocabulary_sizes=[4, 2], head_dropout=0.25)
    data = json.loads(o.to_json())
    assert list(data)[:3] == ["ItemVocabularySize", "CategoryVocabularySize", "UserVocabularySize"]
    assert data["Evolution"] == "Agru" and data["ItemMaxNorm"] == 1.5 and data["ExtraFieldVocabularySizes"] == [4, 2]
    assert CtrModelOptions.from_json(o.to_json()) == o
    assert o.clone() == o and o.clone() is not o


def test_options_json_refuses_an_unknown_name():
    with pytest.raises(OptionsError, match="Hidden: not an option of this version"):
        CtrModelOptions.from_json('{"Hidden": 3}')


def test_an_option_a_file_lacks_takes_its_format_versions_value_not_todays_default():
    # Format version 1 was written while Alpha defaulted to 0; a version-1 file without Alpha meant 0.
    assert CtrModelOptions.from_json("{}", format_version=1).alpha == 0.0
    assert CtrModelOptions.from_json("{}", format_version=2).alpha == 1.0
    assert CtrModelOptions.from_json("{}").alpha == CtrModelOptions().alpha


def test_an_unknown_format_version_is_refused():
    with pytest.raises(OptionsError, match="format version 99: no recorded option values"):
        CtrModelOptions.from_json("{}", format_version=99)


def test_differences_name_each_differing_option():
    a, b = small_options(), small_options(hidden_size=8, evolution="Gru")
    assert a.differences(b) == ["HiddenSize is 6 here but 8 there", "Evolution is Augru here but Gru there"]
    assert a.differences(small_options()) == []
