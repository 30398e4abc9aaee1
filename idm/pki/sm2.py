"""SM2 keys and signatures, SM3 digests (GM/T 0003, 0004, 0009), through OpenSSL 3's command
line: pyca/cryptography has no SM2 (its issue #6857) and curve arithmetic written here would
not belong in the product. SM3 itself comes from cryptography, which has it.

Every SM2 signature and verification carries the standard distinguishing identifier of
GM/T 0009 (`1234567812345678`): OpenSSL 3 leaves it empty unless told, and an empty one does
not conform, so nothing here signs or verifies without it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from idm.errors import ServerError
from idm.ops.bootstrap import write_secret

DISTID = "1234567812345678"
SIGN_OPTS = ("-sm3", "-sigopt", f"distid:{DISTID}")
VERIFY_OPTS = ("-vfyopt", f"distid:{DISTID}")
SM2_WITH_SM3 = x509.ObjectIdentifier("1.2.156.10197.1.501")
SM2_CURVE = "1.2.156.10197.1.301"


def openssl(*args: str | Path, data: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
    """Run `openssl`, its stdout; a failure is a server error that says which step failed.
    `env`: more of openssl's environment (what its configuration reads as $ENV::…)."""
    try:
        done = subprocess.run(["openssl", *map(str, args)], input=data, capture_output=True, check=False,
                              timeout=60, env={**os.environ, **env} if env else None)
    except FileNotFoundError:
        raise ServerError("找不到 openssl 命令（apt install openssl）",
                          "the openssl command is missing (apt install openssl)") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        raise ServerError(f"openssl {args[0]} 失败：{detail[0]}", f"openssl {args[0]} failed: {detail[0]}")
    return done.stdout


def sm3(data: bytes) -> str:
    """The SM3 digest (GB/T 32905), hex."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize().hex()


def new_key(path: Path, passphrase_file: Path | None) -> None:
    """An SM2 private key in a 0600 PKCS#8 file, encrypted with SM4 under the passphrase file."""
    cipher = ("-sm4-cbc", "-pass", f"file:{passphrase_file}") if passphrase_file else ()
    pem = openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2",
                  "-pkeyopt", "ec_param_enc:named_curve", *cipher)
    write_secret(path, pem)


def key_args(key: Path, passphrase_file: Path | None) -> tuple[str, ...]:
    """The options that hand a (possibly encrypted) key file to an openssl command."""
    return (str(key), *(("-passin", f"file:{passphrase_file}") if passphrase_file else ()))


def public_pem(key: Path, passphrase_file: Path | None) -> bytes:
    """The SubjectPublicKeyInfo of a private key file, as PEM."""
    return openssl("pkey", "-pubout", "-in", *key_args(key, passphrase_file))


def certificate_public_pem(cert: x509.Certificate) -> bytes:
    """The certificate's public key as PEM (cryptography cannot load an SM2 key, so openssl)."""
    return openssl("x509", "-pubkey", "-noout", data=cert.public_bytes(serialization.Encoding.PEM))


def names_sm2_curve(der: bytes) -> bool:
    """Whether a DER structure (certificate, CSR) holds a key on the SM2 curve: its SPKI
    names the curve's OID, which cryptography cannot load, so openssl reads it."""
    listing = openssl("asn1parse", "-inform", "DER", data=der).decode("ascii", "replace")
    return any(line.rstrip().endswith(":sm2") for line in listing.splitlines())


def sign(key: Path, passphrase_file: Path | None, data: bytes) -> bytes:
    """An SM2-with-SM3 signature (DER) over `data`, with the standard distinguishing ID."""
    return openssl("dgst", *SIGN_OPTS, "-sign", *key_args(key, passphrase_file), data=data)


def csr_signature_ok(csr_der: bytes) -> bool:
    """Whether a CSR's self-signature verifies with the standard ID. `openssl req -verify`
    exits 0 either way in 3.0, so its message is what counts."""
    done = subprocess.run(["openssl", "req", "-verify", "-noout", "-inform", "DER", *VERIFY_OPTS],
                          input=csr_der, capture_output=True, check=False, timeout=60)
    said = done.stdout + done.stderr
    return done.returncode == 0 and b"verify OK" in said and b"failure" not in said


def verify(public_key_pem: bytes, data: bytes, signature: bytes) -> bool:
    """Whether `signature` is an SM2-with-SM3 signature over `data` by the key, with the ID."""
    with tempfile.TemporaryDirectory(prefix="idm-sm2-") as tmp:
        pub, sig = Path(tmp) / "pub.pem", Path(tmp) / "sig.der"
        pub.write_bytes(public_key_pem)
        sig.write_bytes(signature)
        done = subprocess.run(["openssl", "dgst", "-sm3", "-sigopt", f"distid:{DISTID}", "-verify", str(pub),
                               "-signature", str(sig)], input=data, capture_output=True, check=False,
                              timeout=60)
    return done.returncode == 0 and b"Verified OK" in done.stdout
