"""Drive a notebook in a real browser: JupyterLab in a subprocess, Debian's Chromium through Playwright.

Used by tests/test_browser.py and bench/browser_view.py.  Nothing here downloads a browser: Playwright
is pointed at /usr/bin/chromium (Debian's ``chromium`` package); ``playwright install`` is never needed.

    with running_lab(folder, tmp) as lab, browser(tmp) as context:
        page = open_notebook(context, lab, "00_welcome.ipynb")
        run_all_cells(page)
        wait_for_view(page)
        click_to_picture_ms(page, repeat=15)     # [ms, ...] Step click to new picture, timed in the page
        play_fps(page, seconds=3)                # {"fps": ..., ...}: pictures shown per second in Play
        wait_until_still(page)                   # the picture stopped changing after Pause
        notebook_errors(page)                    # [] when no cell shows an error
        screenshot_view(page, "view.png")

Each JupyterLab runs with its own configuration, data, runtime, settings and workspace folders (under
``tmp``), so nothing from ``~/.jupyter`` applies and nothing is written there; the kernel spec and the
ipywidgets extension still come from ``sys.prefix/share/jupyter``.  The news pop-up, update checks and
the extension manager (which asks PyPI) are switched off.

Selectors: the view is ``.ftt-view``; in it the picture ``img.ftt-picture``, ``button.ftt-step``,
``button.ftt-play`` (an ipywidgets ToggleButton: class ``mod-active`` while playing) and the message line
``.ftt-message`` (also ``.ftt-error`` while it shows an error).
"""

import contextlib
import json
import os
import pathlib
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

CHROMIUM = "/usr/bin/chromium"
MISSING = ("Chromium not found at /usr/bin/chromium; install Debian's chromium package to run the "
           "browser test")
NO_PLAYWRIGHT = ("The playwright package is missing; install the course's requirements "
                 "(./course test does) to run the browser test")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 # containers often have a tiny /dev/shm; Chromium then crashes without this
                 "--disable-dev-shm-usage"]
VIEWPORT = {"width": 1400, "height": 1000}

# The widget's parts, as the view marks them with add_class.
VIEW = ".ftt-view"
PICTURE = "img.ftt-picture"
STEP = "button.ftt-step"
PLAY = "button.ftt-play"
MESSAGE = ".ftt-message"
ERROR = ".ftt-error"
STATUS = ".ftt-status"
SLIDER = ".ftt-slider"
FUTURE = ".ftt-future"

# The notebook that is on screen (JupyterLab keeps hidden tabs in the DOM).
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"

# Front-end plugins that would reach the network or pop up: the news/update announcements and the
# extension manager (it lists extensions from PyPI).
DISABLED_PLUGINS = ["@jupyterlab/apputils-extension:announcements", "@jupyterlab/extensionmanager-extension"]
SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    # Keep every cell in the DOM, so cells below the fold can be read and waited on.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
SERVER_CONFIG = {
    "ServerApp": {"open_browser": False, "ip": "127.0.0.1",
                  # a safety net if this process dies without stopping the server
                  "shutdown_no_activity_timeout": 900},
    # no news feed, no update check, no extension listing from PyPI
    "LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
               "extension_manager": "readonly",
               # window.jupyterapp, to see which command a menu click ran
               "expose_app_in_browser": True},
}


# -- the browser -----------------------------------------------------------------------------------

def find_chromium():
    """The path of Debian's chromium, or None."""
    return CHROMIUM if os.access(CHROMIUM, os.X_OK) else None


def browser_missing():
    """Why the browser test cannot run here (a message), or None when it can."""
    if find_chromium() is None:
        return MISSING
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return NO_PLAYWRIGHT
    return None


def require_browser():
    """In a test: skip when Chromium or Playwright is missing; under CI (CI=true), fail instead."""
    import pytest

    problem = browser_missing()
    if problem is None:
        return find_chromium()
    if os.environ.get("CI") == "true":
        pytest.fail(f"{problem} (CI=true: the browser test must run in CI)", pytrace=False)
    pytest.skip(problem)


@contextlib.contextmanager
def browser(tmp_dir):
    """A headless Chromium (a Playwright BrowserContext) with a fresh profile under tmp_dir."""
    from playwright.sync_api import sync_playwright

    profile = pathlib.Path(tmp_dir) / "chromium-profile"
    profile.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport=VIEWPORT)
        try:
            yield context
        finally:
            context.close()


