"""PyTorch companion of Dien.NET.

The same models as the .NET library (``DienModel``, ``DinModel``, ``BaseModel``) with exactly its state-dict
keys and shapes (docs/state-dict.md), built from the same options (the ``options.json`` a ``.dien`` checkpoint
carries); ``.dien`` checkpoints read and written here; a DDP trainer (``python -m dien.train``). The .NET library
is the reference: every variant is tested against it in float64 (tests/Dien.Tests/Interop).
"""

from .options import DienOptions, OptionsError
from .models import BaseModel, CtrModel, DienModel, DinModel, DienOutput, build_model, MODEL_KINDS
from .batch import Batch, make_batch
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint, read_checkpoint

__all__ = [
    "DienOptions", "OptionsError", "CtrModel", "DienModel", "DinModel", "BaseModel", "DienOutput", "build_model",
    "MODEL_KINDS", "Batch", "make_batch", "CheckpointError", "load_checkpoint", "save_checkpoint", "read_checkpoint",
]
