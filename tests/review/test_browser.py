"""The review page as a person uses it: a real server over the test Neo4j holding the example
build, driven in headless Chromium (Debian's chromium and chromium-driver, installed by
scripts/bootstrap.sh): accept, reject, move, reload; then a rebuild and sync, and the graph
and the new build checked. With MASH_KG_DOCS_IMAGES=1 it remakes docs/img/review.png (a
tracked file; by default the screenshot goes to a temporary folder)."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from mash_kg.artefact import Build
from mash_kg.cli import cli
from tests.conftest import count
from tests.edits import replace_once

pytestmark = pytest.mark.neo4j
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
DOCS_SHOT = Path(__file__).parents[2] / "docs" / "img" / "review.png"
VALID = "coalesce(r.valid_from, 0) <= v AND coalesce(r.valid_to, v + 1) > v"
ACTIVE = (
    "OPTIONAL MATCH (b:Build) WHERE b.active = true OR (b.active IS NULL AND b.current = true) "
    "WITH coalesce(max(b.seq), 0) AS v "
)


@pytest.fixture(scope="module")
def shot(tmp_path_factory) -> Path:
    """Where the screenshot goes: docs/img/review.png with MASH_KG_DOCS_IMAGES=1, else a
    temporary folder pytest removes."""
    if os.environ.get("MASH_KG_DOCS_IMAGES") == "1":
        return DOCS_SHOT
    return tmp_path_factory.mktemp("shot") / "review.png"


def _is_code(driver, node: str) -> bool:
    return count(driver, "MATCH (c:Code {id: $id}) RETURN count(c)", id=node) > 0


def _edge_held(driver, child: str, parent: str) -> bool:
    q = ACTIVE + f"MATCH ({{id: $c}})-[r:MASH_IS_A]->({{id: $p}}) WHERE {VALID} RETURN count(r)"
    return count(driver, q, c=child, p=parent) > 0


@pytest.fixture
def browser():
    if CHROMIUM is None or DRIVER is None:
        pytest.fail("chromium and chromedriver are needed: run scripts/bootstrap.sh as root")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service(DRIVER), options=opts)
    drv.implicitly_wait(10)
    yield drv
    drv.quit()


@pytest.fixture
def review_server(hier_build, icd10cm_graph):
    """The example build synced, and the review page served on a free port."""
    from mash_kg.graph.sync import sync_build
    from mash_kg.review.app import create_app
    from mash_kg.review.server import make_server

    sync_build(icd10cm_graph, hier_build[1])
    app = create_app(icd10cm_graph, builds=hier_build[1].parent, reviewer="tester")
    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    icd10cm_graph.execute_query("MATCH (d:Decision) DETACH DELETE d")


def _current_edge(browser) -> tuple[str, str]:
    return (
        browser.find_element("id", "child-id").text,
        browser.find_element("id", "parent-id").text,
    )


def _next_edge(browser, before: tuple[str, str]) -> tuple[str, str]:
    """The edge the page shows once it has moved on from `before`."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    def moved(b):
        try:
            now = _current_edge(b)
        except StaleElementReferenceException:
            return False
        return now if now != before else False

    return WebDriverWait(browser, 30).until(moved)