# -- JupyterLab ------------------------------------------------------------------------------------

class Lab:
    """A running JupyterLab: ``url`` (no trailing slash), ``token``, ``port``, ``pid``, ``log`` path."""

    def __init__(self, url, token, port, pid, log):
        self.url, self.token, self.port, self.pid, self.log = url, token, port, pid, log

    def api(self, path):
        """GET /api/PATH as JSON."""
        request = urllib.request.Request(f"{self.url}/api/{path}",
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def get_text(self, path):
        """GET /PATH as text."""
        request = urllib.request.Request(f"{self.url}/{path}", headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read().decode()

    def shutdown_kernels(self):
        """End every session and its kernel (between notebooks, so idle kernels do not pile up)."""
        for session in self.api("sessions"):
            request = urllib.request.Request(f"{self.url}/api/sessions/{session['id']}", method="DELETE",
                                             headers={"Authorization": f"token {self.token}"})
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(request, timeout=30).close()

    def log_tail(self, lines=40):
        try:
            return "\n".join(pathlib.Path(self.log).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __repr__(self):
        return f"Lab({self.url}, pid={self.pid})"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _isolated_env(tmp):
    """Environment for a JupyterLab that reads and writes only under tmp (plus sys.prefix's shares)."""
    env = dict(os.environ)
    for name in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JUPYTER_PREFER_ENV_PATH"):
        env.pop(name, None)
    dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data", "JUPYTER_RUNTIME_DIR": "runtime",
            "JUPYTERLAB_SETTINGS_DIR": "lab-settings", "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces",
            "IPYTHONDIR": "ipython"}
    for name, sub in dirs.items():
        path = tmp / sub
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    config = tmp / "config"
    (config / "jupyter_server_config.json").write_text(json.dumps(SERVER_CONFIG, indent=1))
    (config / "labconfig").mkdir(exist_ok=True)
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {name: True for name in DISABLED_PLUGINS}}, indent=1))
    for plugin, values in SETTINGS.items():
        path = tmp / "lab-settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=1))
    env["JUPYTER_TOKEN"] = secrets.token_hex(24)
    return env


def _children(pid):
    """PIDs whose parent is pid (Linux /proc; empty elsewhere)."""
    found = []
    for entry in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.parent.name))
    return found


