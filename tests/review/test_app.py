"""The review application through Flask's test client, on a real Neo4j: pages, CSRF, the
access token beyond the loopback, and every bad input as one line with nothing written."""

from __future__ import annotations

import re

import pytest

from mash_kg.errors import MashError
from mash_kg.review.app import create_app
from mash_kg.review.server import access_token, is_loopback
from tests.conftest import count

pytestmark = pytest.mark.neo4j


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def client(review_graph):
    app = create_app(review_graph, reviewer="ana")
    return app.test_client()


def test_queue_counts_filters_and_order(client):
    page = client.get("/").get_data(as_text=True)
    assert 'reviewed <b id="n-decided">0</b>' in page and 'remaining <b id="n-open">4</b>' in page
    rows = re.findall(r'class="edge-link" href="[^"]*"><code>([^<]+)</code>', page)
    assert rows == ["A/LAB:3", "A/LAB:2", "B/LAB:9", "A/LAB:1"]  # lowest confidence first
    page = client.get("/?relation=ALIGNED_WITH&site=B").get_data(as_text=True)
    assert re.findall(r'class="edge-link" href="[^"]*"><code>([^<]+)</code>', page) == ["B/LAB:9"]
    page = client.get("/?build=B1").get_data(as_text=True)
    assert re.findall(r'class="edge-link" href="[^"]*"><code>([^<]+)</code>', page) == ["A/LAB:3"]


def test_edge_page_decide_and_move(client, review_graph):
    page = client.get("/edge?relation=MASH_IS_A&child=A/LAB:1&parent=T:GLU").get_data(True)
    assert "T:R" in page and "Chemistry" in page  # the parent's path to the root
    assert "glucose serum" in page and page.count("<circle") == 5  # the disk, code, parent,
    assert page.count("<line") == 3  # path (2 nodes): the edge and two steps up to the root
    token = _csrf(page)
    form = {"relation": "MASH_IS_A", "child": "A/LAB:1", "parent": "T:GLU", "build": "B2"}
    res = client.post(
        "/decide", data={**form, "decision": "accept", "csrf_token": token}, follow_redirects=True
    )
    nxt = re.search(r'id="child-id">([^<]+)<', res.text).group(1)
    assert res.status_code == 200 and nxt == "A/LAB:3"  # the next open edge
    assert "accept: A/LAB:1 -&gt; T:GLU" in res.text  # said once, on the next page
    assert count(review_graph, "MATCH (d:Decision {decision: 'accept'}) RETURN count(d)") == 1
    page = client.get("/edge?relation=MASH_IS_A&child=A/LAB:2&parent=T:CHEM&q=haematology")
    page = page.get_data(True)
    assert 'name="new_parent" value="T:HEM"' in page  # found through the full-text index
    res = client.post(
        "/move",
        data={"child": "A/LAB:2", "parent": "T:CHEM", "new_parent": "T:HEM", "build": "B2"}
        | {"csrf_token": token, "comment": "a blood test"},
    )
    assert res.status_code == 302
    assert count(review_graph, "MATCH (d:Decision) RETURN count(d)") == 3
    page = client.get("/?status=decided").get_data(True)
    assert 'reviewed <b id="n-decided">2</b>' in page  # the move's reject counts, its accept
    # is a new edge the next sync writes


def test_bad_inputs_are_one_line_and_write_nothing(client, review_graph):
    page = client.get("/").get_data(True)
    res = client.get("/edge?relation=MASH_IS_A&child=X:NOPE&parent=T:GLU")
    assert res.status_code == 404 and "unknown edge X:NOPE -[MASH_IS_A]-&gt; T:GLU" in res.text
    res = client.post("/decide", data={"relation": "MASH_IS_A", "child": "A/LAB:1"})
    assert res.status_code == 400 and "CSRF token is missing" in res.text
    token = _csrf(client.get("/edge?relation=MASH_IS_A&child=A/LAB:1&parent=T:GLU").text)
    bad = {"relation": "MASH_IS_A", "child": "A/LAB:1", "parent": "T:HEM", "decision": "accept"}
    res = client.post("/decide", data={**bad, "csrf_token": token, "build": "B2"})
    assert res.status_code == 409 and "unknown edge A/LAB:1 -[MASH_IS_A]-&gt; T:HEM" in res.text
    review_graph.execute_query("MATCH ({id: 'A/LAB:3'})-[r:MASH_IS_A]->() DELETE r")
    gone = {"relation": "MASH_IS_A", "child": "A/LAB:3", "parent": "T:CHEM", "build": "B1"}
    res = client.post("/decide", data={**gone, "decision": "reject", "csrf_token": token})
    assert res.status_code == 409 and "was removed by the sync of build B2" in res.text
    assert count(review_graph, "MATCH (d:Decision) RETURN count(d)") == 0
    assert page  # the queue rendered before


def test_beyond_the_loopback_a_flag_and_then_a_token(review_graph):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert access_token("127.0.0.1", allow_remote=False) is None
    with pytest.raises(MashError, match="--host 0.0.0.0 would let other machines"):
        access_token("0.0.0.0", allow_remote=False)
    token = access_token("0.0.0.0", allow_remote=True)
    client = create_app(review_graph, token=token).test_client()
    assert client.get("/").status_code == 403
    assert client.get("/?token=wrong").status_code == 403
    assert client.get(f"/?token={token}").status_code == 200
    assert client.get("/").status_code == 200  # remembered in the session
