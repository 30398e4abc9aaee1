"""Every use of cryptography in the product (密评): what, the algorithm, whether it is a national
one, and why where it is not. docs/compliance.md shows the same table."""

from __future__ import annotations

CRYPTOGRAPHY: tuple[tuple[str, str, str, str], ...] = (
    ("用户证书（国密 CA）", "SM2-with-SM3，GM/T 0015", "是",
     "idm ca init --algorithm sm2"),
    ("用户证书（EC CA）", "ECDSA P-256 / SHA-256（可选 RSA 3072）", "否",
     "供不支持 SM2 的客户端；可与国密 CA 并存"),
    ("吊销列表", "SM2-with-SM3（国密 CA）/ ECDSA（EC CA）", "是/否",
     "每个 CA 一份"),
    ("CA 私钥文件", "PKCS#8，SM4-CBC（国密 CA）/ AES-256-CBC（EC CA）", "是/否",
     "0600 文件，口令另存 0600 文件"),
    ("交付用户的 PKCS#12", "SM4-CBC + SM3 MAC，或 AES-256 + SHA-256 MAC", "是/用户选择",
     "AES-256 供不能打开 SM4 的客户端"),
    ("审计日志封存", "SM2 签名，SM3 摘要与链", "是",
     "此前的封存为 SHA-256、未签名（标为 unsigned）"),
    ("证据包清单", "SM3 摘要，SM2 签名", "是",
     "idm compliance verify"),
    ("口令存储", "Argon2（slapd argon2 模块）", "否",
     "无国密口令散列标准；Argon2 为现行推荐"),
    ("动态验证码（TOTP）", "HMAC-SHA1，RFC 6238", "否",
     "验证器应用只支持 RFC 6238 的 HMAC-SHA1"),
    ("目录 TLS（ldaps、StartTLS）", "Debian slapd / GnuTLS：TLS 1.2/1.3", "否",
     "GnuTLS 无国密套件；TLCP 须在 slapd 前加网关"),
    ("集群节点证书", "ECDSA P-256（EC CA）", "否",
     "用于上面的 TLS，不能用 SM2"),
    ("网页会话 Cookie、CSRF 令牌", "HMAC（itsdangerous / Flask-WTF，SHA-1）", "否",
     "Flask 默认；会话本身存于服务器"),
    ("备份校验和", "SHA-256（SHA256SUMS）", "否",
     "任何机器上用 sha256sum -c 校验"),
    ("申请单扫描件摘要", "SHA-256", "否",
     "待改为 SM3"),
)
