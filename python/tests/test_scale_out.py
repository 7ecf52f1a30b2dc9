"""Issue 17: one repository on PostgreSQL + S3 (SeaweedFS, signatures checked) served by several
`loam serve` processes that share nothing but those two servers.

The servers come from scripts/test-servers.sh (scripts/test.sh starts them and sets LOAM_TEST_*)."""
import subprocess
import threading

import pytest

import loam
from conftest import LOAM, NO_SERVERS, SERVERS, fresh_backends, server_env

pytestmark = pytest.mark.skipif(not SERVERS, reason=NO_SERVERS)


def run(*args, cwd=None, env=None, check=True):
    done = subprocess.run([LOAM, *args], capture_output=True, text=True, cwd=cwd, env=env or server_env())
    if check:
        assert done.returncode == 0, f"loam {' '.join(args)}: {done.stderr}"
    return done


@pytest.fixture()
def backends():
    return fresh_backends()


def node(tmp_path, name, backends):
    """A folder joined to the repository on the servers (the first one creates it)."""
    path = tmp_path / name
    run("init", str(path), "--catalog", backends[0], "--objects", backends[1])
    return path


def serve(path, env=None):
    process = subprocess.Popen([LOAM, "serve", "--repo", str(path), "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env or server_env())
    line = process.stdout.readline()
    assert line.startswith("Serving "), line + process.stderr.read()
    return process, "http://" + line.split()[1]


def counter(path):
    out = run("query", "SELECT n FROM c WHERE id = 0", "--format", "csv", cwd=path).stdout
    return int(out.split()[-1])


@pytest.fixture()
def cluster(tmp_path, backends):
    first = node(tmp_path, "n0", backends)
    (tmp_path / "c.csv").write_text("id,n\n0,0\n1,0\n")
    run("import", str(tmp_path / "c.csv"), "-d", "c", "-q", cwd=first)
    run("user", "add", "ada", cwd=first)
    token = run("token", "create", "--user", "ada", "--role", "writer", cwd=first).stdout.strip()
    nodes = [first] + [node(tmp_path, f"n{i}", backends) for i in (1, 2)]
    servers = [serve(path) for path in nodes]
    yield {"nodes": nodes, "urls": [url for _, url in servers], "token": token, "backends": backends, "tmp": tmp_path}
    for process, _ in servers:
        process.kill()
        process.wait()


def test_six_writers_through_three_servers_lose_no_update(cluster):
    """Two writers per server, 20 increments each of one hot row: every acknowledged update is in n."""
    failures = []

    def writer(url):
        client = loam.connect(url, token=cluster["token"])
        for _ in range(20):
            try:
                assert client.query("UPDATE c SET n = n + 1 WHERE id = 0")["affected"] == 1
            except Exception as error:  # noqa: BLE001 - collected and reported below
                failures.append(repr(error))

    threads = [threading.Thread(target=writer, args=(url,)) for url in cluster["urls"] for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert failures == []
    for path in cluster["nodes"]:  # every node reads the same head
        assert counter(path) == 120
    fsck = run("fsck", cwd=cluster["nodes"][1]).stdout
    assert fsck.startswith("ok:"), fsck
    # Each server sees the others' commits at once: no stale cached head.
    client = loam.connect(cluster["urls"][2], token=cluster["token"])
    assert client.query("SELECT n FROM c WHERE id = 0").column("n").to_pylist() == [120]


@pytest.mark.parametrize("point", ["object-published", "ref-transaction"])
def test_a_server_killed_in_the_middle_of_a_commit_leaves_either_state(cluster, point):
    """kill -9 of a server after it uploaded an object, or inside the ref's transaction (holding the
    row lock): the head is the old commit or the new one, never anything else; the other servers write on."""
    before = counter(cluster["nodes"][0])
    doomed, url = serve(cluster["nodes"][1], env=dict(server_env(), LOAM_FAILPOINT=f"{point}:1"))
    client = loam.connect(url, token=cluster["token"])
    with pytest.raises(Exception):
        client.query("UPDATE c SET n = n + 1 WHERE id = 0")
    assert doomed.wait(timeout=60) == -9
    after = counter(cluster["nodes"][0])
    assert after in (before, before + 1)
    # A killed transaction's lock is released: the others commit straight away.
    survivor = loam.connect(cluster["urls"][2], token=cluster["token"])
    assert survivor.query("UPDATE c SET n = n + 1 WHERE id = 0")["affected"] == 1
    assert counter(cluster["nodes"][2]) == after + 1
    fsck = run("fsck", cwd=cluster["nodes"][0]).stdout
    assert fsck.startswith("ok:"), fsck