def _alive(pid):
    """Whether pid runs (a zombie, waiting to be reaped, does not)."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _stop(process, timeout=15):
    """Stop the server's process group by its PID: SIGTERM, wait, then SIGKILL; then any kernels left.

    Kernels run in sessions of their own (jupyter_client starts them so); the server shuts them down on
    SIGTERM, and any that outlive a killed server are killed here by their PIDs.
    """
    if process.poll() is not None:
        return
    kernels = _children(process.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    deadline = time.monotonic() + 5
    for pid in kernels:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


@contextlib.contextmanager
def running_lab(root_dir, tmp_dir, timeout=60):
    """Start JupyterLab serving root_dir on 127.0.0.1, isolated under tmp_dir; yield a Lab; stop it."""
    tmp = pathlib.Path(tmp_dir) / "lab"
    tmp.mkdir(parents=True, exist_ok=True)
    env = _isolated_env(tmp)
    token = env["JUPYTER_TOKEN"]
    port = _free_port()
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={port}",
               f"--ServerApp.root_dir={pathlib.Path(root_dir).resolve()}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log_path = tmp / "lab.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, cwd=str(tmp), start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{port}", token, port, process.pid, str(log_path))
    try:
        _wait_until_up(lab, process, tmp / "runtime", timeout)
        _check_setup(lab)
        yield lab
    finally:
        _stop(process)


def _wait_until_up(lab, process, runtime, timeout):
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {process.returncode}; its log ends:\n"
                               f"{lab.log_tail()}")
        # The server may have moved to another port if ours was taken meanwhile: its runtime file says.
        info = runtime / f"jpserver-{process.pid}.json"
        if info.exists():
            with contextlib.suppress(OSError, ValueError, KeyError):
                lab.port = json.loads(info.read_text())["port"]
                lab.url = f"http://127.0.0.1:{lab.port}"
        with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
            if "started" in lab.api("status"):
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"JupyterLab did not answer /api/status within {timeout} s; its log ends:\n"
                               f"{lab.log_tail()}")
        time.sleep(0.2)


def _check_setup(lab):
    """The isolated lab still finds the Python kernel and the ipywidgets extension (in sys.prefix)."""
    kernels = lab.api("kernelspecs")["kernelspecs"]
    if "python3" not in kernels:
        raise RuntimeError(f"JupyterLab found no python3 kernel (it found {sorted(kernels)})")
    if "@jupyter-widgets/jupyterlab-manager" not in lab.get_text("lab"):
        raise RuntimeError("JupyterLab did not load the ipywidgets extension "
                           "(@jupyter-widgets/jupyterlab-manager)")


# -- the notebook in the browser -------------------------------------------------------------------

# Watches the on-screen notebook's input prompts: ``window.__fttRun.started`` turns true when any shows
# "[*]" (queued or running), so a run that finishes between two polls is still seen to have started.
# ``commands`` lists the JupyterLab commands run since (window.jupyterapp: expose_app_in_browser).
_WATCH_RUN = """(panelSel) => {
  const panel = document.querySelector(panelSel);
  const state = window.__fttRun = {started: false, commands: []};
  const look = () => {
    if ([...panel.querySelectorAll('.jp-InputArea-prompt')].some(p => p.textContent.includes('*'))) {
      state.started = true;
      observer.disconnect();
    }
  };
  const observer = new MutationObserver(look);
  observer.observe(panel, {subtree: true, childList: true, characterData: true});
  if (window.jupyterapp && !window.__fttCommands) {
    window.__fttCommands = true;
    window.jupyterapp.commands.commandExecuted.connect((_, args) => {
      if (window.__fttRun) window.__fttRun.commands.push(args.id);
    });
  }
}"""

# Every code cell with code in it has run (a number in its prompt), or some cell shows an error (a
# failing cell stops Run All Cells).
_ALL_RAN = """(panelSel) => {
  const panel = document.querySelector(panelSel);
  if (panel.querySelector('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')) return true;
  return [...panel.querySelectorAll('.jp-CodeCell')].every(cell => {
    const code = cell.querySelector('.cm-content');
    const prompt = cell.querySelector('.jp-InputArea-prompt');
    return (code && code.textContent.trim() === '') || (prompt && /\\[\\d+\\]/.test(prompt.textContent));
  });
}"""

# True once the run has started and is over: kernel idle and no prompt shows "[*]".
_RUN_OVER = """(panelSel) => {
  const panel = document.querySelector(panelSel);
  if (!panel || !window.__fttRun || !window.__fttRun.started) return false;
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  if (!indicator || indicator.dataset.status !== 'idle') return false;
  return ![...panel.querySelectorAll('.jp-InputArea-prompt')].some(p => p.textContent.includes('*'));
}"""

# The kernel is connected and idle.  The execution indicator alone is not enough: it says "idle" while
# the toolbar still says "No Kernel", and Run All Cells clicked then runs nothing.
_KERNEL_READY = """(panelSel) => {
  const panel = document.querySelector(panelSel);
  if (!panel) return false;
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  const name = panel.querySelector('[data-jp-item-name="kernelName"]');
  const kernel = name ? name.textContent.trim() : '';
  return indicator !== null && indicator.dataset.status === 'idle' && kernel !== '' && kernel !== 'No Kernel';
}"""

_STATE = """(panelSel) => {
  const panel = document.querySelector(panelSel);
  if (!panel) return 'no notebook on screen';
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  const name = panel.querySelector('[data-jp-item-name="kernelName"]');
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent.trim());
  return `kernel ${name ? name.textContent.trim() : '?'}, ${indicator ? indicator.dataset.status : '?'}; `
    + `prompts ${prompts.join(' ')}`;
}"""


def _wait(page, script, arg, timeout, waiting_for):
    """page.wait_for_function, failing with what was awaited and the notebook's state."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(script, arg=arg, timeout=timeout * 1000)
    except PlaywrightTimeout:
        state = page.evaluate(_STATE, PANEL)
        raise TimeoutError(f"no {waiting_for} within {timeout} s ({state})") from None


