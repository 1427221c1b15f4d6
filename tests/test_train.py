"""The bundled QLoRA trainer, on a tiny random Llama with real 4-bit NF4 and paged AdamW on the CPU."""

import json
import logging
import math
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from train.config import TrainConfig, TrainConfigError, load_config
from train.curves import diagnose
from train.data import Collator

VOCAB = 160


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A random Llama of ~100k parameters and tokenized train/val splits in dataprep's Arrow layout."""
    from datasets import Dataset
    from transformers import LlamaConfig, LlamaForCausalLM

    root = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=48,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    LlamaForCausalLM(config).save_pretrained(root / "model")
    rng = random.Random(0)

    def rows(n):
        out = []
        for _ in range(n):
            prompt = [1] + [rng.randrange(3, 80) for _ in range(rng.randint(3, 8))]
            # A learnable answer: the prompt's tokens shifted into the upper half of the vocabulary.
            answer = [t + 80 for t in prompt[1:]] + [2]
            ids = prompt + answer
            out.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": [-100] * len(prompt) + answer})
        return out

    Dataset.from_list(rows(48)).save_to_disk(root / "tok" / "train")
    Dataset.from_list(rows(12)).save_to_disk(root / "tok" / "val")
    return root


def config_for(tiny, out, **overrides):
    options = dict(
        model=str(tiny / "model"),
        train_data=str(tiny / "tok" / "train"),
        val_data=str(tiny / "tok" / "val"),
        output_dir=str(out),
        max_steps=8,
        micro_batch_size=4,
        gradient_accumulation_steps=1,
        learning_rate=1e-2,
        warmup=0,
        eval_steps=2,
        save_steps=2,
        save_total_limit=None,
        lora_r=8,
        lora_dropout=0.0,
    )
    options.update(overrides)
    return TrainConfig(**options)


