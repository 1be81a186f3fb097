"""Every notebook, run in a real JupyterLab in headless Chromium, the way a student runs it.

For each notebook in notebooks/: open it, Run → Run All Cells, wait until the kernel is idle and
every code cell has an execution count, then check that no cell shows an error, that the live
figure (an <img>) changes while training runs, and that a viva "Show model answer" button shows
its answer.  A full screenshot of each notebook goes to artifacts/browser/<stem>.png.

Run:  PYTHONPATH=. python -m pytest tests/browser -m browser -v -p no:cacheprovider -o addopts=""
Needs /usr/bin/chromium and playwright (bash tests/browser/install.sh); without them the tests
are skipped locally and fail when $CI is set.

How errors are found: JupyterLab 4 renders an error output exactly like a stderr stream (same
``data-mime-type="application/vnd.jupyter.stderr"``, same classes; only the text differs), and
tqdm writes its progress bars to stderr too.  So two independent checks are used:
  * the notebook model (``window.jupyterapp``, exposed with ``--LabApp.expose_app_in_browser``,
    as JupyterLab's own Galata tests do): any output with ``output_type == "error"``;
  * the DOM: a stderr output whose text is an IPython traceback ("Traceback (most recent call
    last)" or IPython's location line "Cell In[n], line m").
``test_error_cell_is_detected`` proves both on a notebook with a failing cell, and
``test_live_image_sampling`` proves the live-figure check on an image updated in place.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
RUN_TIMEOUT = float(os.environ.get("LAB_BROWSER_TIMEOUT", 900))  # seconds per notebook
STALL_TIMEOUT = 180  # kernel idle, cells still waiting, nothing changing: give up after this
LIVE_NOTEBOOK = "03_live_training"  # must show a live figure that changes while it trains

# Selectors (JupyterLab 4.6, ipywidgets 8).
CELL = ".jp-Notebook-cell"
PROMPT = ".jp-InputPrompt"                               # "[3]:", "[*]:" or "[ ]:"
KERNEL_INDICATOR = ".jp-Notebook-ExecutionIndicator"     # data-status="idle" | "busy" | ...
STDERR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
OUTPUT_IMG = ".jp-OutputArea-output img"
RUN_MENU = ".lm-MenuBar-itemLabel"
RUN_ALL_ITEM = ".lm-Menu-item"                          # data-command="runmenu:run-all", text below
RUN_ALL_TEXT = re.compile(r"^\s*Run All Cells\s*$")
REVEAL_BUTTON = "button.widget-button"                   # text "Show model answer"

# One call per poll: the state of the notebook `name`, read from the DOM and from its model.
STATE_JS = r"""
([name, liveCells]) => {
  const app = window.jupyterapp;
  if (!app) return {ready: false, why: "window.jupyterapp is missing (expose_app_in_browser?)"};
  let panel = null;
  for (const w of app.shell.widgets("main")) {
    if (w.context && w.context.path === name) panel = w;
  }
  if (!panel || !panel.content || !panel.content.model) return {ready: false, why: "notebook not open"};
  const traceback = /Traceback \(most recent call last\)|^\s*Cell In\[\d+\], line \d+/m;
  const hash = (s) => {  // cheap fingerprint of an image's data: URL
    let h = 0;
    for (let i = 0; i < s.length; i += 7) h = (h * 31 + s.charCodeAt(i)) | 0;
    return `${s.length}:${h}`;
  };
  const cellNodes = panel.content.node.querySelectorAll(%(CELL)s);
  const cells = panel.content.widgets.map((cell, i) => {
    const m = cell.model;
    const info = {index: i, type: m.type, inDom: cellNodes[i] === cell.node};
    if (m.type !== "code") return info;
    const prompt = cell.node.querySelector(%(PROMPT)s);
    info.prompt = prompt ? prompt.textContent.trim() : null;
    info.count = m.executionCount;
    info.empty = m.sharedModel.getSource().trim() === "";
    info.modelErrors = [];
    for (let j = 0; j < m.outputs.length; j++) {  // (toJSON of every output would copy every image)
      const o = m.outputs.get(j);
      if (o.type === "error") { const e = o.toJSON(); info.modelErrors.push(`${e.ename}: ${e.evalue}`); }
    }
    info.domErrors = [...cell.node.querySelectorAll(%(STDERR_OUTPUT)s)]
                        .map(e => e.textContent).filter(t => traceback.test(t)).map(t => t.slice(-600));
    if (liveCells.includes(i)) {
      info.images = [...cell.node.querySelectorAll(%(OUTPUT_IMG)s)].map(img => hash(img.src || ""));
    }
    return info;
  });
  const indicator = panel.node.querySelector(%(KERNEL_INDICATOR)s);
  const dialogs = [...document.querySelectorAll(".jp-Dialog")].map(d => d.innerText.slice(0, 300));
  return {
    ready: true,
    indicator: indicator ? indicator.getAttribute("data-status") : null,
    kernel: panel.sessionContext.kernelDisplayStatus,
    cells, dialogs,
  };
}
""" % {k: json.dumps(v) for k, v in
       dict(CELL=CELL, PROMPT=PROMPT, STDERR_OUTPUT=STDERR_OUTPUT, OUTPUT_IMG=OUTPUT_IMG,
            KERNEL_INDICATOR=KERNEL_INDICATOR).items()}

EXECUTED = re.compile(r"^\[\d+\]:$")


def code_cells_of(path: Path) -> list[tuple[int, str]]:
    """(cell index, source) of every code cell in a notebook file."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            src = cell["source"]
            out.append((i, "".join(src) if isinstance(src, list) else src))
    return out


