#!/usr/bin/env python3
"""Computes vectors.json, the known answers for package vault, independently
of the Go code: Python's hashlib/hmac and the pyca/cryptography library, with
the encodings written out here from their descriptions in the Go doc comments.

Run from this folder: python3 vectors.py > vectors.json
"""
import hashlib, hmac, json, struct
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

def lp(s):  # a length-prefixed part of AD
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">I", len(b)) + b

def ad(*parts):
    return b"".join(lp(p) for p in parts)

def expand(prk, info):
    return HKDFExpand(hashes.SHA256(), 32, info.encode()).derive(prk)

def raw(k):
    return k.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

# BIP 173, from its reference description.
CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
def polymod(values):
    gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = (chk & 0x1ffffff) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (b >> i) & 1 else 0
    return chk
def bech32(hrp, data):
    acc, bits, five = 0, 0, []
    for x in data:
        acc, bits = (acc << 8) | x, bits + 8
        while bits >= 5:
            bits -= 5
            five.append((acc >> bits) & 31)
    if bits:
        five.append((acc << (5 - bits)) & 31)
    exp = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    mod = polymod(exp + five + [0] * 6) ^ 1
    chk = [(mod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[d] for d in five + chk)

out = {}

# ContentHash and Statement.Canonical.
marking = "SENSITIVE BUT UNCLASSIFIED"
content = hashlib.sha256(b"dissent-content-v1\n" + ad("Syria policy", "We recommend a different course.\n", marking)).digest()
out["content_hash"] = content.hex()
canonical = (b"dissent-signature-v1\n" + lp("memo-01HV3K") + struct.pack(">q", 3)
             + content + lp(marking) + lp("alice"))
out["statement"] = canonical.hex()

# Identity from seed 00 01 .. 1f.
seed = bytes(range(32))
x = expand(seed, "dissent identity v1 x25519")
e = expand(seed, "dissent identity v1 ed25519")
out["identity_secret"] = bech32("age-secret-key-", x).upper()
out["identity_box"] = bech32("age", raw(X25519PrivateKey.from_private_bytes(x).public_key()))
sk = Ed25519PrivateKey.from_private_bytes(e)
out["identity_sign"] = raw(sk.public_key()).hex()
out["identity_index"] = expand(seed, "dissent identity v1 index").hex()
out["signature"] = sk.sign(canonical).hex()

# Key.Tag with key 00 .. 1f.
tk = expand(bytes(range(32)), "dissent tag key v1")
out["tag"] = hmac.new(tk, ad("memo", "memo-01HV3K"), hashlib.sha256).hexdigest()

# SessionID and SessionKey of token 42 42 .. 42.
tok = bytes([0x42]) * 32
out["session_id"] = hashlib.sha256(tok).hexdigest()
out["session_key"] = HKDF(hashes.SHA256(), 32, None, b"dissent session v1").derive(tok).hex()

# Derive with TestPasswordParams (t=1, m=64 KiB, p=1).
a = Argon2id(salt=bytes(range(16)), length=64, iterations=1, lanes=1, memory_cost=64).derive(b"correct horse battery staple")
out["verifier"] = a[:32].hex()
out["kek"] = a[32:].hex()

# Seal with key 00 .. 1f and nonce 00 .. 17: XChaCha20-Poly1305 is ChaCha20-
# Poly1305 under the HChaCha20 subkey of the nonce's first 16 bytes, with
# nonce 00000000 || the last 8 bytes; the associated data is 01 || ad.
def hchacha20(key, nonce16):
    def rotl(v, n): return ((v << n) | (v >> (32 - n))) & 0xffffffff
    def qr(s, a, b, c, d):
        s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = rotl(s[d] ^ s[a], 16)
        s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = rotl(s[b] ^ s[c], 12)
        s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = rotl(s[d] ^ s[a], 8)
        s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = rotl(s[b] ^ s[c], 7)
    s = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]
    s += list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))
    for _ in range(10):
        qr(s, 0, 4, 8, 12); qr(s, 1, 5, 9, 13); qr(s, 2, 6, 10, 14); qr(s, 3, 7, 11, 15)
        qr(s, 0, 5, 10, 15); qr(s, 1, 6, 11, 12); qr(s, 2, 7, 8, 13); qr(s, 3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
nonce = bytes(range(24))
field_ad = ad("dissent memo field v1", "memo-01HV3K", "body", "1")
body = b"We recommend a different course.\n"
ct = ChaCha20Poly1305(hchacha20(bytes(range(32)), nonce[:16])).encrypt(b"\0" * 4 + nonce[16:], body, b"\x01" + field_ad)
out["sealed"] = (b"\x01" + nonce + ct).hex()

print(json.dumps(out, indent=2, sort_keys=True))