# --- config -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, message",
    [
        ({"lora_alpha": 0}, "lora_alpha must be positive"),
        ({"lora_r": 0}, "lora_r must be at least 1"),
        ({"learning_rate": -1}, "learning_rate must be positive"),
        ({"lora_dropout": 1.0}, r"lora_dropout must be in \[0, 1\)"),
        ({"max_steps": 0}, "max_steps must be at least 1"),
        ({"epochs": 0}, "set epochs above 0 or max_steps"),
        ({"quantization": "none", "compute_dtype": "fp16"}, "fp16 master weights"),
    ],
)
def test_config_mistakes_are_sentences(options, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(model="m", **options)


def test_config_file_errors_name_the_file_and_field(tmp_path):
    path = tmp_path / "t.yml"
    path.write_text("model: m\nlora_alhpa: 16\nlora_r: -2\n")
    with pytest.raises(TrainConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert f"{path}: lora_alhpa: unknown option; did you mean 'lora_alpha'?" in message
    assert f"{path}: lora_r: lora_r must be at least 1" in message


def test_a_logger_that_is_not_installed_is_a_config_error(tmp_path, monkeypatch, cli):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name.startswith("tensorboard") else real(name, *a)
    )
    with pytest.raises(
        ValueError, match=r"tensorboard needs the tensorboard package.*pip install 'dataprep\[tensorboard\]'"
    ):
        TrainConfig(model="m", log_to=["tensorboard"])
    config = tmp_path / "t.yml"
    config.write_text("model: m\nlog_to: [tensorboard]\n")
    for command in ("plan", "train"):
        result = cli(command, config)
        assert result.exit_code == 2, result.output
        assert "log_to: tensorboard needs the tensorboard package" in result.output and "bug" not in result.output


def test_train_help_lists_every_option_by_group(cli):
    from train.config import OPTION_GROUPS

    grouped = [name for names in OPTION_GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(TrainConfig.model_fields), "every option belongs to one group"
    result = cli("train", "--help")
    assert "LoRA: lora_r=16, lora_alpha=32" in result.output and "data: train_data, val_data" in result.output


def test_missing_data_is_a_clear_error(tmp_path):
    with pytest.raises(TrainConfigError, match="train_data: .* does not exist"):
        TrainConfig(model="m", train_data=tmp_path / "nope", output_dir=tmp_path / "o").require_data()


# --- diagnosis ----------------------------------------------------------------------------


def curve(fn, steps=100, every=1, noise=0.01, seed=0):
    rng = random.Random(seed)
    return [(s, fn(s) + rng.gauss(0, noise)) for s in range(every, steps + 1, every)]


def test_diagnosis_well_fit():
    train = curve(lambda s: 1.0 + 2.0 * math.exp(-s / 10))
    val = curve(lambda s: 1.08 + 2.0 * math.exp(-s / 10), every=10, noise=0.005)
    assert diagnose(train, val).verdict == "well fit"


def test_diagnosis_overfit_names_step_and_checkpoint():
    train = curve(lambda s: 0.3 + 2.5 * math.exp(-s / 15))
    val = curve(lambda s: 1.2 + 1.5 * math.exp(-s / 12) + 0.006 * max(0, s - 40), every=10, noise=0.003)
    result = diagnose(train, val, checkpoints=[25, 50, 75, 100])
    assert result.verdict == "overfit"
    assert result.best_step == 40 and result.best_checkpoint == 50
    assert "step 40" in result.reasons[0] and "checkpoint-50" in result.reasons[1]


def test_diagnosis_underfit_flat():
    result = diagnose(curve(lambda s: 3.0, noise=0.02), curve(lambda s: 3.05, every=10))
    assert result.verdict == "underfit" and "flat" in result.reasons[0]


def test_diagnosis_underfit_still_falling():
    result = diagnose(curve(lambda s: 3.0 - 0.02 * s), curve(lambda s: 3.1 - 0.02 * s, every=10))
    assert result.verdict == "underfit" and "still falling" in result.reasons[0]


def test_diagnosis_needs_points():
    assert diagnose([(1, 2.0), (2, 1.9)], []).verdict == "inconclusive"


# --- data ---------------------------------------------------------------------------------


def test_collator_pads_and_masks():
    batch = Collator()(
        [
            {"input_ids": [1, 5, 6], "attention_mask": [1, 1, 1], "labels": [-100, 6, 2]},
            {"input_ids": [1, 7], "attention_mask": [1, 1], "labels": [-100, 7]},
        ]
    )
    assert batch["input_ids"].tolist() == [[1, 5, 6], [1, 7, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 2], [-100, 7, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]


def test_collator_keeps_packed_examples_apart_by_position_ids():
    batch = Collator()(
        [
            {"input_ids": [1, 5, 1, 6, 7], "labels": [-100, 5, -100, 6, 7], "position_ids": [0, 1, 0, 1, 2]},
            {"input_ids": [1, 8], "labels": [-100, 8], "position_ids": [0, 1]},
        ]
    )
    assert "attention_mask" not in batch
    assert batch["position_ids"].tolist() == [[0, 1, 0, 1, 2], [0, 1, 0, 1, 2]]
    assert batch["labels"][1].tolist() == [-100, 8, -100, -100, -100]


# --- training -----------------------------------------------------------------------------


def test_qlora_trains_on_cpu_and_reports(tiny, tmp_path):
    from train.trainer import train

    result = train(config_for(tiny, tmp_path / "out"))
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["steps"] == 8
    assert report["final_val_loss"] < report["curves"]["val"][0][1]
    assert math.isfinite(report["final_train_perplexity"])
    assert report["diagnosis"]["verdict"] in {"underfit", "overfit", "well fit", "inconclusive"}
    assert report["supervised_tokens"] > 0
    assert (result.adapter_dir / "adapter_model.safetensors").exists()
    assert (tmp_path / "out" / "curves.png").stat().st_size > 1000
    assert "Diagnosis" in (tmp_path / "out" / "report.md").read_text()


def test_model_is_really_4bit(tiny, tmp_path):
    import bitsandbytes as bnb

    from train.model import load_model

    model = load_model(config_for(tiny, tmp_path))
    assert any(isinstance(m, bnb.nn.Linear4bit) for m in model.modules())
    quant = model.base_model.model.model.layers[0].self_attn.q_proj.base_layer.weight.quant_state
    assert quant.quant_type == "nf4"


def test_evaluating_leaves_training_gradients_alone(tiny, tmp_path):
    """bitsandbytes repacks 4-bit weights for its CPU inference kernel at the first eval; we keep it from doing so."""
    from train.model import load_model

    model = load_model(config_for(tiny, tmp_path))
    ids = torch.tensor([[1, 5, 6, 7, 8, 9, 85, 86]])

    def input_gradient():
        model.train()
        embeds = model.get_input_embeddings()(ids).detach().requires_grad_(True)
        model(inputs_embeds=embeds, labels=ids).loss.backward()
        model.zero_grad()
        return embeds.grad

    before = input_gradient()
    model.eval()
    with torch.no_grad():
        model(input_ids=ids)
    after = input_gradient()
    assert before is not None and after is not None
    assert torch.allclose(before, after)


def _steps_run(report):
    """Optimizer steps this call ran: the logged training losses after the checkpoint it started from."""
    return [step for step, _ in report["curves"]["train"]]


def test_rerun_resumes_only_the_same_run_and_never_passes_max_steps(tiny, tmp_path, caplog):
    from datasets import load_from_disk

    from train.trainer import train

    out = tmp_path / "out"
    caplog.set_level(logging.INFO, logger="dataprep.train")
    first = train(config_for(tiny, out, max_steps=4)).report
    assert first["steps"] == 4 and first["start"].startswith("training from scratch: no checkpoint")

    # The same command again: the run is finished, so no step 5.
    again = train(config_for(tiny, out, max_steps=4)).report
    assert again["steps"] == 4 and "already reached step 4 of 4" in again["start"]
    assert _steps_run(again) == _steps_run(first)

    # A longer run of the same config would mix two schedules: it starts from scratch, and says why.
    longer = train(config_for(tiny, out, max_steps=6)).report
    assert longer["steps"] == 6 and "different length (max_steps 4 -> 6)" in longer["start"]
    assert "removed checkpoint-2, checkpoint-4" in caplog.text

    # Other LoRA: from scratch.
    lora = train(config_for(tiny, out, max_steps=6, lora_r=4)).report
    assert lora["steps"] == 6 and "different LoRA (lora_r 8 -> 4)" in lora["start"]

    # The same options on changed data (a rerun of the pipeline after an upstream edit): from scratch.
    changed = tmp_path / "tok-changed"
    load_from_disk(str(tiny / "tok" / "train")).select(range(40)).save_to_disk(changed)
    data = train(config_for(tiny, out, max_steps=6, lora_r=4, train_data=str(changed))).report
    assert data["steps"] == 6 and "different data (changed)" in data["start"]

    # fresh=True (what --force and --from do in a pipeline) ignores a matching checkpoint.
    forced = train(config_for(tiny, out, max_steps=6, lora_r=4, train_data=str(changed)), fresh=True).report
    assert forced["steps"] == 6 and forced["start"].startswith("training from scratch: asked to start again")
    assert _steps_run(forced) == _steps_run(data)


def _adapter(path):
    from safetensors.torch import load_file

    return load_file(path / "adapter" / "adapter_model.safetensors")


RESUME_RUN = {"max_steps": 12, "save_steps": 4, "eval_steps": 4, "lora_dropout": 0.1}


@pytest.fixture(scope="module")
def clean_run(tiny, tmp_path_factory):
    """The uninterrupted run the interrupted ones must end up equal to."""
    from train.trainer import train

    out = tmp_path_factory.mktemp("clean")
    train(config_for(tiny, out, **RESUME_RUN))
    return out


def _signal_at(signum, step):
    """A callback that sends this process a signal at the end of an optimizer step, as Ctrl-C or `kill` would."""
    from transformers import TrainerCallback

    class Sender(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == step:
                os.kill(os.getpid(), signum)

    return Sender()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_saves_a_checkpoint_and_resumes_to_the_same_weights(tiny, tmp_path, clean_run, signum):
    """A signal before the first save_steps: a checkpoint is saved anyway, and the rerun ends where an
    uninterrupted run ends."""
    from train.callbacks import TrainingInterrupted
    from train.trainer import train

    handler_before = signal.getsignal(signum)
    config = config_for(tiny, tmp_path / "run", **{**RESUME_RUN, "save_steps": 100})
    with pytest.raises(TrainingInterrupted) as info:
        train(config, callbacks=[_signal_at(signum, 5)])
    assert info.value.signum == signum and info.value.step == 5
    assert signal.getsignal(signum) == handler_before, "the trainer must give the signal back"
    assert (tmp_path / "run" / "checkpoint-5" / "trainer_state.json").exists()
    assert not (tmp_path / "run" / "adapter").exists()

    report = train(config).report
    assert report["steps"] == 12 and report["start"].startswith("resuming from checkpoint-5 (step 5 of 12)")
    clean, resumed = _adapter(clean_run), _adapter(tmp_path / "run")
    for name in clean:
        torch.testing.assert_close(resumed[name], clean[name], rtol=1e-4, atol=1e-5)


def test_killed_run_resumes_to_the_same_weights(tiny, tmp_path, clean_run):
    """SIGKILL `dataprep train` after its first checkpoint; the rerun ends with the uninterrupted run's weights."""
    from train.trainer import train

    overrides = RESUME_RUN
    killed = config_for(tiny, tmp_path / "killed", **overrides)
    config_file = tmp_path / "killed.yml"
    config_file.write_text(yaml.safe_dump(killed.model_dump(mode="json", exclude_none=True)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "dataprep", "train", str(config_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    first = tmp_path / "killed" / "checkpoint-4" / "trainer_state.json"
    deadline = time.time() + 180
    while time.time() < deadline and not first.exists() and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert first.exists(), "the run died before its first checkpoint"
    assert not (tmp_path / "killed" / "adapter").exists(), "the kill came too late to test resuming"

    train(load_config(config_file))
    clean, resumed = _adapter(clean_run), _adapter(tmp_path / "killed")
    assert clean.keys() == resumed.keys()
    for name in clean:
        torch.testing.assert_close(resumed[name], clean[name], rtol=1e-4, atol=1e-5)
    start = _adapter_at_step(tmp_path / "killed" / "checkpoint-4")
    assert any(not torch.equal(start[n], clean[n]) for n in clean), "training after the checkpoint changed nothing"


def _adapter_at_step(path):
    from safetensors.torch import load_file

    return load_file(path / "adapter_model.safetensors")


# --- merge and plan -----------------------------------------------------------------------


def test_merge_into_16bit_base_keeps_the_fine_tune(tiny, tmp_path):
    from transformers import AutoModelForCausalLM

    from train.merge import merge_adapter
    from train.trainer import train

    result = train(config_for(tiny, tmp_path / "out", max_steps=4))
    info = merge_adapter(result.adapter_dir, tmp_path / "merged", dtype="fp32")
    assert info["max_abs_diff_merged_vs_adapter"] < 1e-3
    assert info["max_abs_change_vs_base"] > 1e-3
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    assert not any("Linear4bit" in type(m).__name__ for m in merged.modules())


def test_merge_refuses_a_quantized_base(tiny, tmp_path):
    from train.merge import merge_adapter
    from train.trainer import train

    result = train(config_for(tiny, tmp_path / "out", max_steps=2))
    quantized = tmp_path / "q"
    quantized.mkdir()
    config = json.loads((tiny / "model" / "config.json").read_text())
    config["quantization_config"] = {"load_in_4bit": True}
    (quantized / "config.json").write_text(json.dumps(config))
    with pytest.raises(TrainConfigError, match="quantized checkpoint"):
        merge_adapter(result.adapter_dir, tmp_path / "m", base=str(quantized))


LLAMA_2_7B = {
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "vocab_size": 32000,
    "tie_word_embeddings": False,
}


def test_plan_for_a_7b_config(tiny, tmp_path):
    from train.plan import plan

    model = tmp_path / "llama-7b"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(LLAMA_2_7B))
    config = config_for(
        tiny,
        tmp_path / "o",
        model=str(model),
        micro_batch_size=2,
        gradient_accumulation_steps=8,
        max_steps=None,
        epochs=2,
        max_length=2048,
        gpu_memory_gb=8,
        lora_r=16,
    )
    result = plan(config)
    assert 6.5e9 < result["parameters"] < 6.9e9
    assert result["effective_batch_size"] == 16
    assert result["steps_per_epoch"] == 3 and result["total_steps"] == 6
    per_batch = result["supervised_tokens"] / 48 * 16
    assert result["suggested_learning_rate"] == pytest.approx(3e-4 * math.sqrt(per_batch / 4_000_000))
    memory = result["memory_gib"]
    assert 3.3 < memory["weights"] < 4.2  # 4-bit linear layers + 16-bit embeddings and head
    assert memory["lora_params"] == 32 * 16 * (4 * (4096 + 4096) + 3 * (4096 + 11008))
    assert memory["activations_checkpointed"] < memory["activations_full"]
    assert result["fit"].startswith("WARNING")