def errors_in(state: dict) -> list[str]:
    """Every error the page shows, one line per cell: model errors and tracebacks in the DOM."""
    found = []
    for c in state.get("cells", []):
        if c.get("modelErrors") or c.get("domErrors"):
            detail = "; ".join(c["modelErrors"]) or c["domErrors"][0].strip().splitlines()[-1]
            tail = "\n    ".join(c["domErrors"][0].strip().splitlines()[-6:]) if c.get("domErrors") else ""
            found.append(f"cell {c['index']} (prompt {c.get('prompt')}): {detail}"
                         + (f"\n    {tail}" if tail else ""))
    return found


def pending_cells(state: dict) -> list[str]:
    """Code cells that have not (yet) run: no execution count in the model or the prompt."""
    return [f"cell {c['index']} {c.get('prompt')}" for c in state["cells"]
            if c["type"] == "code" and not c["empty"]
            and (c["count"] is None or not EXECUTED.match(c.get("prompt") or ""))]


def open_notebook(page, server, name: str) -> dict:
    """Open `name` in JupyterLab, wait for its kernel to be idle; returns the first state."""
    page.goto(server.lab_url(name), wait_until="domcontentloaded", timeout=120_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started", timeout=120_000)
    page.wait_for_selector(f"{CELL}", timeout=120_000)
    deadline = time.monotonic() + 120
    while True:
        state = page.evaluate(STATE_JS, [name, []])
        select = page.locator(".jp-Dialog button.jp-mod-accept")
        if state.get("dialogs") and select.count():  # e.g. "Select Kernel" for a notebook without one
            select.first.click()
        if state["ready"] and state["kernel"] == "idle" and state["indicator"] == "idle":
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}: the kernel did not become idle: {state}")
        time.sleep(0.5)


def run_all(page) -> None:
    """Run → Run All Cells, through the menu bar as a student does."""
    # Start from clean prompts even if a notebook was committed with outputs: then any "[n]:"
    # seen afterwards comes from this run.
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.locator(RUN_MENU, has_text=re.compile(r"^Run$")).first.click()
    item = page.locator(RUN_ALL_ITEM).filter(has=page.locator(".lm-Menu-itemLabel", has_text=RUN_ALL_TEXT))
    item.wait_for(state="visible", timeout=10_000)
    item.click()


