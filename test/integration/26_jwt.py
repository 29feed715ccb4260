"""26: device tokens as JSON Web Tokens, minted by a third-party library
(Debian's python3-jwt, run by /usr/bin/python3: the python3 on PATH may
not see it) with HS256 under a tokens.keys secret, and ES256, EdDSA and
RS256 under keys made with openssl; refused as docs/protocol.md section 6
says."""

import hashlib
import hmac
import json
import os
import re
import subprocess
import time

import harness
import hfwire
from harness import Relay

MINT = r"""
import json, sys, jwt
alg, key_file, headers, claims = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
key = open(key_file, "rb").read()
if alg == "HS256":
    key = key.strip()
print(jwt.encode(claims, key, algorithm=alg, headers=headers))
"""

KEYGEN = {
    "ES256": ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "EdDSA": ["openssl", "genpkey", "-algorithm", "ed25519"],
    "RS256": ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
}


def python_jwt():
    out = subprocess.run(["/usr/bin/python3", "-c", "import jwt, cryptography"], capture_output=True)
    if out.returncode != 0:
        raise harness.Skip("/usr/bin/python3 has no jwt (python3-jwt; tools/deps.sh installs it)")


def keys_in(folder):
    """A private and a public PEM per public-key algorithm: {alg: (private, public)}."""
    made = {}
    for alg, command in KEYGEN.items():
        private, public = os.path.join(folder, alg + ".key"), os.path.join(folder, alg + ".pub")
        subprocess.run(command + ["-out", private], check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", private, "-pubout", "-out", public], check=True, capture_output=True)
        made[alg] = (private, public)
    return made


def mint(alg, key_file, kid="k1", **claims):
    headers = {"kid": kid} if kid else {}
    out = subprocess.run(["/usr/bin/python3", "-c", MINT, alg, key_file, json.dumps(headers), json.dumps(claims)],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def claims(account="alice", device="phone", ttl=3600, **more):
    now = int(time.time())
    return dict({"sub": account, "device": device, "exp": now + ttl, "iat": now}, **more)


def hello(relay, token):
    """(frame type, fields) of the server's answer to a HELLO with token."""
    conn = relay.conn()
    conn.send(hfwire.HELLO, [("token", token), ("version_min", 1), ("version_max", 1)])
    got = conn.recv(timeout=5)
    conn.close()
    return got


def refused(relay, token, code, said):
    kind, fields = hello(relay, token)
    assert kind == hfwire.ERROR and fields["code"] == hfwire.ERR[code], (kind, fields)
    assert said in fields["text"], fields["text"]


def relay_with_every_algorithm(**settings):
    first = Relay()  # its token secret, and a folder for the keys
    made = keys_in(first.dir)
    keys = [("k1", first.secret_file)] + [(alg.lower(), alg, public) for alg, (_, public) in made.items()]
    return Relay(share=first, keys=keys, **settings).start(), first.secret_file, made


def test_tokens_minted_by_a_jwt_library_are_accepted_for_every_algorithm():
    python_jwt()
    relay, secret, made = relay_with_every_algorithm()
    kind, fields = hello(relay, mint("HS256", secret, **claims(device="hs")))
    assert kind == hfwire.WELCOME and (fields["account"], fields["device"]) == ("alice", "hs"), (kind, fields)
    for alg, (private, _) in made.items():
        kind, fields = hello(relay, mint(alg, private, kid=alg.lower(), **claims(device=alg.lower())))
        assert kind == hfwire.WELCOME and fields["device"] == alg.lower(), (alg, kind, fields)
    # The allocator takes them as HELLO does.
    token = mint("ES256", made["ES256"][0], kid="es256", **claims())
    assert hfwire.allocate(relay.alloc_port, relay.ca, token) == [relay.address()]
    # handoff token --format jwt makes one the library reads.
    out = subprocess.run([harness.HANDOFF, "token", "--secret-file", secret, "--account", "alice", "--device", "cli",
                          "--format", "jwt"], capture_output=True, text=True, check=True)
    assert hello(relay, out.stdout.strip())[0] == hfwire.WELCOME
    read = subprocess.run(["/usr/bin/python3", "-c", "import jwt, sys; print(jwt.decode(sys.argv[1], open(sys.argv[2])"
                           ".read().strip(), algorithms=['HS256'])['device'])", out.stdout.strip(), secret],
                          capture_output=True, text=True, check=True)
    assert read.stdout.strip() == "cli"


def test_what_a_jwt_must_not_be():
    python_jwt()
    relay, secret, made = relay_with_every_algorithm(**{"tokens.audience": "handoff", "tokens.issuer": "backend"})
    ok = dict(aud="handoff", iss="backend")
    es_private = made["ES256"][0]
    good = mint("ES256", es_private, kid="es256", **claims(**ok))
    assert hello(relay, good)[0] == hfwire.WELCOME
    head, body, signature = good.split(".")
    tampered = ".".join([head, body, ("A" if signature[0] != "A" else "B") + signature[1:]])
    refused(relay, tampered, "bad_token", "signature")
    none_header = hfwire.b64url(json.dumps({"alg": "none", "kid": "es256"}).encode())
    refused(relay, none_header + "." + body + ".", "bad_token", "alg")
    refused(relay, mint("ES256", es_private, kid="nobody", **claims(**ok)), "unknown_key", "kid")
    refused(relay, mint("ES256", es_private, kid=None, **claims(**ok)), "bad_token", "no kid")
    refused(relay, mint("ES256", es_private, kid="es256", **claims(ttl=-3600, **ok)), "token_expired", "expired")
    refused(relay, mint("ES256", es_private, kid="es256", **claims(nbf=int(time.time()) + 3600, **ok)),
            "bad_token", "nbf")
    refused(relay, mint("ES256", es_private, kid="es256", **claims(aud="another", iss="backend")), "bad_token", "aud")
    refused(relay, mint("ES256", es_private, kid="es256", **claims(aud="handoff", iss="someone")), "bad_token", "iss")
    # The key decides the algorithm: an HS256 token made with the ES256
    # key's public PEM as its secret (made by hand: the library refuses
    # to) names that key, and is refused.
    with open(made["ES256"][1], "rb") as f:
        pem = f.read()
    signed = hfwire.b64url(b'{"alg":"HS256","kid":"es256"}') + "." + hfwire.b64url(json.dumps(claims(**ok)).encode())
    confused = signed + "." + hfwire.b64url(hmac.new(pem, signed.encode(), hashlib.sha256).digest())
    refused(relay, confused, "bad_token", "alg is not its key's")
    refused(relay, mint("ES256", es_private, kid="es256", **claims(**ok)).replace(head, hfwire.b64url(json.dumps(
        {"alg": "ES256", "kid": "es256", "crit": ["exp"]}).encode()), 1), "bad_token", "crit")
    refused(relay, mint("ES256", es_private, kid="es256", **claims(device="@backend", **ok)), "bad_token", "device")
    refused(relay, "e30." * 520 + "x", "bad_token", "longer than 2048 bytes")


def test_the_python_snippet_of_browser_md_mints_a_token_hello_takes():
    """docs/browser.md's Python block, as written but for the secret's
    path, mints a token the relay takes."""
    python_jwt()
    with open(os.path.join(os.environ.get("HF_SRCDIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                           "docs", "browser.md")) as f:
        text = f.read()
    block = re.search(r"<!-- snippet-test: python -->\n```python\n(.*?)```", text, re.S)
    assert block, "docs/browser.md has no block marked snippet-test: python"
    relay = Relay().start()
    code = block.group(1).replace("/etc/handoff/token.secret", relay.secret_file) + "print(token)\n"
    out = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True, check=True)
    kind, fields = hello(relay, out.stdout.strip())
    assert kind == hfwire.WELCOME and (fields["account"], fields["device"]) == ("alice", "phone"), (kind, fields)


JWKS = r"""
import json, sys
from jwt.algorithms import RSAAlgorithm, ECAlgorithm, OKPAlgorithm
from cryptography.hazmat.primitives.serialization import load_pem_public_key
keys = []
for kid, path, kind in zip(sys.argv[1::3], sys.argv[2::3], sys.argv[3::3]):
    to_jwk = {"RSA": RSAAlgorithm, "EC": ECAlgorithm, "OKP": OKPAlgorithm}[kind].to_jwk
    jwk = json.loads(to_jwk(load_pem_public_key(open(path, "rb").read())))
    keys.append(dict(jwk, kid=kid, use="sig"))
print(json.dumps({"keys": keys}))
"""


def test_a_json_web_key_set_names_its_keys_by_their_kids():
    """tokens.keys' jwks_file: an identity provider's key set, each key
    taken by its own kid for the entry's algorithm, and those of other
    kinds left to the entries of theirs."""
    python_jwt()
    first = Relay()
    made = keys_in(first.dir)
    out = subprocess.run(["/usr/bin/python3", "-c", JWKS, "idp-rsa", made["RS256"][1], "RSA", "idp-ec",
                          made["ES256"][1], "EC", "idp-ed", made["EdDSA"][1], "OKP"],
                         capture_output=True, text=True, check=True)
    jwks = os.path.join(first.dir, "idp.jwks.json")
    with open(jwks, "w") as f:
        f.write(out.stdout)
    relay = Relay(share=first, keys=[("k1", first.secret_file), ("idp", "RS256", jwks, "jwks_file"),
                                     ("idp2", "ES256", jwks, "jwks_file"), ("idp3", "EdDSA", jwks, "jwks_file")]).start()
    for alg, kid in (("RS256", "idp-rsa"), ("ES256", "idp-ec"), ("EdDSA", "idp-ed")):
        kind, fields = hello(relay, mint(alg, made[alg][0], kid=kid, **claims(device=kid)))
        assert kind == hfwire.WELCOME and fields["device"] == kid, (alg, kind, fields)
    refused(relay, mint("RS256", made["RS256"][0], kid="idp", **claims()), "unknown_key", "kid")
    refused(relay, mint("ES256", made["ES256"][0], kid="idp-rsa", **claims()), "bad_token", "alg is not its key's")
    lonely = Relay(share=first, keys=[("k1", first.secret_file), ("idp", "RS256", made["RS256"][1], "jwks_file")])
    out = subprocess.run([harness.HANDOFFD, "-t", "-c", lonely.config], capture_output=True, text=True)
    assert out.returncode == 78 and "is not a JSON Web Key Set" in out.stderr, out.stderr


def test_a_key_file_of_the_wrong_kind_is_a_config_error():
    first = Relay()
    made = keys_in(first.dir)
    relay = Relay(share=first, keys=[("k1", first.secret_file), ("web", "ES256", made["EdDSA"][1])])
    out = subprocess.run([harness.HANDOFFD, "-t", "-c", relay.config], capture_output=True, text=True)
    assert out.returncode == 78 and "is not a key for ES256" in out.stderr, out.stderr


if __name__ == "__main__":
    harness.run(dict(globals()))