# The name on the main area's current tab.
_CURRENT_TAB = """() => {
  const label = document.querySelector('#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel');
  return label ? label.textContent.trim() : null;
}"""


def open_notebook(context, lab, notebook, timeout=60):
    """Open notebook (a path relative to the lab's root) in a new tab; return the Playwright Page once
    the notebook is shown and its kernel is idle.

    Each page gets a workspace of its own: with the default one, a second page restores the first
    page's notebook instead of opening the one asked for.
    """
    page = context.new_page()
    page.set_default_timeout(timeout * 1000)
    workspace = f"ftt-{secrets.token_hex(4)}"
    page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{notebook}?token={lab.token}",
              wait_until="domcontentloaded")
    page.wait_for_selector(f"{PANEL} .jp-Notebook .jp-Cell", state="visible")
    name = pathlib.PurePosixPath(notebook).name
    _wait(page, f"() => ({_CURRENT_TAB})() === {json.dumps(name)}", None, timeout, f"tab for {name}")
    _wait(page, _KERNEL_READY, PANEL, timeout, "idle kernel")
    return page


def run_all_cells(page, timeout=120, attempts=3):
    """Run → Run All Cells from the menu bar, then wait until every cell has run (kernel idle, no [*]).

    If the click did not run the command (a menu click can miss while JupyterLab re-renders the menu),
    the menu is closed and the click made again, up to attempts times.
    """
    page.evaluate(_WATCH_RUN, PANEL)
    for attempt in range(1, attempts + 1):
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).first.click()
        page.locator(".lm-Menu-item:not(.lm-mod-disabled) .lm-Menu-itemLabel",
                     has_text=re.compile(r"^Run All Cells$")).first.click()
        try:
            _wait(page, "() => window.__fttRun.started || window.__fttRun.commands.includes('notebook:run-all-cells')",
                  None, 10, "cell started after Run → Run All Cells")
            break
        except TimeoutError:
            commands = page.evaluate("() => window.__fttRun.commands")
            if attempt == attempts:
                raise TimeoutError(f"Run → Run All Cells ran no cell in {attempts} tries (commands run: "
                                   f"{commands}; {page.evaluate(_STATE, PANEL)})") from None
            page.keyboard.press("Escape")       # close a menu or dialog left open
    _wait(page, "() => window.__fttRun.started", None, 30, "cell started after Run All Cells ran")
    _wait(page, _RUN_OVER, PANEL, timeout, "end of the run (kernel idle, no [*])")
    _wait(page, _ALL_RAN, PANEL, 5, "prompt number on every code cell after the run")


def wait_for_view(page, timeout=30):
    """Wait until the view is shown and its picture has loaded; on timeout, say what the notebook shows."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    picture = f"{PANEL} {VIEW} {PICTURE}"
    try:
        page.wait_for_selector(picture, state="visible", timeout=timeout * 1000)
        page.wait_for_function("(sel) => { const img = document.querySelector(sel);"
                               " return img && img.complete && img.naturalWidth > 0; }",
                               arg=picture, timeout=timeout * 1000)
    except PlaywrightTimeout:
        shown = page.evaluate("(sel) => [...document.querySelectorAll(sel + ' .jp-OutputArea-output')]"
                              ".map(e => e.innerText.trim().slice(0, 300)).filter(t => t)", PANEL)
        raise TimeoutError(f"no view with a loaded picture ({picture}) within {timeout} s; errors: "
                           f"{notebook_errors(page)}; outputs: {shown}") from None


def picture_src(page):
    return page.locator(f"{PANEL} {VIEW} {PICTURE}").first.get_attribute("src")


def message(page):
    """The text of the view's message line."""
    return page.locator(f"{PANEL} {VIEW} {MESSAGE}").first.inner_text()


def shown_step(page):
    """The step number the view's status line shows."""
    text = page.locator(f"{PANEL} {VIEW} {STATUS}").first.inner_text()
    found = re.search(r"step (\d+)", text)
    assert found, f"no step in the status line: {text!r}"
    return int(found.group(1))


def future_text(page):
    """What the view says about the recorded future ("N recorded steps ahead" or "the present")."""
    return page.locator(f"{PANEL} {VIEW} {FUTURE}").first.inner_text().strip()