def run_and_wait(page, name: str, timeout: float, live_cells: list[int] = ()) -> dict:
    """Run all cells and wait until the kernel is idle and every code cell has run (or an error
    shows, or nothing moves any more).  Returns the last state, with "images": for each live
    cell, the distinct image fingerprints seen while that cell was still running."""
    live_cells = list(live_cells)
    images: dict[int, list[str]] = {i: [] for i in live_cells}
    run_all(page)
    started = time.monotonic()
    last_change, last_key, saw_busy, errors_since = started, None, False, float("inf")
    while True:
        state = page.evaluate(STATE_JS, [name, live_cells])
        now = time.monotonic()
        cells = {c["index"]: c for c in state["cells"]}
        for i in live_cells:  # sample the live figure while its cell has not finished
            c = cells[i]
            if not EXECUTED.match(c.get("prompt") or ""):
                for h in c.get("images", []):
                    if h not in images[i]:
                        images[i].append(h)
        saw_busy = saw_busy or state["kernel"] == "busy" or any(
            c.get("prompt") == "[*]:" or c.get("count") is not None for c in state["cells"])
        pending = pending_cells(state)
        idle = state["kernel"] == "idle" and state["indicator"] == "idle"
        state.update(images=images, seconds=now - started, pending=pending, errors=errors_in(state))
        if state["errors"] or state["dialogs"]:
            # Fail fast, but let the kernel settle first (the error output arrives before the reply).
            if idle or state["dialogs"] or now - errors_since > 30:
                return state
            errors_since = min(errors_since, now)
        if idle and saw_busy and not pending:
            return state
        key = (tuple(pending), state["kernel"], tuple(len(images[i]) for i in live_cells))
        if key != last_key:
            last_key, last_change = key, now
        if idle and now - last_change > STALL_TIMEOUT:
            state["stalled"] = True
            return state
        if now - started > timeout:
            state["timed_out"] = True
            return state
        time.sleep(0.5 if live_cells else 1.0)  # LivePlot redraws at most once a second


def screenshot(page, path: Path) -> None:
    """The whole notebook in one image: the viewport is made as tall as the notebook."""
    try:
        page.evaluate("() => { const s = window.jupyterapp && window.jupyterapp.shell;"
                      " if (s) { s.collapseLeft(); s.collapseRight(); } }")
        page.wait_for_timeout(300)
        size = page.viewport_size or {"width": 1400, "height": 1000}
        scroller = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer"  # the notebook's scroll box
        extra = page.evaluate("(sel) => { const o = document.querySelector(sel);"
                              " return o ? o.scrollHeight - o.clientHeight : 0; }", scroller)
        page.set_viewport_size({"width": size["width"], "height": min(size["height"] + max(extra, 0), 30000)})
        page.wait_for_timeout(1000)
        page.evaluate("(sel) => { const o = document.querySelector(sel); if (o) o.scrollTop = 0; }", scroller)
        page.wait_for_timeout(500)
        page.screenshot(path=str(path), full_page=True, timeout=60_000)
        page.set_viewport_size(size)
    except Exception as err:  # a screenshot must never hide the real failure
        print(f"screenshot {path} failed: {err}")


def describe(state: dict) -> str:
    keep = {k: state.get(k) for k in ("seconds", "kernel", "indicator", "pending", "errors", "dialogs",
                                      "stalled", "timed_out")}
    return json.dumps(keep, indent=1, default=str)


def check_viva(page, cell_index: int) -> str:
    """Answer the first viva question of a cell, then open its model answer; returns the answer's visible text."""
    cell = page.locator(CELL).nth(cell_index)
    button = cell.locator(REVEAL_BUTTON, has_text="Show model answer").first
    button.wait_for(state="visible", timeout=60_000)
    button.scroll_into_view_if_needed()
    handle = button.element_handle()  # a handle, not a locator: the text changes to "Hide model answer"
    assert handle.is_disabled(), "the model answer can be opened before anything is written"
    cell.locator("textarea").first.fill("My answer, written before reading the model answer.")
    page.wait_for_function("(b) => !b.disabled", arg=handle, timeout=30_000)
    # The answer is the widget after the row of buttons (an ipywidgets Output holding the answer as
    # Markdown, which JupyterLab renders with its math; display:none and empty until clicked).
    answer = handle.evaluate_handle("b => b.closest('.widget-hbox').nextElementSibling").as_element()
    assert answer is not None, "no widget after the 'Show model answer' button"
    assert "widget-output" in (answer.get_attribute("class") or "")
    assert not answer.is_visible(), "the model answer shows before the click"
    handle.click()
    page.wait_for_function("(el) => el.offsetParent !== null && el.innerText.trim().length > 20",
                           arg=answer, timeout=30_000)
    assert handle.inner_text().strip() == "Hide model answer"
    return answer.inner_text().strip()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_runs_in_jupyterlab(notebook: Path, page, lab_server, artifacts_dir):
    name = notebook.name
    code = code_cells_of(lab_server.root_dir / name)
    live = [i for i, src in code if "LivePlot(" in src]
    viva = [i for i, src in code if "viva.ask(" in src]
    if notebook.stem == LIVE_NOTEBOOK:
        assert live, f"{name} has no cell that creates a LivePlot"
    shot = artifacts_dir / f"{notebook.stem}.png"
    state: dict = {}
    try:
        first = open_notebook(page, lab_server, name)
        assert all(c["inDom"] for c in first["cells"]), "some cells are not in the DOM (windowing?)"
        assert sum(c["type"] == "code" for c in first["cells"]) == len(code)

        state = run_and_wait(page, name, RUN_TIMEOUT, live)
        print(f"{name}: ran in {state['seconds']:.0f} s")
        assert not state["errors"], f"{name}: error output(s):\n" + "\n".join(state["errors"])
        assert not state["dialogs"], f"{name}: a dialog opened: {state['dialogs']}"
        assert not state.get("timed_out"), f"{name}: not done after {RUN_TIMEOUT:.0f} s:\n{describe(state)}"
        assert not state.get("stalled"), f"{name}: kernel idle but cells did not run:\n{describe(state)}"
        assert not state["pending"], f"{name}: cells without execution count:\n{describe(state)}"

        for i in live:
            seen = state["images"][i]
            final = page.locator(CELL).nth(i).locator(OUTPUT_IMG)
            assert final.count() == 1, f"{name} cell {i}: expected one live <img>, found {final.count()}"
            assert final.first.get_attribute("src").startswith("data:image/png"), "the live figure is not a PNG"
            assert len(seen) >= 2, (f"{name} cell {i}: the live figure did not change while training "
                                    f"({len(seen)} distinct image(s) seen)")
            print(f"{name} cell {i}: {len(seen)} distinct live images seen while training")

        for i in viva[:1]:
            text = check_viva(page, i)
            print(f"{name} cell {i}: model answer shown ({len(text)} characters): {text[:80]!r}")
    except BaseException:
        print(f"--- {name}: last state\n{describe(state) if state else '(none)'}")
        print("--- browser console errors\n" + "\n".join(page.console_errors[-20:]))
        print("--- JupyterLab log (tail)\n" + lab_server.log_tail())
        raise
    finally:
        screenshot(page, shot)


