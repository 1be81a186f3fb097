"""The lab's machinery: you never need to open these files to follow a notebook.

What a notebook calls lives one folder up.  Here: the engine (``engine.py``, ``threads.py``, ``training.py``,
``settings.py``), the data files and cache (``mnist_files.py``, ``cache.py``), answers and safe writes
(``answers.py``, ``files.py``, ``questions.py``, ``handin.py``), widgets and checks (``widgets.py``, ``checking.py``,
``figure_style.py``, ``claims.py``) and the command line (``compare.py``).

Importing it, before PyTorch does any work: denormal floats are flushed to zero (saturated Sigmoid/Tanh units make
them, and x86 arithmetic on them is slow: a saturated step took 2.6 ms instead of 1.7), and Intel MKL is asked for
its strict reproducibility mode (``threads.py``).
"""

import torch as _torch

_torch.set_flush_denormal(True)

from . import threads as _threads  # noqa: E402,F401 - sets MKL_CBWR before MKL's first matrix product
