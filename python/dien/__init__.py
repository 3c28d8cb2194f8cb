"""PyTorch companion of Dien.NET.

The same models as the .NET library (``DienModel``, ``DinModel``, ``SumPoolingModel``: checkpoint kind ``BaseModel``) with exactly its state-dict
keys and shapes (docs/state-dict.md), built from the same options (the ``options.json`` a ``.dien`` checkpoint
carries); ``.dien`` checkpoints read and written here; a DDP trainer (``python -m dien.train``). The .NET library
is the reference: every variant is tested against it in float64 (tests/Dien.Tests/Interop).
"""

from .options import CtrModelOptions, OptionsError
from .models import SumPoolingModel, CtrModel, DienModel, DinModel, CtrOutput, build_model, MODEL_KINDS
from .batch import Batch, make_batch
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint, read_checkpoint

__all__ = [
    "CtrModelOptions", "OptionsError", "CtrModel", "DienModel", "DinModel", "SumPoolingModel", "CtrOutput", "build_model",
    "MODEL_KINDS", "Batch", "make_batch", "CheckpointError", "load_checkpoint", "save_checkpoint", "read_checkpoint",
]
