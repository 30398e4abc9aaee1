"""The images and the compose set, really built and run with podman (no Docker engine here):
two providers, a consumer and the web UI, made the way docs/deployment.md tells an operator
to (one-off `idm` commands in the slapd image), then `podman-compose up`. A sign-in through the
web container, a bind and a replicated read through the consumer.

The tools come from the project: scripts/container-base.sh (podman, runc, debootstrap, a local
debian:bookworm-slim) and podman-compose from the test extras in pyproject.toml."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster_kit import free_port
from tests.conftest import DEMO, ROOT

TAG = "test"
SLAPD, WEB = f"localhost/idm-slapd:{TAG}", f"localhost/idm-webui:{TAG}"
UID = 10001  # the images' user
COMPOSE = [str(Path(sys.executable).with_name("podman-compose")),
           "-f", str(ROOT / "docker" / "compose.test.yml")]
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def run(*args: str, timeout: float = 600, env: dict[str, str] | None = None,
        stdin: str | None = None) -> str:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, env=env,
                          input=stdin, check=False)
    assert proc.returncode == 0, f"{' '.join(args[:6])}...: {proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def own(path: Path) -> None:
    """Give a host folder to the images' user (rootless podman maps it through its namespace)."""
    if os.geteuid() == 0:
        for p in [path, *path.rglob("*")]:
            os.chown(p, UID, UID, follow_symlinks=False)
    else:
        run("podman", "unshare", "chown", "-R", f"{UID}:{UID}", str(path))


def fetch(source: Path, target: Path) -> Path:
    """Copy a file the images' user owns (0600) to one this test owns: as root directly; with
    rootless podman through its user namespace, where that user lives."""
    if os.geteuid() == 0:
        shutil.copyfile(source, target)
    else:
        target.write_bytes(subprocess.run(["podman", "unshare", "cat", str(source)], capture_output=True,
                                          check=True).stdout)
    target.chmod(0o600)
    return target


@pytest.fixture(scope="module")
def images() -> None:
    run("bash", str(ROOT / "scripts" / "container-base.sh"))
    build_secret = [f"--secret=id=cacerts,src={CA_BUNDLE}"] if CA_BUNDLE.is_file() else []
    for tag, dockerfile in ((SLAPD, "docker/slapd/Dockerfile"), (WEB, "docker/webui/Dockerfile")):
        run("podman", "build", "--network", "host", "--format", "docker", *build_secret, "-t", tag,
            "-f", str(ROOT / dockerfile), str(ROOT), timeout=1200)


def in_slapd(root: Path, node: str, script: str, stdin: str | None = None) -> str:
    """A one-off command in the slapd image with the node's data folder, as an operator runs it."""
    return run("podman", "run", "--rm", "-i", "--network", "host", "-v", f"{root / node}:/var/lib/idm",
               "-v", f"{root / 'shared'}:/shared", "-v", f"{DEMO}:/demo:ro", SLAPD, "sh", "-ec", script,
               stdin=stdin)


