"""The Wav2Vec2 classifiers with a tiny random configuration: freezing all but the last k
layers, z-normalisation and mean pooling, the head, the biased/main loss, and the errors
when weights or transformers are missing."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from genrebench_yan2023 import wav2vec2 as W
from genrebench_yan2023.weights import ENV, MissingWeights, checkpoint_folder, weights_needed

from genrebench import ModelSetup

pytest.importorskip("transformers")
CLASSES = ["a", "b", "c"]


@pytest.fixture
def encoder(tiny_checkpoint):
    return W.load_encoder(tiny_checkpoint)


def trainable(module: torch.nn.Module) -> set[str]:
    return {n for n, p in module.named_parameters() if p.requires_grad}


def layer_params(encoder, indices) -> set[str]:
    return {
        f"encoder.layers.{i}.{n}"
        for i in indices
        for n, _ in encoder.encoder.layers[i].named_parameters()
    }


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_freezing_leaves_exactly_the_last_k_layers_trainable(encoder, k):
    model = W.Wav2Vec2Classifier(encoder, 3, trainable_layers=k)
    expected = {f"encoder.{n}" for n in layer_params(encoder, range(3 - k, 3))}
    head = {f"head.{n}" for n, _ in model.head.named_parameters()}
    assert trainable(model) == expected | head
    # Training moves exactly those.
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimiser = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    loss = torch.nn.functional.cross_entropy(
        model(torch.randn(4, 1600)), torch.tensor([0, 1, 2, 0])
    )
    loss.backward()
    optimiser.step()
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert moved <= expected | head and head <= moved


def test_more_layers_than_the_encoder_has_is_an_error(encoder):
    with pytest.raises(W.ConfigError, match=r"trainable_layers must be 0\.\.3"):
        W.Wav2Vec2Classifier(encoder, 3, trainable_layers=4)


def test_one_second_excerpts_give_the_papers_49_frames():
    # The authors' input is the first 16 000 samples of each 3 s window; the real Wav2Vec2
    # convolution stack (kernels 10,3,3,3,3,2,2, strides 5,2,2,2,2,2,2) turns them into the
    # report's "sequence length of 49" (a 3 s window would give 149).
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    config = Wav2Vec2Config(  # tiny, but with the real convolution stack (the default)
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=8,
        conv_dim=(4,) * 7,
        num_conv_pos_embeddings=4,
        num_conv_pos_embedding_groups=2,
    )
    assert tuple(config.conv_stride) == (5, 2, 2, 2, 2, 2, 2)  # a list in transformers 4.40
    assert tuple(config.conv_kernel) == (10, 3, 3, 3, 3, 2, 2)
    encoder = Wav2Vec2Model(config).eval()
    with torch.no_grad():
        assert encoder(torch.randn(1, 16000)).last_hidden_state.shape[1] == 49
        assert encoder(torch.randn(1, 48000)).last_hidden_state.shape[1] == 149


def test_znormalise_each_segment():
    x = torch.randn(3, 1000) * torch.tensor([[1.0], [5.0], [0.1]]) + 7
    z = W.znormalise(x)
    torch.testing.assert_close(z.mean(dim=1), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std(dim=1, unbiased=False), torch.ones(3), atol=1e-4, rtol=0)


def test_mean_pooling_and_head(encoder):
    model = W.Wav2Vec2Classifier(encoder, 3, trainable_layers=1, dropout=0.3).eval()
    x = torch.randn(2, 1600) * 3 + 1
    states = encoder(W.znormalise(x)).last_hidden_state
    assert states.shape[:2] == (2, 20)  # 1600 samples -> 20 frames with this config
    torch.testing.assert_close(model.pooled(x), states.mean(dim=1))
    # The authors' forward: projector -> tanh -> dropout -> classifier.
    kinds = [type(m) for m in model.head]
    assert kinds == [torch.nn.Linear, torch.nn.Tanh, torch.nn.Dropout, torch.nn.Linear]
    assert (model.head[0].in_features, model.head[0].out_features) == (16, 16)
    assert model.head[2].p == 0.3 and model.head[3].out_features == 3
    torch.testing.assert_close(model(x), model.head(states.mean(dim=1)))


def test_evaluation_in_chunks_equals_one_batch(encoder):
    model = W.Wav2Vec2Classifier(encoder, 3, eval_batch_size=2).eval()
    x = torch.randn(5, 1600)
    with torch.no_grad():
        chunked = model(x)
        whole = model.head(model.pooled(x))
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=1e-5)


def pair(tiny_checkpoint, biased_trainable="all"):
    torch.manual_seed(1)
    # No head dropout: training-mode outputs are then deterministic and comparable.
    main = W.Wav2Vec2Classifier(W.load_encoder(tiny_checkpoint), 3, dropout=0.0)
    biased = W.Wav2Vec2Classifier(W.load_encoder(tiny_checkpoint), 3, dropout=0.0)
    return W.BiasedMain(main, biased, main_weight=0.9, biased_trainable=biased_trainable)


def test_head_applies_tanh_before_dropout():
    head = W.classifier_head(2, 2, dropout=0.5).train()
    with torch.no_grad():
        head[0].weight.copy_(torch.eye(2))
        head[0].bias.zero_()
        head[3].weight.copy_(torch.eye(2))
        head[3].bias.zero_()
    torch.manual_seed(0)
    out = head(torch.tensor([[3.0, -3.0]] * 64))
    # Dropout after tanh: every kept unit is tanh(x) / (1 - p), every dropped one 0.
    # (Dropout first would give tanh(2 x) for kept units.)
    kept = torch.tensor([np.tanh(3.0), -np.tanh(3.0)], dtype=torch.float32) / 0.5
    assert torch.all((out == 0) | torch.isclose(out, kept.expand_as(out)))
    assert (out == 0).any() and (out != 0).any()


def test_biased_main_mixes_probabilities_in_training_and_predicts_with_main(tiny_checkpoint):
    model = pair(tiny_checkpoint)
    x = torch.randn(3, 1600)
    model.train()
    mixture = 0.9 * torch.softmax(model.main(x), 1) + 0.1 * torch.softmax(model.biased(x), 1)
    torch.testing.assert_close(model(x), torch.log(mixture))
    model.eval()
    torch.testing.assert_close(model(x), model.main(x))
    assert not torch.allclose(model.main(x), model.biased(x))


@pytest.mark.parametrize(
    ("mode", "encoder_learns", "head_learns"),
    [("all", True, True), ("head", False, True), ("none", False, False)],
)
def test_which_biased_parameters_learn(tiny_checkpoint, mode, encoder_learns, head_learns):
    model = pair(tiny_checkpoint, mode).train()
    loss = torch.nn.functional.cross_entropy(
        model(torch.randn(4, 1600)), torch.tensor([0, 1, 2, 1])
    )
    loss.backward()
    has_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    biased_encoder = {n for n in has_grad if n.startswith("biased.encoder.")}
    biased_head = {n for n in has_grad if n.startswith("biased.head.")}
    assert bool(biased_encoder) == encoder_learns and bool(biased_head) == head_learns
    if mode == "all":  # the whole biased encoder, convolutional front end included
        assert any(n.startswith("biased.encoder.feature_extractor.") for n in biased_encoder)
    # The main model keeps its own freezing: only its last 2 layers and head learn.
    main = {n for n in has_grad if n.startswith("main.")}
    assert main and all(
        n.startswith(
            ("main.encoder.encoder.layers.1.", "main.encoder.encoder.layers.2.", "main.head.")
        )
        for n in main
    )


def test_biased_main_loss_is_the_nll_of_the_probability_mixture():
    # The authors' bias_add_loss: nll_loss(log(0.9 softmax(main) + 0.1 softmax(biased))).
    main = torch.tensor([[2.0, 0.0, -1.0]])
    biased = torch.tensor([[-3.0, 4.0, 0.0]])
    p_main = np.exp([2.0, 0.0, -1.0]) / np.exp([2.0, 0.0, -1.0]).sum()  # 0.705, 0.095, 0.035
    p_biased = np.exp([-3.0, 4.0, 0.0]) / np.exp([-3.0, 4.0, 0.0]).sum()  # 0.001, 0.981, 0.018
    mixture = 0.9 * p_main + 0.1 * p_biased
    out = W.mixture_log_probs(main, biased, 0.9)
    np.testing.assert_allclose(out.exp().numpy()[0], mixture, rtol=1e-6)
    loss = torch.nn.functional.cross_entropy(out, torch.tensor([0]))
    assert loss.item() == pytest.approx(-np.log(mixture[0]), rel=1e-6)  # 0.3910
    # Not the cross-entropy of the weighted logits [1.5, 0.4, -0.9] (0.3459).
    weighted = -np.log(np.exp(1.5) / np.exp([1.5, 0.4, -0.9]).sum())
    assert abs(loss.item() - weighted) > 0.04
    # The edges: all weight on one model is that model's own log-softmax.
    torch.testing.assert_close(W.mixture_log_probs(main, biased, 1.0), main.log_softmax(1))
    torch.testing.assert_close(W.mixture_log_probs(main, biased, 0.0), biased.log_softmax(1))


def setup(params, budget=None):
    return ModelSetup("single-label", CLASSES, (1600,), 0, "cpu", params, budget or {"epochs": 1})


def data(n=9):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 1600)).astype(np.float32), np.arange(n) % 3


def test_factory_trains_one_classifier(tiny_checkpoint):
    model = W.create(setup({"base_checkpoint": str(tiny_checkpoint), "trainable_layers": 1}))
    assert (model.config.lr, model.config.batch_size, model.config.patience) == (1e-3, 32, 10)
    assert model.config.init is None and model.config.standardize is None
    x, y = data()
    model.fit(x[:6], y[:6], x[6:], y[6:])
    probs = model.predict_proba(x)
    assert probs.shape == (9, 3) and np.allclose(probs.sum(axis=1), 1)


@pytest.mark.parametrize("init", ["pretrained", "finetuned"])
def test_factory_trains_the_biased_main_pair(tiny_checkpoint, monkeypatch, init):
    monkeypatch.setenv(ENV["base"], str(tiny_checkpoint))
    monkeypatch.setenv(ENV["large"], str(tiny_checkpoint))
    model = W.create_biased_main(setup({"main_init": init, "biased_trainable": "none"}))
    x, y = data()
    model.fit(x[:6], y[:6], x[6:], y[6:])
    assert model.predict_proba(x).shape == (9, 3)
    if init == "finetuned":
        assert [row["stage"] for row in model.history] == [1, 2]
        assert model.stages[0].config.lr == 1e-4 and model.stages[1].config.lr == 1e-3
        assert model.stages[1].module.main is model.stages[0].module  # main starts fine-tuned


def test_missing_weights_say_what_to_provide(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV["base"], raising=False)
    with pytest.raises(MissingWeights) as info:
        W.create(setup({"size": "base"}))
    message = str(info.value)
    assert "GENREBENCH_WAV2VEC2_BASE" in message and "config.json" in message
    assert "model.safetensors" in message and "base_checkpoint" in message
    assert weights_needed("base") in message
    monkeypatch.setenv(ENV["base"], str(tmp_path / "nowhere"))
    with pytest.raises(MissingWeights, match="nowhere is not a folder"):
        checkpoint_folder("base", {})
    with pytest.raises(MissingWeights, match=r"has no config\.json and no model\.safetensors"):
        checkpoint_folder("base", {"base_checkpoint": str(tmp_path)})
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(MissingWeights, match=r"model option base_checkpoint=.* has no model"):
        checkpoint_folder("base", {"base_checkpoint": str(tmp_path)})
    (tmp_path / "pytorch_model.bin").write_bytes(b"")
    assert checkpoint_folder("base", {"base_checkpoint": str(tmp_path)}) == tmp_path


def test_biased_main_checks_both_folders_before_training(tiny_checkpoint, monkeypatch):
    monkeypatch.setenv(ENV["large"], str(tiny_checkpoint))
    monkeypatch.delenv(ENV["base"], raising=False)
    with pytest.raises(MissingWeights, match="wav2vec2-base"):
        W.create_biased_main(setup({}))


def test_without_transformers_the_message_says_what_to_install(tiny_checkpoint, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(W.ConfigError, match=r"genrebench-yan2023\[wav2vec2\]"):
        W.load_encoder(tiny_checkpoint)
