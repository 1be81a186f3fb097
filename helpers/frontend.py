"""Does the widgets' front end match the kernel's ipywidgets?  One clear message when it does not.

ipywidgets (in the kernel) and jupyterlab_widgets (JupyterLab's half, which draws them) come in pairs:
ipywidgets 7.x speaks the widget protocol 1.x, drawn by jupyterlab_widgets 1.x (in JupyterLab 4: 1.1.11),
ipywidgets 8.x speaks 2.x, drawn by jupyterlab_widgets 3.x.  ipywidgets 7.7 and older do not say so in
their metadata, so ``pip install ipywidgets==7.7.1 -r requirements.txt`` pulls jupyterlab_widgets 3, and
JupyterLab then shows "Failed to load model class 'VBoxModel' ... version ^1.5.0 is not registered,
however, 2.0.0 is" instead of every widget.  ``helpers.viva`` and ``helpers.exercises`` call
``warn_if_mismatched()`` when they first build a widget: it checks once per kernel and, on a mismatch,
shows the pip command that fixes it.  Colab draws widgets with its own front end (and ships ipywidgets
7.7.1): there is nothing to check, and nothing to install.
"""

from __future__ import annotations

import sys
from importlib import metadata

_checked = False


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _major(version: str) -> int | None:
    try:
        return int(version.split(".")[0])
    except ValueError:
        return None


def mismatch(ipywidgets_version: str | None, jupyterlab_widgets_version: str | None) -> str | None:
    """The Markdown message for a mismatched pair, or None when they match (or one is not installed here)."""
    if not ipywidgets_version or not jupyterlab_widgets_version:
        return None  # JupyterLab may run from another environment: nothing to compare here
    kernel, front = _major(ipywidgets_version), _major(jupyterlab_widgets_version)
    if kernel is None or front is None:
        return None
    if kernel == 7 and front >= 3:
        fix, kernel_front = '"jupyterlab_widgets>=1.1.11,<3"', 8
        other = ' Or move to ipywidgets 8: `python -m pip install --upgrade "ipywidgets>=8"`.'
    elif kernel >= 8 and front < 3:
        fix, kernel_front, other = '"jupyterlab_widgets>=3,<4"', 7, ""
    else:
        return None
    return (f"⚠ **The widgets below will not show in JupyterLab:** this environment has ipywidgets "
            f"{ipywidgets_version} with jupyterlab_widgets {jupyterlab_widgets_version}, which draws the widgets "
            f"of ipywidgets {kernel_front} (JupyterLab then says \"Failed to load model class …\"). To fix it, run "
            f"this in the environment that runs JupyterLab, then restart JupyterLab and reload the page:\n\n"
            f"    python -m pip install {fix}\n\n"
            f"{other.strip()} The notebook's computations are not affected.".strip())


def warn_if_mismatched() -> None:
    """Show the mismatch message once per kernel (not on Colab, whose front end is its own)."""
    global _checked
    if _checked:
        return
    _checked = True
    if "google.colab" in sys.modules:
        return
    message = mismatch(_version("ipywidgets"), _version("jupyterlab_widgets"))
    if message is None:
        return
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
        if get_ipython() is not None:
            display(Markdown(message))
            return
    except ImportError:
        pass
    print(message.replace("**", ""), file=sys.stderr)