@pytest.fixture(scope="module")
def deployed(images: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    root = tmp_path_factory.mktemp("containers")
    for folder in ("ldap1", "ldap2", "ldap3", "shared", "web"):
        (root / folder).mkdir()
        own(root / folder)
    ports = {n: (free_port(), free_port()) for n in ("ldap1", "ldap2", "ldap3")}
    cluster = {"nodes": [
        {"name": n, "role": "consumer" if n == "ldap3" else "provider", "server_id": i + 1,
         "uri": f"ldaps://127.0.0.1:{ports[n][1]}"} for i, n in enumerate(ports)], "retry": "1 +"}
    (root / "shared" / "cluster.json").write_text(json.dumps(cluster))
    own(root / "shared")

    first = in_slapd(root, "ldap1", f"""
        idm server init --port {ports['ldap1'][0]} --server-id 1
        idm server start
        idm org import /demo/inner-mongolia.csv
        idm bootstrap /demo/province-admins.csv
        idm ca init
        idm cluster certs /shared/cluster.json --out /shared/certs
        idm backup --out /shared/backups --with-secrets
        idm server stop""")
    passwords = dict(re.findall(r"created: uid=([^,]+),.*\n.*one-time password.*: (\S+)", first))
    assert set(passwords) == {"nmg.sys", "nmg.sec", "nmg.audit"}, first
    for i, node in ((2, "ldap2"), (3, "ldap3")):
        in_slapd(root, node, f"idm restore /shared/backups/idm-backup-* --server-id {i} "
                             f"--port {ports[node][0]}")
    for node in ports:
        in_slapd(root, node, f"idm cluster apply /shared/cluster.json --node {node} "
                             f"--tls /shared/certs/{node}")
    in_slapd(root, "ldap1", "idm cluster client-settings /shared/cluster.json --out-dir /shared/web-client")

    config, web_secrets = root / "web-config", root / "web-secrets"
    config.mkdir()
    web_secrets.mkdir(mode=0o700)
    fetch(root / "shared" / "web-client" / "idm.json", config / "idm.json").chmod(0o644)
    fetch(root / "shared" / "web-client" / "tls" / "ca.pem", config / "ca.pem").chmod(0o644)
    mine = root / "mine"  # copies this test may read (the images' files belong to uid 10001)
    mine.mkdir(mode=0o700)
    for name in ("idm-webui", "idm-selfservice"):
        fetch(root / "ldap1" / "secrets" / f"{name}.secret", web_secrets / f"{name}.secret")
        fetch(root / "ldap1" / "secrets" / f"{name}.secret", mine / f"{name}.secret")
    for name in ("replicator.crt.pem", "replicator.key.pem"):
        fetch(root / "shared" / "certs" / "ldap2" / name, mine / name)
    (web_secrets / "webui-flask.secret").write_text(secrets.token_urlsafe(48))
    for secret in web_secrets.iterdir():
        secret.chmod(0o600)
    own(web_secrets)
    own(config)

    web_port = free_port()
    env = {**os.environ, "IDM_TEST_ROOT": str(root), "IDM_WEB_PORT": str(web_port), "IDM_TAG": TAG}
    run(*COMPOSE, "up", "-d", env=env)
    try:
        deadline = time.monotonic() + 90
        for container in ("idm-test-ldap1", "idm-test-ldap2", "idm-test-ldap3", "idm-test-web"):
            while subprocess.run(["podman", "healthcheck", "run", container], capture_output=True,
                                 check=False).returncode != 0:
                assert time.monotonic() < deadline, run("podman", "logs", container)
                time.sleep(1)
        yield {"root": root, "ports": ports, "web": web_port, "passwords": passwords}
    finally:
        run(*COMPOSE, "down", env=env)


def test_every_container_is_healthy_and_runs_as_its_own_user(deployed: dict[str, object]) -> None:
    for container in ("idm-test-ldap1", "idm-test-ldap2", "idm-test-ldap3", "idm-test-web"):
        assert subprocess.run(["podman", "healthcheck", "run", container], check=False).returncode == 0
        user = run("podman", "exec", container, "id", "-u").strip()
        assert user == str(UID), container
        env = run("podman", "exec", container, "env")
        assert "secret" not in env.lower() and "password" not in env.lower(), container
    for image in (SLAPD, WEB):  # nothing secret baked in
        listing = run("podman", "run", "--rm", "--user", "root", "--entrypoint", "sh", image, "-c",
                      "find / -xdev \\( -name '*.secret' -o -name '*.key.pem' -o -name passphrase \\) -print")
        assert listing.strip() == "", image


def test_sign_in_through_the_web_container(deployed: dict[str, object]) -> None:
    base = f"http://127.0.0.1:{deployed['web']}"
    jar = http.cookiejar.CookieJar()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())
    with opener.open(f"{base}/login", timeout=10) as response:
        page = response.read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page)
    assert token, page[:500]
    passwords: dict[str, str] = deployed["passwords"]  # type: ignore[assignment]
    form = urllib.parse.urlencode({"uid": "nmg.sys", "password": passwords["nmg.sys"],
                                   "csrf_token": token.group(1)}).encode()
    with pytest.raises(urllib.error.HTTPError) as answer:  # a 302 is not followed
        opener.open(f"{base}/login", data=form, timeout=30)
    redirect = answer.value
    location, status = redirect.headers["Location"], redirect.code
    redirect.close()
    assert status == 302 and location.endswith("/password")  # signed in; the password must change


