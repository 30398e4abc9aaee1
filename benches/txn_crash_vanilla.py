"""Does a *vanilla* slapd survive a client killed while it holds an RFC 5805 transaction?

`benches/txn_crash.py` shows slapd 2.5.13 (Debian 12) going down when `idm load --atomic` is
killed with `kill -9` mid-transaction, but with idm's whole configuration. This one takes idm
out: a bare back-mdb database (no ACLs, no overlays; back-mdb runs transactions without any
option), and a child that only uses python-ldap: bind as rootDN, start a transaction, pipeline
adds carrying the transaction control, then end it. The child is SIGKILLed at a different stage
each round (right after the start, half-way, after all adds, after their answers, during the
end/commit); 2 s later a search says whether slapd still answers (restarted if not). Needs
only python-ldap, so it also runs with another distribution's python3 and slapd (a chroot):

    python3 benches/txn_crash_vanilla.py [--slapd /usr/sbin/slapd] [--modules /usr/lib/ldap]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ldap
from ldap.controls import RequestControl
from ldap.extop import ExtendedRequest

SUFFIX, ROOT, PW = "o=txn", "cn=admin,o=txn", "secret"
STAGES = ["start", "half", "sent", "answered", "ending"]
CONF = """include {schema}
pidfile {tmp}/slapd.pid
modulepath {modules}
moduleload back_mdb
database mdb
suffix "{suffix}"
rootdn "{root}"
rootpw {pw}
directory {tmp}/db
maxsize 1073741824
"""


def child(url: str, prefix: str, stage: str, count: int) -> None:
    """Open a transaction and stop at `stage`, saying so on stdout, until the parent kills us."""
    conn = ldap.initialize(url)
    conn.simple_bind_s(ROOT, PW)
    start = conn.extop(ExtendedRequest("1.3.6.1.1.21.1", None))
    txn_id = bytes(conn.result4(start, all=1, add_extop=1)[5] or b"")
    control = RequestControl("1.3.6.1.1.21.2", True, txn_id)
    reached, msgids, got = ["start"], [], 0
    try:  # slapd 2.5.13 may drop the connection (so the transaction) before the kill: say so
        for i in range(count):
            if i == count // 2:
                reached.append("half")
            if stage in reached:
                break
            attrs = [("objectClass", [b"organizationalRole"]), ("cn", [f"{prefix}-{i}".encode()])]
            msgids.append(conn.add_ext(f"cn={prefix}-{i},{SUFFIX}", attrs, serverctrls=[control]))
        for msgid in msgids if stage == "answered" else []:
            conn.result3(msgid)
            got += 1
        if stage == "ending":  # txnEndReq ::= SEQUENCE { identifier OCTET STRING }: commit
            body = b"\x04" + bytes([len(txn_id)]) + txn_id
            conn.extop(ExtendedRequest("1.3.6.1.1.21.3", b"\x30" + bytes([len(body)]) + body))
    except ldap.LDAPError as err:
        stage = f"connection lost after {len(msgids)} adds sent, {got} answered ({type(err).__name__})"
    print(stage, flush=True)
    time.sleep(3600)


def answers(url: str) -> bool:
    try:
        conn = ldap.initialize(url)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 3)
        conn.set_option(ldap.OPT_TIMEOUT, 3)
        conn.simple_bind_s(ROOT, PW)
        conn.search_s(SUFFIX, ldap.SCOPE_BASE)
        return True
    except ldap.LDAPError as err:  # no such object: before the suffix entry is added
        return isinstance(err, ldap.NO_SUCH_OBJECT)


def start_slapd(slapd: str, conf: Path, url: str, log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([slapd, "-d", "0", "-f", str(conf), "-h", url],
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)
    for _ in range(100):
        if answers(url) or proc.poll() is not None:
            break
        time.sleep(0.1)
    if not answers(url):
        proc.kill()
        sys.exit(f"slapd did not start, see {log}: {log.read_text()[-2000:]}")
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slapd", default="/usr/sbin/slapd")
    parser.add_argument("--modules", default="/usr/lib/ldap")
    parser.add_argument("--schema", default="/etc/ldap/schema/core.schema")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--adds", type=int, default=800,
                        help="more than ~1,000 unread adds and slapd drops the connection itself")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)  # url prefix stage
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], args.child[2], args.adds)
    version = subprocess.run([args.slapd, "-VV"], capture_output=True, text=True)
    print((version.stderr or version.stdout).splitlines()[0].strip(), flush=True)
    with tempfile.TemporaryDirectory(prefix="txn-crash-vanilla-") as name:
        tmp = Path(name)
        with socket.socket() as s:  # a free loopback port
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        (tmp / "db").mkdir()
        conf, log, url = tmp / "slapd.conf", tmp / "slapd.log", f"ldap://127.0.0.1:{port}/"
        conf.write_text(CONF.format(schema=args.schema, tmp=tmp, modules=args.modules,
                                    suffix=SUFFIX, root=ROOT, pw=PW))
        slapd = start_slapd(args.slapd, conf, url, log)
        down = 0
        try:
            admin = ldap.initialize(url)
            admin.simple_bind_s(ROOT, PW)
            admin.add_s(SUFFIX, [("objectClass", [b"organization"]), ("o", [b"txn"])])
            for n in range(args.kills):
                stage = STAGES[n % len(STAGES)]
                proc = subprocess.Popen([sys.executable, __file__, "--adds", str(args.adds),
                                         "--child", url, f"k{n}", stage], stdout=subprocess.PIPE)
                said = proc.stdout.readline().decode().strip() if proc.stdout else ""
                proc.kill()
                proc.wait()
                time.sleep(2)
                ok = answers(url)
                rc = slapd.poll()
                down += not ok
                print(f"kill {n + 1} at stage {stage!r} (child said {said!r}): slapd "
                      + ("answers" if ok else f"is DOWN (exit status {rc})"), flush=True)
                if not ok:
                    slapd.kill()  # (if it hangs rather than died)
                    slapd.wait()
                    slapd = start_slapd(args.slapd, conf, url, log)
        finally:
            slapd.terminate()
            slapd.wait()
        print(f"{down} of {args.kills} kills took slapd down")


if __name__ == "__main__":
    main()
