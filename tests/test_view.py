"""graphkit view: findings in the nodes' documentation (checked in Netron's own node panel)
and the HTML report, both driven in headless Chromium (Debian's chromium and chromedriver,
which .ci/run installs)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import time
from pathlib import Path

import onnx
import pytest
from conftest import require, run_ort
from ir3_models import ir3_style_example

import graphkit
from graphkit.cli import main
from graphkit.view import annotate

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    """The bundled example with IR-3-style BatchNorm statistics: two TFLite blockers."""
    return ir3_style_example(tmp_path_factory.mktemp("example") / "cnn.onnx")


def _annotations(path: Path) -> dict[str, str]:
    return {node.name: node.doc_string for node in onnx.load(path).graph.node if node.doc_string}


def test_each_blocked_node_carries_its_findings_and_a_rerun_replaces_them(tmp_path, example):
    out = tmp_path / "annotated.onnx"
    assert main(["view", str(example), "-t", "tflite", "-o", str(out), "--no-serve"]) == 0
    notes = _annotations(out)
    report = graphkit.diagnose(str(example), "tflite")
    blocked = {f.node for f in report.blockers}
    assert set(notes) == blocked == {"/1/BatchNormalization", "/4/BatchNormalization"}
    assert all(n.startswith("graphkit: [tflite] error GK105 ") and "(fix: fold-constants)" in n
               for n in notes.values())

    model = onnx.load(out)
    model.graph.node[1].doc_string = "from the exporter\n" + model.graph.node[1].doc_string
    onnx.save(model, out)
    again = tmp_path / "again.onnx"
    assert main(["view", str(out), "-t", "tflite", "-o", str(again), "--no-serve"]) == 0
    rerun = _annotations(again)
    assert rerun[model.graph.node[1].name].splitlines()[0] == "from the exporter"
    assert sum(line.startswith("graphkit:") for text in rerun.values()
               for line in text.splitlines()) == 2  # replaced, not added twice


def test_the_annotated_model_computes_what_the_original_does(tmp_path, rng, example):
    out = tmp_path / "annotated.onnx"
    assert main(["view", str(example), "-t", "tflite", "-o", str(out), "--no-serve"]) == 0
    feeds = {"image": rng.standard_normal((2, 3, 32, 32)).astype("float32")}
    assert (run_ort(onnx.load(example), feeds)[0] == run_ort(onnx.load(out), feeds)[0]).all()


def test_view_refuses_a_bad_report_path_before_any_work(tmp_path, capsys, example):
    assert main(["view", str(example), "--html", str(tmp_path / "report.txt")]) == 2
    assert "report" in capsys.readouterr().err


@pytest.fixture(scope="module")
def browser():
    webdriver = require("selenium.webdriver", "dev")
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        if os.environ.get("GRAPHKIT_ALL_EXTRAS") == "1":
            pytest.fail("Debian's chromium and chromium-driver are missing (.ci/run installs them)")
        pytest.skip("needs Debian's chromium and chromium-driver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # Headless, and none of Chromium's background connections: this machine's network is closed.
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _until(check, seconds: float = 60.0):
    """Poll a page condition (pages render asynchronously), failing after `seconds`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError("the page never reached the expected state")


def test_html_report_links_findings_to_nodes_and_filters(browser, tmp_path, example):
    from selenium.webdriver.common.by import By

    source = tmp_path / "models"
    source.mkdir()
    shutil.copy(example, source / "cnn.onnx")
    report = tmp_path / "report.html"
    assert main(["view", str(source / "cnn.onnx"), "-t", "ort", "-t", "tflite",
                 "--html", str(report)]) == 0
    browser.get(report.as_uri())
    verdicts = {v.get_attribute("data-target"): v.text
                for v in browser.find_elements(By.CSS_SELECTOR, "li.verdict")}
    assert verdicts == {"ort": "ort: takes the model", "tflite": "tflite: blocked by 2 finding(s)"}

    link = browser.find_element(By.CSS_SELECTOR, "#findings a")
    assert link.text == "/1/BatchNormalization"
    link.click()
    anchor = browser.execute_script("return location.hash")
    row = browser.find_element(By.CSS_SELECTOR, anchor)
    assert "/1/BatchNormalization" in row.text and "GK105" in row.text
    assert "error" in row.get_attribute("class").split()

    rows = browser.find_elements(By.CSS_SELECTOR, "#nodes tr.node")
    assert len(rows) == 16
    browser.find_element(By.ID, "filter").send_keys("gk105")  # case-insensitive
    shown = [r for r in rows if r.is_displayed()]
    assert [r.find_elements(By.TAG_NAME, "td")[2].text for r in shown] == ["BatchNormalization"] * 2


def test_netron_shows_the_findings_in_its_node_panel(browser, tmp_path, example):
    from selenium.webdriver.common.by import By

    netron = require("netron", "view")
    out = tmp_path / "annotated.onnx"
    assert main(["view", str(example), "-t", "tflite", "-o", str(out), "--no-serve"]) == 0
    with contextlib.redirect_stdout(io.StringIO()):  # netron prints its own address
        host, port = netron.start(str(out), browse=False)
    try:
        browser.get(f"http://{host}:{port}/")
        accept = _until(lambda: [b for b in browser.find_elements(By.TAG_NAME, "button")
                                 if b.text == "Accept"])
        accept[0].click()  # Netron's first-run notice
        nodes = _until(lambda: [n for n in browser.find_elements(By.CSS_SELECTOR, "g.node")
                                if "BatchNormalization" in n.text])
        part = nodes[0].find_element(By.CSS_SELECTOR, "*")
        browser.execute_script(
            "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", part)
        panel = _until(lambda: [t for t in [browser.find_element(By.ID, "sidebar").text]
                                if "graphkit:" in t])  # the panel fills in as it renders
        assert "graphkit: [tflite] error GK105" in panel[0]
    finally:
        with contextlib.redirect_stdout(io.StringIO()):
            netron.stop()


def test_annotate_returns_how_many_nodes_got_findings(example):
    model = graphkit.load(str(example))
    diagnoses = graphkit.diagnose(model, ["ort", "tflite"])
    assert annotate(model, diagnoses) == 2