def test_bind_and_read_through_the_consumer(deployed: dict[str, object]) -> None:
    root: Path = deployed["root"]  # type: ignore[assignment]
    consumer = f"ldaps://127.0.0.1:{deployed['ports']['ldap3'][1]}"  # type: ignore[index]
    env = {**os.environ, "LDAPTLS_CACERT": str(root / "web-config" / "ca.pem")}
    bind = ["-x", "-H", consumer, "-D", "cn=idm-webui,ou=system,dc=edu,dc=cn",
            "-y", str(root / "mine" / "idm-webui.secret")]
    assert run("ldapwhoami", *bind, env=env).strip() == "dn:cn=idm-webui,ou=system,dc=edu,dc=cn"
    schools = (DEMO / "schools-sample.csv").read_text(encoding="utf-8")
    run("podman", "exec", "-i", "idm-test-ldap1", "sh", "-c", "cat > /tmp/s.csv && idm org import /tmp/s.csv",
        stdin=schools)
    code = schools.splitlines()[1].split(",")[0]
    # read as the replication identity (a node certificate), which sees the whole tree
    as_node = {**env, "LDAPTLS_CERT": str(root / "mine" / "replicator.crt.pem"),
               "LDAPTLS_KEY": str(root / "mine" / "replicator.key.pem")}
    deadline = time.monotonic() + 30
    while True:
        found = run("ldapsearch", "-LLL", "-Q", "-Y", "EXTERNAL", "-H", consumer, "-b", "dc=edu,dc=cn",
                    f"(idmCode={code})", "idmCode", env=as_node)
        if f"idmCode: {code}" in found:
            break
        assert time.monotonic() < deadline, f"the school {code} written on ldap1 never reached the consumer"
        time.sleep(0.5)


def test_the_provider_seals_its_log_on_a_schedule(deployed: dict[str, object]) -> None:
    """ldap1 runs with IDM_SEAL_INTERVAL: the entrypoint's loop seals its log, SM2-signed with
    the key in its data folder, and the seals verify inside the container."""
    deadline = time.monotonic() + 60
    while True:
        done = subprocess.run(["podman", "exec", "idm-test-ldap1", "idm", "audit", "verify"],
                              capture_output=True, text=True, check=False)
        count = re.search(r"intact: (\d+)", done.stdout)
        if done.returncode == 0 and count and int(count.group(1)) >= 1:
            break
        assert time.monotonic() < deadline, done.stdout + done.stderr
        time.sleep(1)
    mode = run("podman", "exec", "idm-test-ldap1", "stat", "-c", "%a", "/var/lib/idm/seal/seal.key.pem")
    assert mode.strip() == "600"


def test_a_crashed_slapd_container_is_started_again(deployed: dict[str, object]) -> None:
    """slapd is the container's PID 1: when it dies (SIGKILL from the host, as the OOM killer
    does), the compose file's `restart: unless-stopped` starts the container again, and the
    entrypoint's `idm server run` sees the crash (the pid file it left) before slapd starts."""
    root: Path = deployed["root"]  # type: ignore[assignment]
    before = run("podman", "inspect", "-f", "{{.State.Pid}}", "idm-test-ldap2").strip()
    killed = time.monotonic()
    os.kill(int(before), signal.SIGKILL)
    uri = f"ldaps://127.0.0.1:{deployed['ports']['ldap2'][1]}"  # type: ignore[index]
    env = {**os.environ, "LDAPTLS_CACERT": str(root / "web-config" / "ca.pem")}
    bind = ["-x", "-H", uri, "-D", "cn=idm-webui,ou=system,dc=edu,dc=cn",
            "-y", str(root / "mine" / "idm-webui.secret")]
    while subprocess.run(["ldapwhoami", *bind], env=env, capture_output=True, check=False).returncode != 0:
        assert time.monotonic() - killed < 60, run("podman", "ps", "-a")
        time.sleep(0.2)
    print(f"\nthe slapd container answered again {time.monotonic() - killed:.1f}s after the kill")
    assert run("podman", "inspect", "-f", "{{.State.Pid}}", "idm-test-ldap2").strip() != before
    logs = subprocess.run(["podman", "logs", "idm-test-ldap2"], capture_output=True, text=True, check=False)
    assert "had not stopped cleanly" in logs.stdout + logs.stderr