def wait_for_step(page, wanted, timeout=20):
    """Wait until the status line shows step ``wanted`` (an int, or a predicate on the step)."""
    check = wanted if callable(wanted) else (lambda step: step == wanted)
    deadline = time.monotonic() + timeout
    while True:
        step = shown_step(page)
        if check(step):
            return step
        if time.monotonic() > deadline:
            raise TimeoutError(f"the view shows step {step}; waited for {wanted} (message: {message(page)!r})")
        page.wait_for_timeout(50)


def slider_value(page):
    """The number the step slider's readout shows."""
    return int(page.locator(f"{PANEL} {VIEW} {SLIDER} .widget-readout").first.inner_text().strip())


def settled_step(page, quiet=0.6, timeout=20):
    """Wait until the status line's step equals the slider's and has not changed for ``quiet`` s."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        step = shown_step(page)
        if step != last:
            last, since = step, time.monotonic()
        elif time.monotonic() - since >= quiet and step == slider_value(page):
            return step
        page.wait_for_timeout(50)
    raise TimeoutError(f"the view kept moving: step {shown_step(page)}, slider {slider_value(page)}")


def drag_slider(page, fraction):
    """Drag the view's step slider with the mouse to ``fraction`` (0..1) of its track, as a student would."""
    slider = page.locator(f"{PANEL} {VIEW} {SLIDER}").first
    handle = slider.locator(".noUi-handle").first
    track = slider.locator(".noUi-target").first
    handle.scroll_into_view_if_needed()
    h, t = handle.bounding_box(), track.bounding_box()
    page.mouse.move(h["x"] + h["width"] / 2, h["y"] + h["height"] / 2)
    page.mouse.down()
    page.mouse.move(t["x"] + t["width"] * fraction, h["y"] + h["height"] / 2, steps=8)
    page.mouse.up()


def click(page, css_class):
    """Click the view's button with this class (``ftt-fork``, ``ftt-deliver``...)."""
    page.locator(f"{PANEL} {VIEW} button.{css_class}").first.click()


def press_over_picture(page, key):
    """Press a key with the mouse over the picture (the view listens to keys there)."""
    picture = page.locator(f"{PANEL} {VIEW} {PICTURE}").first
    picture.hover()
    page.keyboard.press(key)


# Frame watcher, installed in the page: each time the picture's src changes (the <img> may also be
# replaced) and the new image has decoded, its time (performance.now()) goes into frames.  The time of
# the next click on the given button goes into clickedAt (the click event's own timestamp).  A frame
# whose src changes again before it decodes was never shown and is not counted.
_WATCH_FRAMES = """([viewSel, imgSel, buttonSel]) => {
  const view = document.querySelector(viewSel);
  const current = () => view.querySelector(imgSel);
  const state = {clickedAt: null, frames: [], srcs: [], failed: 0, changedAt: performance.now()};
  let last = current() ? current().src : null;
  const onClick = (event) => {
    if (state.clickedAt === null && event.target.closest && event.target.closest(buttonSel)) {
      state.clickedAt = event.timeStamp;
    }
  };
  document.addEventListener('click', onClick, {capture: true});
  const observer = new MutationObserver(() => {
    const img = current();
    if (!img || img.src === last) return;
    const src = last = img.src;
    state.changedAt = performance.now();
    img.decode().then(() => {
      if (img.src === src) { state.frames.push(performance.now()); state.srcs.push(src); }
    }, () => { state.failed += 1; });
  });
  observer.observe(view, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
  state.stop = () => { observer.disconnect(); document.removeEventListener('click', onClick, {capture: true}); };
  window.__fttFrames = state;
}"""


def _stop_watching(page):
    page.evaluate("() => { if (window.__fttFrames) window.__fttFrames.stop(); }")


def click_to_picture_ms(page, repeat=15, timeout=30, pause=0.05):
    """Click Step repeat times; for each, the ms from the click event to the new picture decoded.

    Timed inside the page (event.timeStamp to performance.now() after img.decode()), so Playwright's
    round trips are not counted.  Waits for each new picture before the next click.
    """
    view = f"{PANEL} {VIEW}"
    times = []
    for _ in range(repeat):
        page.evaluate(_WATCH_FRAMES, [view, PICTURE, STEP])
        try:
            page.locator(f"{view} {STEP}").first.click()
            _wait(page, "() => window.__fttFrames.frames.length > 0 && window.__fttFrames.clickedAt !== null",
                  None, timeout, "new picture after Step")
            times.append(page.evaluate("() => window.__fttFrames.frames[0] - window.__fttFrames.clickedAt"))
        finally:
            _stop_watching(page)
        page.wait_for_timeout(pause * 1000)
    return times