def write_notebook(folder: Path, name: str, cells: list[str]) -> None:
    """A notebook of code cells, written into the server's (temporary) folder."""
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
                     "outputs": [], "source": src} for i, src in enumerate(cells)],
          "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                      "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    (folder / name).write_text(json.dumps(nb), encoding="utf-8")


def test_error_cell_is_detected(page, lab_server, artifacts_dir):
    """The error check itself: a failing cell is found, a stderr progress line is not."""
    name = "_selftest_error.ipynb"
    write_notebook(lab_server.root_dir, name, [
        'print("hello")',
        'import sys\nsys.stderr.write("training:  50%|#####     | 469/938 [00:02<00:02, Error rate 3%]\\n")',
        'raise ValueError("deliberate failure for the browser test")',
        'print("never runs")',
    ])
    try:
        open_notebook(page, lab_server, name)
        state = run_and_wait(page, name, 120)
        by_index = {c["index"]: c for c in state["cells"]}
        assert by_index[2]["modelErrors"] == ["ValueError: deliberate failure for the browser test"]
        assert len(by_index[2]["domErrors"]) == 1 and "ValueError" in by_index[2]["domErrors"][0]
        assert not by_index[1]["modelErrors"] and not by_index[1]["domErrors"], "stderr taken for an error"
        assert page.locator(CELL).nth(1).locator(STDERR_OUTPUT).count() == 1  # it is there, as stderr
        assert len(state["errors"]) == 1 and state["errors"][0].startswith("cell 2 (prompt [3]:): ValueError")
        assert "cell 3 [ ]:" in state["pending"]  # Run All stops at the error
        assert state["seconds"] < 60
    finally:
        screenshot(page, artifacts_dir / "_selftest_error.png")


def test_live_image_sampling(page, lab_server, artifacts_dir):
    """The live-figure check itself: an image updated in place is seen changing, a still one is not."""
    name = "_selftest_live.ipynb"
    png = ("import io, time\nfrom matplotlib.figure import Figure\n"
           "from IPython.display import Image, display\n"
           "def png(k):\n    fig = Figure(figsize=(2, 1)); fig.suptitle(f'frame {k}')\n"
           "    b = io.BytesIO(); fig.savefig(b, format='png'); return Image(data=b.getvalue(), format='png')\n")
    write_notebook(lab_server.root_dir, name, [
        png,
        "h = display(png(0), display_id=True)\nfor k in range(1, 4):\n    time.sleep(1)\n    h.update(png(k))",
        "display(png(9))\ntime.sleep(3)",
    ])
    try:
        open_notebook(page, lab_server, name)
        state = run_and_wait(page, name, 120, [1, 2])
        assert not state["errors"] and not state["pending"], describe(state)
        assert len(state["images"][1]) >= 3, state["images"]   # 4 frames, about 1 s apart
        assert len(state["images"][2]) == 1, state["images"]   # one still image
        assert page.locator(CELL).nth(1).locator(OUTPUT_IMG).count() == 1  # updated in place
    finally:
        screenshot(page, artifacts_dir / "_selftest_live.png")


