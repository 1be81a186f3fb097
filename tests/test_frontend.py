"""The widget front-end check: ipywidgets 7 needs jupyterlab_widgets 1.x, ipywidgets 8 needs 3.x."""

import pytest

from helpers._machinery import widgets


@pytest.mark.parametrize("kernel, front", [("7.7.1", "1.1.11"), ("7.8.5", "1.1.11"), ("8.1.9", "3.0.17"),
                                           ("7.7.1", None), (None, "3.0.13"), ("8.0.0", "3.0.0")])
def test_matching_or_unknown_pairs_say_nothing(kernel, front):
    assert widgets.mismatch(kernel, front) is None


def test_ipywidgets_7_with_jupyterlab_widgets_3_names_the_fix():
    message = widgets.mismatch("7.7.1", "3.0.13")
    assert "ipywidgets 7.7.1 with jupyterlab_widgets 3.0.13" in message
    assert 'python -m pip install "jupyterlab_widgets>=1.1.11,<3"' in message
    assert "restart JupyterLab" in message


def test_ipywidgets_8_with_jupyterlab_widgets_1_names_the_fix():
    message = widgets.mismatch("8.1.5", "1.1.11")
    assert 'python -m pip install "jupyterlab_widgets>=3,<4"' in message


def test_shown_once_per_kernel_and_never_on_colab(monkeypatch, capsys):
    versions = {"ipywidgets": "7.7.1", "jupyterlab_widgets": "3.0.13"}
    monkeypatch.setattr(widgets, "_version", versions.get)
    monkeypatch.setattr(widgets, "_checked", False)
    widgets.warn_if_mismatched()
    widgets.warn_if_mismatched()
    assert capsys.readouterr().err.count("will not show in JupyterLab") == 1  # no IPython shell here: stderr
    monkeypatch.setattr(widgets, "_checked", False)
    monkeypatch.setitem(__import__("sys").modules, "google.colab", object())
    widgets.warn_if_mismatched()
    assert capsys.readouterr().err == ""