def play_fps(page, seconds=3.0, timeout=30):
    """Click Play, count the pictures that arrive and decode for about seconds (from the first one),
    then click Play again to pause (unless the view has paused by itself).

    Returns a dict measured in the page with performance.now(): fps, frames (after the first),
    seconds, first_frame_ms (click to first picture), and still_playing (False if the view had paused
    by itself, e.g. at the end of the run, before the time was up: fps then undercounts).
    """
    view = f"{PANEL} {VIEW}"
    play = page.locator(f"{view} {PLAY}").first
    page.evaluate(_WATCH_FRAMES, [view, PICTURE, PLAY])
    try:
        play.click()
        try:
            _wait(page, "() => window.__fttFrames.frames.length > 0", None, timeout, "picture after Play")
            _wait(page, "(ms) => performance.now() - window.__fttFrames.frames[0] >= ms", seconds * 1000,
                  seconds + timeout, "end of the Play measurement")
            result = page.evaluate("""() => {
              const s = window.__fttFrames, first = s.frames[0], end = performance.now();
              const frames = s.frames.filter(t => t > first && t <= end).length;
              return {frames: frames, seconds: (end - first) / 1000,
                      fps: frames / ((end - first) / 1000), first_frame_ms: first - s.clickedAt};
            }""")
        finally:
            playing = _pressed(play)
            if playing:
                play.click()    # Pause
    finally:
        _stop_watching(page)
    result["still_playing"] = playing
    return result


def _pressed(toggle):
    """Whether an ipywidgets ToggleButton is down (its element then has class mod-active)."""
    return "mod-active" in (toggle.get_attribute("class") or "").split()


def wait_until_still(page, quiet=1.0, timeout=30):
    """Wait until the picture's src has not changed for quiet seconds (after a pause, frames already on
    their way have arrived).  Returns False if it was still changing after timeout seconds."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.evaluate(_WATCH_FRAMES, [f"{PANEL} {VIEW}", PICTURE, PLAY])
    try:
        page.wait_for_function("(ms) => performance.now() - window.__fttFrames.changedAt >= ms",
                               arg=quiet * 1000, timeout=timeout * 1000)
        return True
    except PlaywrightTimeout:
        return False
    finally:
        _stop_watching(page)


def screenshot_view(page, path):
    """Save a picture of the (first) view alone.  JupyterLab scrolls inside a fixed-size page, so a view
    taller than the window cannot be captured as it is: the window is made tall enough first."""
    view = page.locator(f"{PANEL} {VIEW}").first
    size = page.viewport_size
    height = view.evaluate("el => el.getBoundingClientRect().height")
    if height + 200 > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": int(height) + 300})
    try:
        view.scroll_into_view_if_needed()
        view.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)


# Error outputs of the on-screen notebook: stderr streams and tracebacks (JupyterLab renders both with
# the stderr MIME type), widgets that failed to render, and a visible error line in the view.
_ERRORS = """(panelSel) => {
  const panel = document.querySelector(panelSel);
  const found = [];
  const visible = (el) => el.getClientRects().length > 0;
  for (const el of panel.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
    found.push('stderr/traceback: ' + el.innerText.trim());
  for (const el of panel.querySelectorAll('.jp-OutputArea-output'))
    if (/^(Error displaying widget|Error rendering)/m.test(el.innerText)) found.push('widget: ' + el.innerText.trim());
  for (const el of panel.querySelectorAll('.ftt-error'))
    if (visible(el) && el.innerText.trim()) found.push('view: ' + el.innerText.trim());
  return found;
}"""


def notebook_errors(page, view=True):
    """Error output shown in the notebook (a list of strings; empty when there is none).

    With view=False, a view's own error line (.ftt-error) is not counted: a notebook may show one on
    purpose (Chapter 0 does: restarting a running node); the view clears it at the next action.
    """
    found = page.evaluate(_ERRORS, PANEL)
    return found if view else [error for error in found if not error.startswith("view: ")]
