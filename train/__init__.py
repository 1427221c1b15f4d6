"""The bundled QLoRA trainer.

It reads only the Arrow folders written by ``dataprep tokenize`` (columns
``input_ids``, ``attention_mask``, ``labels`` and, when packed, ``position_ids``)
and nothing else from dataprep, so it can be used on any dataset in that shape.

- ``train.config.TrainConfig``: the typed, documented configuration.
- ``train.trainer.train(config)``: QLoRA training with auto-resume and learning curves.
- ``train.plan.plan(config)``: batch size, steps, learning rate and GPU memory, before loading anything.
- ``train.merge.merge_adapter(...)``: merge an adapter into a 16-bit copy of the base model.
"""
