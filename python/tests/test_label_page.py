"""The annotation page in a real browser (Debian's headless Chromium, driven by Selenium), and the label
routes' roles over HTTP. A scripted annotator signs in with a token, labels text items with the keyboard,
draws a box on an image and drags it, selects a span, submits; a reviewer resolves a disagreement side by
side; every answer is then read back through the library. Screenshots go to $LOAM_SCREENSHOTS (else the
test's temporary folder)."""
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np
import pyarrow as pa
import pytest

import loam
from conftest import BACKENDS, LOAM, loam as run, on_backend

os.environ.setdefault("LOAM_BIN", LOAM)
webdriver = pytest.importorskip("selenium.webdriver")
PIL = pytest.importorskip("PIL.Image")
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def call(url, method, path, body=None, token=None):
    req = urllib.request.Request(url + path, data=None if body is None else json.dumps(body).encode(), method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module", params=BACKENDS)
def served(request, tmp_path_factory):
    """The page's repository on the embedded default, and on PostgreSQL + S3 (the images stay in its folder)."""
    with on_backend(request.param, tmp_path_factory.mktemp("page") / "repo") as repo:
        # Images on disk inside the repository's folder: a gradient with a dark square, of two sizes.
        os.makedirs(repo / "images")
        sizes = [(640, 480), (320, 240), (500, 500)]
        for i, (w, h) in enumerate(sizes):
            x = np.linspace(0, 255, w, dtype=np.uint8)
            pixels = np.stack([np.tile(x, (h, 1)), np.full((h, w), 120, np.uint8), np.tile(x[::-1], (h, 1))], axis=2)
            pixels[h // 4: h // 2, w // 4: w // 2] = 30
            PIL.fromarray(pixels).save(repo / "images" / f"img{i}.png")
        r = loam.open(str(repo))
        r.write(pa.table({"path": [f"images/img{i}.png" for i in range(3)], "width": [w for w, _ in sizes], "height": [h for _, h in sizes]}), "photos")
        r.write(pa.table({"text": ["Ana flew to Zürich with Bob.", "A dull, slow film.", "Great acting, great music!", "Not bad at all."]}), "reviews")
        photos, reviews = r.dataset("photos"), r.dataset("reviews")
        photos.labels().define("objects", "boxes", classes=["square", "other"], image_column="path", width_column="width", height_column="height")
        reviews.labels().define("sentiment", "class", classes=["negative", "neutral", "positive"])
        reviews.labels().define("entities", "spans", classes=["PER", "LOC"], text_column="text")
        for user in ["mia", "ana", "bob", "rev"]:
            run("user", "add", user, repo=repo)
        tokens = {u: run("token", "create", "--user", u, "--role", "writer" if u == "mia" else "reader", repo=repo).strip() for u in ["mia", "ana", "bob", "rev"]}
        env = dict(os.environ, LOAM_AUTHOR="mia")
        def task(*args):
            done = subprocess.run([LOAM, "label", "task", *args, "--repo", str(repo)], env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            return done.stdout
        tasks = {}
        for name, dataset, schema, k in [("boxes", "photos", "objects", 1), ("sentiment", "reviews", "sentiment", 2), ("spans", "reviews", "entities", 1)]:
            tasks[name] = json.loads(task("create", "-d", dataset, "--schema", schema, "--query", f"SELECT _rowid FROM {dataset} ORDER BY _rowid",
                                          "--annotators", str(k), "--json"))["id"]
            for user, role in [("ana", "annotator"), ("bob", "annotator"), ("rev", "reviewer")]:
                task("member", tasks[name], user, role)
        process = subprocess.Popen([LOAM, "serve", "--repo", str(repo), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = process.stdout.readline()
        assert line.startswith("Serving "), line + process.stderr.read()
        ids = {"photos": [int(i) for i in photos.rowids()], "reviews": [int(i) for i in reviews.rowids()]}
        yield {"url": "http://" + line.split()[1], "repo": repo, "tokens": tokens, "tasks": tasks, "sizes": sizes, "ids": ids}
        process.kill()


def test_label_routes_check_roles_and_validate(served):
    url, t, tasks, ids = served["url"], served["tokens"], served["tasks"], served["ids"]["reviews"]
    status, body = call(url, "GET", f"/api/v1/label-tasks/{tasks['sentiment']}/disagreements", token=t["ana"])
    assert status == 403 and "not a reviewer" in body["error"]["message"]
    status, body = call(url, "GET", f"/api/v1/label-tasks/{tasks['sentiment']}/next", token=run("token", "create", "--user", "rev", "--role", "reader",
                                                                                                   "--dataset", "photos", repo=served["repo"]).strip())
    assert status == 403  # a token for another dataset
    status, body = call(url, "POST", "/api/v1/datasets/reviews/labels", {"schema": "sentiment", "labels": [{"row_id": ids[0], "value": "meh"}]}, t["ana"])
    assert status == 403  # writing labels outside a task needs a writer
    status, body = call(url, "POST", "/api/v1/datasets/reviews/labels", {"schema": "sentiment", "labels": [{"row_id": ids[1], "value": "meh"}]}, t["mia"])
    assert status == 400 and f"reviews row {ids[1]}, label 'sentiment', value: 'meh' is not one of the classes" in body["error"]["message"]
    status, body = call(url, "POST", "/api/v1/datasets/reviews/labels",
                        {"schema": "sentiment", "labels": [{"row_id": ids[1], "value": "negative", "annotator": "someone-else"}]}, t["mia"])
    assert status == 403 and "token user's own" in body["error"]["message"]
    status, body = call(url, "GET", "/api/v1/label-tasks", token=t["ana"])
    assert status == 200 and sorted(x["id"] for x in body) == sorted(tasks.values())
    status, body = call(url, "POST", f"/api/v1/label-tasks/{tasks['sentiment']}/items/{ids[3]}/submit", {"value": "positive"}, t["ana"])
    assert status == 403 and "was not given to ana" in body["error"]["message"]


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and DRIVER):
        pytest.skip("Debian's chromium and chromium-driver are not installed (scripts/test.sh installs them)")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--window-size=1280,1000", "--disable-dev-shm-usage"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def shots(tmp_path):
    folder = os.environ.get("LOAM_SCREENSHOTS") or str(tmp_path)
    os.makedirs(folder, exist_ok=True)
    return lambda driver, name: driver.save_screenshot(os.path.join(folder, name + ".png"))


def wait(driver, condition, timeout=20):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout).until(condition)


def sign_in(driver, url, token):
    from selenium.webdriver.common.by import By
    driver.get(url + "/label")
    driver.execute_script("sessionStorage.clear()")
    driver.get(url + "/label")
    wait(driver, lambda d: d.find_element(By.ID, "login").is_displayed())
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait(driver, lambda d: d.find_element(By.ID, "tasks").is_displayed())


def open_task(driver, task):
    from selenium.webdriver.common.by import By
    driver.find_element(By.XPATH, f"//td[text()='{task}']").click()
    wait(driver, lambda d: d.find_element(By.ID, "work").is_displayed() and (d.find_element(By.ID, "item-id").text or d.find_element(By.ID, "done").is_displayed()))


def test_an_annotator_labels_with_keys_draws_a_box_and_selects_a_span(served, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    shot = shots(tmp_path)
    url, tasks, ids = served["url"], served["tasks"], served["ids"]
    sign_in(browser, url, served["tokens"]["ana"])
    shot(browser, "1-tasks")
    rows = {r.find_elements(By.TAG_NAME, "td")[0].text for r in browser.find_elements(By.CSS_SELECTOR, "#task-table tbody tr")}
    assert rows == set(tasks.values())

    # Sentiment: keys 3, 1, 3, 2 and Enter label the four reviews in queue order.
    open_task(browser, tasks["sentiment"])
    shot(browser, "2-sentiment-item")
    body = browser.find_element(By.TAG_NAME, "body")
    for key in ["3", "1", "3", "2"]:
        before = browser.find_element(By.ID, "item-id").text
        body.send_keys(key)
        assert "on" in browser.find_element(By.CSS_SELECTOR, f"#classes button:nth-child({key})").get_attribute("class")
        body.send_keys(Keys.ENTER)
        wait(browser, lambda d: d.find_element(By.ID, "item-id").text != before or d.find_element(By.ID, "done").is_displayed())
    wait(browser, lambda d: d.find_element(By.ID, "done").is_displayed())
    shot(browser, "3-sentiment-done")

    # Boxes: draw one on the first image, then drag it 40 screen pixels right; skip the second image.
    browser.get(url + "/label")
    wait(browser, lambda d: d.find_element(By.ID, "tasks").is_displayed())
    open_task(browser, tasks["boxes"])
    canvas = browser.find_element(By.ID, "canvas")
    wait(browser, lambda d: d.execute_script("return document.getElementById('canvas').width") > 0)
    scale = browser.execute_script("const c = document.getElementById('canvas'); return c.getBoundingClientRect().width / 640")
    left, top = -canvas.size["width"] / 2, -canvas.size["height"] / 2
    x0, y0 = 160 * scale, 120 * scale
    ActionChains(browser).move_to_element_with_offset(canvas, left + x0, top + y0).click_and_hold() \
        .move_by_offset(80 * scale, 60 * scale).move_by_offset(80 * scale, 60 * scale).release().perform()
    ActionChains(browser).move_to_element_with_offset(canvas, left + x0 + 40 * scale, top + y0 + 40 * scale).click_and_hold() \
        .move_by_offset(20 * scale, 0).move_by_offset(20 * scale, 0).release().perform()
    assert "square" in browser.find_element(By.ID, "parts").text
    shot(browser, "4-box-drawn")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ENTER)
    wait(browser, lambda d: d.find_element(By.ID, "item-id").text == f"row {ids['photos'][1]}")
    browser.find_element(By.ID, "skip").click()
    wait(browser, lambda d: d.find_element(By.ID, "item-id").text == f"row {ids['photos'][2]}")
    shot(browser, "5-next-image")

    # Spans: select "Zürich" in the first review with the mouse, as LOC (key 2).
    browser.get(url + "/label")
    wait(browser, lambda d: d.find_element(By.ID, "tasks").is_displayed())
    open_task(browser, tasks["spans"])
    browser.find_element(By.TAG_NAME, "body").send_keys("2")
    browser.execute_script("""
        const node = document.getElementById('text').firstChild, start = node.data.indexOf('Zürich');
        const range = document.createRange(); range.setStart(node, start); range.setEnd(node, start + 'Zürich'.length);
        const s = window.getSelection(); s.removeAllRanges(); s.addRange(range);
        document.getElementById('text').dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));""")
    assert "LOC “Zürich”" in browser.find_element(By.ID, "parts").text
    shot(browser, "6-span-selected")
    browser.find_element(By.ID, "submit").click()
    wait(browser, lambda d: d.find_element(By.ID, "item-id").text == f"row {ids['reviews'][1]}")

    # Read everything back through the library.
    repo = str(served["repo"])
    reviews = loam.open(repo).dataset("reviews")
    sentiment = reviews.labels().gather("sentiment", by="annotator:ana")
    assert [sentiment[i] for i in ids["reviews"]] == ["positive", "negative", "positive", "neutral"]
    entities = json.loads(reviews.labels().gather("entities", by="annotator:ana")[ids["reviews"][0]])
    assert entities == [{"label": "LOC", "start": 12, "end": 18}]  # Unicode scalars: "Ana flew to " is 12
    photos = loam.open(repo).dataset("photos")
    table = photos.labels().to_pandas("objects")
    ana = table[table["annotator"] == "ana"].set_index("row_id")
    box = json.loads(ana.loc[ids["photos"][0], "value"])[0]
    assert box["label"] == "square"
    assert abs(box["x"] - 200) < 4 and abs(box["y"] - 120) < 4 and abs(box["w"] - 160) < 4 and abs(box["h"] - 120) < 4, box
    skipped = ana.loc[ids["photos"][1]]
    assert skipped["status"] == "skipped" and skipped.isna()["value"]
    assert set(ana["task"]) == {served["tasks"]["boxes"]}


def test_a_reviewer_resolves_a_disagreement_side_by_side(served, browser, tmp_path):
    from selenium.webdriver.common.by import By
    shot = shots(tmp_path)
    url, tasks, t, ids = served["url"], served["tasks"], served["tokens"], served["ids"]["reviews"]
    # bob answers the sentiment items through the API, disagreeing with ana on the first.
    for answer in ["negative", "negative", "positive", "neutral"]:
        status, view = call(url, "GET", f"/api/v1/label-tasks/{tasks['sentiment']}/next", token=t["bob"])
        assert status == 200 and view["item"] is not None and view["item"].get("yours") is None  # blind: never ana's answer
        status, _ = call(url, "POST", f"/api/v1/label-tasks/{tasks['sentiment']}/items/{view['item']['row_id']}/submit", {"value": answer}, t["bob"])
        assert status == 200
    sign_in(browser, url, t["rev"])
    open_task(browser, tasks["sentiment"])
    browser.find_element(By.ID, "tab-review").click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#disagreements .card"))
    cards = browser.find_elements(By.CSS_SELECTOR, "#disagreements .card")
    assert len(cards) == 1 and f"row {ids[0]}" in cards[0].text
    answers = cards[0].find_elements(By.CSS_SELECTOR, ".answer")
    assert [a.find_element(By.CSS_SELECTOR, ".who").text for a in answers] == ["ana", "bob"]
    assert "4 of 4 items complete" in browser.find_element(By.ID, "progress-text").text
    shot(browser, "7-review")
    answers[0].find_element(By.TAG_NAME, "button").click()
    wait(browser, lambda d: "resolved: positive" in d.find_element(By.ID, "disagreements").text)
    shot(browser, "8-resolved")
    labels = loam.open(str(served["repo"])).dataset("reviews").labels()
    assert labels.gather("sentiment", by="adjudicated") == dict(zip(ids, ["positive", "negative", "positive", "neutral"]))
    status, agreement = call(url, "GET", f"/api/v1/label-tasks/{tasks['sentiment']}/agreement", token=t["rev"])
    assert status == 200 and agreement["ratings"]["cohen_kappa"][0]["items"] == 4


def test_python_tasks_and_labels_through_the_server(served):
    url, t, ids = served["url"], served["tokens"], served["ids"]["reviews"]
    mia, ana, bob = (loam.connect(url, token=t[u]) for u in ("mia", "ana", "bob"))
    task = mia.create_label_task("reviews", "sentiment", "SELECT _rowid FROM reviews WHERE text LIKE '%a%' ORDER BY _rowid", annotators=2)
    for user in ("ana", "bob"):
        task.add_member(user, "annotator")
    answers = {"ana": ["positive", "negative", "positive", "neutral"], "bob": ["positive", "negative", "negative", "neutral"]}
    for name, client in [("ana", ana), ("bob", bob)]:
        mine = client.label_task(task.id)
        for answer in answers[name]:
            view = mine.next()
            if view["item"] is None:
                break
            mine.submit(view["item"]["row_id"], answer)
        assert mine.next()["item"] is None
        with pytest.raises(loam.ServerError, match="not a reviewer"):
            mine.agreement()
    report = task.agreement()["ratings"]  # mia manages the task
    items = task.info()["task"]["items"]
    assert report["items"] == items and report["ratings"] == 2 * items
    assert task.progress()["complete"] == items
    remote = mia.dataset("reviews").labels()
    assert remote.schemas()["sentiment"]["classes"] == ["negative", "neutral", "positive"]
    assert remote.agreement("sentiment")["ratings"]["annotators"] == ["ana", "bob"]
    remote.add("sentiment", rows=[ids[3]], values=["positive"], annotator="bert-v2", source="model", scores=[0.9], model="bert")
    table = mia.dataset("reviews").labels().to_pandas("sentiment")
    assert set(table[table["source"] == "model"]["annotator"]) == {"bert-v2"}
    # The loaders gather labels from a server as from a local repository.
    batch = next(iter(mia.dataset("reviews").to_numpy(["text"], batch_size=10, shuffle=False, labels="sentiment", label_by="annotator:ana")))
    local = loam.open(str(served["repo"])).dataset("reviews")
    expected = next(iter(local.to_numpy(["text"], batch_size=10, shuffle=False, labels="sentiment", label_by="annotator:ana")))
    assert batch["sentiment"].tolist() == expected["sentiment"].tolist() and len(batch["sentiment"]) == 4
