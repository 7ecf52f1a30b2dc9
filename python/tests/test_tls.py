"""`loam serve` over HTTPS with a real certificate (made here by openssl): the Python client and urllib
verify it and read; plain HTTP to the TLS port gets nothing; a client that does not trust the certificate
is refused; bad certificate or key files are clear errors before the server starts."""
import os
import ssl
import subprocess
import urllib.error
import urllib.request

import pyarrow as pa
import pytest

import loam
from conftest import LOAM, loam as run


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    work = tmp_path_factory.mktemp("tls")
    cert, key = work / "cert.pem", work / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    repo = work / "repo"
    run("init", str(repo))
    loam.open(str(repo)).write(pa.table({"id": [1, 2, 3], "text": ["a", "b", "c"]}), "t")
    run("user", "add", "ada", repo=repo)
    token = run("token", "create", "--user", "ada", "--role", "reader", repo=repo).strip()
    process = subprocess.Popen([LOAM, "serve", "--repo", str(repo), "--port", "0", "--tls-cert", str(cert), "--tls-key", str(key)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.startswith("Serving ") and "(HTTPS)" in line, line + process.stderr.read()
    address = line.split()[1]
    yield {"address": address, "cert": str(cert), "key": str(key), "token": token, "repo": repo, "work": work}
    process.kill()


def test_https_reads_with_a_verified_certificate(tls_server):
    url = f"https://{tls_server['address']}"
    remote = loam.connect(url, token=tls_server["token"], cafile=tls_server["cert"])
    assert remote.dataset("t").to_arrow().to_pylist() == [{"id": 1, "text": "a"}, {"id": 2, "text": "b"}, {"id": 3, "text": "c"}]
    context = ssl.create_default_context(cafile=tls_server["cert"])
    with urllib.request.urlopen(url + "/healthz", context=context, timeout=10) as response:
        assert response.status == 200 and response.read() == b"ok\n"
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(url + "/healthz", context=ssl.create_default_context(), timeout=10)
    with pytest.raises(Exception):  # plain HTTP to the TLS port: no answer in clear
        urllib.request.urlopen(f"http://{tls_server['address']}/healthz", timeout=10).read()


def test_bad_tls_files_are_clear_errors(tls_server):
    garbage = tls_server["work"] / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cases = [(["--tls-cert", tls_server["cert"]], "give both --tls-cert and --tls-key"),
             (["--tls-cert", str(garbage), "--tls-key", tls_server["key"]], "cannot read the TLS certificate"),
             (["--tls-cert", tls_server["cert"], "--tls-key", str(garbage)], "cannot read the TLS private key"),
             (["--tls-cert", "/nonexistent.pem", "--tls-key", tls_server["key"]], "cannot read the TLS certificate /nonexistent.pem")]
    for flags, message in cases:
        done = subprocess.run([LOAM, "serve", "--repo", str(tls_server["repo"]), "--port", "0", *flags], capture_output=True, text=True, timeout=30)
        assert done.returncode != 0 and message in done.stderr, (flags, done.stderr)