def _review(browser, url: str, shot: Path) -> dict:
    """Accept, reject and move three edges of the queue; returns the edges."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(url + "/?relation=MASH_IS_A")
    assert int(browser.find_element(By.ID, "n-decided").text) == 0
    browser.find_element(By.ID, "start").click()
    shot.parent.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(shot))
    accepted = _current_edge(browser)
    browser.find_element(By.TAG_NAME, "body").send_keys("a")  # the keyboard shortcut
    rejected = _next_edge(browser, accepted)  # after a decision: the next edge
    browser.find_element(By.ID, "comment").send_keys("not this family")
    browser.find_element(By.ID, "reject").click()
    moved = _next_edge(browser, rejected)
    assert moved != accepted
    path = browser.find_elements(By.CSS_SELECTOR, ".path span code")
    assert len(path) > 1, f"{moved[1]} has no parent to move to"
    target = path[1].text  # the proposed parent's own parent
    name = browser.find_elements(By.CSS_SELECTOR, ".path span")[1].get_attribute("title")
    box = browser.find_element(By.ID, "q")
    box.send_keys(name, Keys.ENTER)
    hit = browser.find_element(
        By.XPATH, f"//input[@name='new_parent'][@value='{target}']/following-sibling::button"
    )
    hit.click()
    _next_edge(browser, moved)
    return {"accepted": accepted, "rejected": rejected, "moved": (*moved, target)}


def test_review_in_a_browser_then_rebuild_and_sync(
    browser, review_server, hier_build, icd10cm_graph, tmp_path, shot
):
    from selenium.webdriver.common.by import By

    edges = _review(browser, review_server, shot)
    browser.get(review_server + "/?relation=MASH_IS_A&status=decided")
    browser.refresh()  # reload: the decisions are in the graph, not in the page
    assert int(browser.find_element(By.ID, "n-decided").text) == 3  # accept, reject, move's reject
    shown = browser.find_element(By.ID, "queue").text
    assert edges["accepted"][0] in shown and edges["rejected"][0] in shown
    child, old, new = edges["moved"]
    g = icd10cm_graph
    stored = g.execute_query(
        "MATCH (d:Decision) RETURN d.child AS c, d.parent AS p, d.decision AS d, "
        "d.reviewer AS who, d.comment AS comment, d.moved_to AS moved_to"
    ).records
    got = {(r["c"], r["p"]): r["d"] for r in stored}
    assert got == {
        edges["accepted"]: "accept",
        edges["rejected"]: "reject",
        (child, old): "reject",
        (child, new): "accept",
    }
    assert {r["who"] for r in stored} == {"tester"}
    assert "not this family" in {r["comment"] for r in stored}

    # rebuild (a copy of the project, so the session's build stays as it was) and sync
    cfg = hier_build[0]
    project = tmp_path / "again"
    shutil.copytree(cfg.parent, project, ignore=shutil.ignore_patterns("builds"))
    # the encoder off: the frozen model's vectors are cached, so the rebuild is quick; what the
    # decisions teach (training edges, negatives) does not depend on it
    replace_once(project / cfg.name, ("enabled = true\nsteps = 20", "enabled = false"))
    res = CliRunner().invoke(cli, ["--config", str(project / cfg.name), "build"])
    assert res.exit_code == 0, res.output
    (folder,) = (project / "builds").iterdir()
    res = CliRunner().invoke(cli, ["--config", str(project / cfg.name), "sync", str(folder)])
    assert res.exit_code == 0, res.output
    assert _edge_held(g, *edges["accepted"])
    assert not _edge_held(g, *edges["rejected"])
    assert not _edge_held(g, child, old) and _edge_held(g, child, new)
    assert count(g, "MATCH (d:Decision) RETURN count(d)") == 4  # no sync touches decisions

    # the new build learned from them: accepted edges are curated training edges (the code
    # sits one level below its parent and is not placed again), rejected ones never proposed
    build = Build.open(folder)
    review = build.manifest["review"]
    curated = [e for e in (edges["accepted"], (child, new)) if _is_code(g, e[1])]
    assert review["hard_negatives"] == 2 and review["training_edges"] == len(curated) >= 1
    assert review["corrected_edges"] == 1 and review["accepted_edges"] == 2
    hierarchy = build.frame("hierarchy")
    pairs = set(zip(hierarchy["child"], hierarchy["parent"], strict=True))
    assert edges["rejected"] not in pairs and (child, old) not in pairs
    placed = set(build.frame("candidates")["id"])
    depth = build.frame("poincare").set_index("id")["depth"]
    for c, p in curated:
        assert c not in placed and depth[c] == depth[p] + 1


def test_accept_reject_move_and_reload_on_a_small_graph(browser, review_graph, shot):
    """The same clicks on the hand-made graph of conftest.py (quick: no build needed)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from mash_kg.review.app import create_app
    from mash_kg.review.server import make_server

    server = make_server(create_app(review_graph, reviewer="tester"), "127.0.0.1", 0)
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{server.effective_port}"
    try:
        browser.get(url + "/edge?relation=MASH_IS_A&child=A/LAB:1&parent=T:GLU")
        if not shot.exists():  # the example build's page (the test above) is the better one
            shot.parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(shot))
        browser.get(url + "/?relation=MASH_IS_A")
        browser.find_element(By.ID, "start").click()
        assert _current_edge(browser) == ("A/LAB:3", "T:CHEM")  # lowest confidence first
        browser.find_element(By.TAG_NAME, "body").send_keys("a")
        assert _next_edge(browser, ("A/LAB:3", "T:CHEM")) == ("A/LAB:2", "T:CHEM")
        browser.find_element(By.ID, "q").send_keys("Haematology", Keys.ENTER)
        WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.ID, "results"))
        browser.find_element(By.ID, "comment").send_keys("a blood count")
        browser.find_element(
            By.XPATH, "//input[@name='new_parent'][@value='T:HEM']/following-sibling::button"
        ).click()
        assert _next_edge(browser, ("A/LAB:2", "T:CHEM")) == ("A/LAB:1", "T:GLU")
        browser.find_element(By.ID, "reject").click()
        WebDriverWait(browser, 30).until(lambda b: "/edge" not in b.current_url)
        browser.get(url + "/?status=all")
        browser.refresh()
        assert browser.find_element(By.ID, "n-decided").text == "3"
        assert browser.find_element(By.ID, "n-open").text == "1"  # the ALIGNED_WITH edge
    finally:
        server.close()
    stored = review_graph.execute_query(
        "MATCH (d:Decision) RETURN d.child AS c, d.parent AS p, d.decision AS d, "
        "d.comment AS comment, d.reviewer AS who"
    ).records
    assert {(r["c"], r["p"]): r["d"] for r in stored} == {
        ("A/LAB:3", "T:CHEM"): "accept",
        ("A/LAB:2", "T:CHEM"): "reject",
        ("A/LAB:2", "T:HEM"): "accept",
        ("A/LAB:1", "T:GLU"): "reject",
    }
    assert {r["comment"] for r in stored} >= {"a blood count"}
    assert {r["who"] for r in stored} == {"tester"}
