"""Certificates issued per second from CSRs: through the toolkit (CSR checks, the user profile,
the certificate record and publication in the directory) vs raw `cryptography` signing of the
same certificates in the same script. Prints both rates and the ratio.

    .venv/bin/python benches/ca.py [--count 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

from idm import accounts, ca, certs  # noqa: E402
from idm import actor as actors  # noqa: E402
from idm.directory import connection  # noqa: E402
from idm.directory.session import Session  # noqa: E402
from idm.server import embedded  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="idm-ca-bench-") as tmp:
        settings = c.start_idm(Path(tmp))
        try:
            counties = c.load_tree(settings)
            county = counties[0]
            with c.ops(settings) as session:
                sec = f"uid=bench.sec,ou=admins,{county}"
                session.add(sec, {"objectClass": ["idmAdminAccount"], "uid": ["bench.sec"], "cn": ["压测"],
                                  "sn": ["压"], "idmStatus": ["active"], "idmAdminRole": ["secadmin"]})
                session.set_password(sec, c.PASSWORD)
                session.replace(sec, {"pwdReset": []})
                users = []
                for i in range(args.count):
                    dn = f"uid=cert{i:04d},ou=people,{county}"
                    session.add(dn, {"objectClass": ["idmBusinessAccount"], "uid": [f"cert{i:04d}"],
                                     "cn": [f"证书{i}"], "sn": ["证"], "idmStatus": ["active"],
                                     "idmGrant": ["teacher#viewer"], "mail": [f"c{i}@demo.edu.cn"]})
                    users.append(dn)
            config = ca.CaConfig(folder=Path(tmp) / "ca")
            ca.init(config)
            issuer = ca.load(config)
            csrs = []
            for i in range(args.count):
                key = ec.generate_private_key(ec.SECP256R1())
                name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"证书{i}"),
                                  x509.NameAttribute(NameOID.USER_ID, f"cert{i:04d}")])
                csrs.append(x509.CertificateSigningRequestBuilder().subject_name(name).sign(
                    key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
            # raw: parse the CSR and sign the same profile, nothing else
            start = time.perf_counter()
            for i, pem in enumerate(csrs):
                csr = x509.load_pem_x509_csr(pem)
                ca.issue(issuer, csr.public_key(), ca.Subject(f"证书{i}", f"cert{i:04d}", None, "县"))
            raw = args.count / (time.perf_counter() - start)
            conn = connection.bind_as(settings.ldap_uri, sec, c.PASSWORD)
            with Session(conn, settings.suffix) as session:
                actor = actors.load(session)
                start = time.perf_counter()
                for dn, pem in zip(users, csrs, strict=True):
                    certs.issue_from_csr(session, actor, issuer, accounts.get(session, dn), pem, "F-BENCH")
                toolkit = args.count / (time.perf_counter() - start)
        finally:
            embedded.stop(settings)
    print(f"{args.count} certificates from CSRs (EC P-256)")
    print(f"raw cryptography signing: {raw:8.1f} /s")
    print(f"through the toolkit:      {toolkit:8.1f} /s   ratio {toolkit / raw:.3f}")


if __name__ == "__main__":
    main()