def own_answers_file(lab_server, name: str) -> Path:
    """A fresh answers file (and record/ beside it) for one self-test, so tests run before it cannot change it."""
    folder = lab_server.root_dir.parent / Path(name).stem
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder / "answers.json"


def test_observation_box_saves_and_reveals_the_reading(page, lab_server, artifacts_dir):
    """Notebook 04 §7's observation boxes, in a small notebook calling the same API (no training): an observation
    typed in the box is saved to the answers file, and only then does the button open the run's reading."""
    name = "_selftest_observation.ipynb"
    answers = own_answers_file(lab_server, name)  # earlier tests (notebook 04 run in full) may have saved obs-loss
    write_notebook(lab_server.root_dir, name, [
        f"import os\nos.environ['LAB_ANSWERS'] = {str(answers)!r}\n"
        "from helpers import viva\nreadings = {k: f'Model reading ({k}): Sigmoid made 2.88 % errors.' for k in "
        "('loss_reading', 'accuracy_reading', 'gradient_reading', 'conclusion_reading')}",
        'viva.ask(["obs-loss", "obs-accuracy", "obs-gradients", "obs-conclusion"], fill=readings)',
    ])
    try:
        open_notebook(page, lab_server, name)
        state = run_and_wait(page, name, 120)
        assert not state["errors"] and not state["pending"], describe(state)
        box = page.locator(CELL).nth(1)
        assert box.locator("textarea").count() == 4
        assert "Your observation: (a) Loss curves." in box.inner_text()
        text = check_viva(page, 1)  # types into the first box, then opens its reading
        assert text.startswith("Model reading (loss_reading): Sigmoid made 2.88 % errors."), text
        assert "How to read it" in text
        saved = json.loads(answers.read_text(encoding="utf-8"))
        assert saved["obs-loss"] == "My answer, written before reading the model answer."
    finally:
        screenshot(page, artifacts_dir / "_selftest_observation.png")


def test_export_button_writes_a_hand_in_that_opens_in_the_browser(page, lab_server, artifacts_dir):
    """The hand-in's button (end of notebooks 04 and 06), in a small notebook calling the same API: a name and an
    answer typed in the widgets, the button pressed, and the HTML file it wrote opened in the browser."""
    name = "_selftest_handin.ipynb"
    answers = own_answers_file(lab_server, name)  # no record/ from notebooks 03 and 04 run by earlier tests
    write_notebook(lab_server.root_dir, name, [f"import os\nos.environ['LAB_ANSWERS'] = {str(answers)!r}\n"
                                               'from helpers import viva\nviva.ask(["role"])', "viva.export_button()"])
    target = lab_server.root_dir / "my_lab_record.html"
    try:
        open_notebook(page, lab_server, name)
        state = run_and_wait(page, name, 120)
        assert not state["errors"] and not state["pending"], describe(state)
        page.locator(CELL).nth(0).locator("textarea").first.fill("Activations make the network non-linear.")
        export = page.locator(CELL).nth(1)
        export.locator("input[placeholder='as your lecturer knows you']").fill("Ada Lovelace")
        export.locator("input[placeholder='optional']").fill("s1815")
        export.locator("button", has_text="Export my lab record").click()
        page.wait_for_function("(el) => el.innerText.includes('Wrote')", arg=export.element_handle(), timeout=30_000)
        assert "Not run yet: notebook 03, 04" in export.inner_text()
        saved = json.loads(answers.read_text(encoding="utf-8"))
        assert saved[":student:name"] == "Ada Lovelace" and saved["role"] == "Activations make the network non-linear."
        page.goto(target.as_uri(), wait_until="load", timeout=30_000)
        text = page.inner_text("body")
        assert "Ada Lovelace" in text and "s1815" in text and "Activations make the network non-linear." in text
        assert "Not run yet: run notebook 03" in text
        data = json.loads(page.evaluate("() => document.getElementById('lab-record').textContent"))
        assert data["student"] == {"name": "Ada Lovelace", "number": "s1815"}
    finally:
        screenshot(page, artifacts_dir / "_selftest_handin.png")
