"""The lab's machinery: you never need to open these files to follow a notebook.

What a notebook calls lives one folder up, in files a student can read.  Here is what makes it fast, safe and
checked: the stacked training engine (``engine.py``) and its thread choice (``threads.py``), the training loop's
bookkeeping (``training.py``), settings checks (``settings.py``), MNIST's files (``mnist_files.py``), the disk
cache (``cache.py``), safe file writes (``files.py``), saved answers (``answers.py``), widget plumbing
(``widgets.py``), exercise checking (``checking.py``), the hand-in export (``handin.py``), the claim harness
(``claims.py``) and the command line (``compare.py``).

Importing it sets two things for the whole process, before PyTorch does any work: denormal floats are flushed
to zero (saturated Sigmoid/Tanh units produce them, and x86 arithmetic on them is many times slower: a saturated
step took 2.6 ms instead of 1.7; PyTorch's worker threads inherit the setting), and Intel MKL is asked for its
strict reproducibility mode (``threads.py``).
"""

import torch as _torch

_torch.set_flush_denormal(True)

from . import threads as _threads  # noqa: E402,F401 - sets MKL_CBWR before MKL's first matrix product
