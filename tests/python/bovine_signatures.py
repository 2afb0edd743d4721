"""bovine (PyPI) against peerpx's HTTP signatures, both ways; driven by
tests/it/federation_signatures.rs.

  bovine_signatures.py verify
      Reads {"method", "url", "headers", "body", "public_pem", "owner"} as JSON on standard input:
      a request peerpx signed. Checks it with bovine's own verifier
      (bovine.crypto.build_validate_http_signature_raw) and prints the owner it verified as, or
      exits 1.

  bovine_signatures.py send BASE KEY_ID
      Reads a PEM private key on standard input and, with bovine's own client functions, sends a
      signed POST of an activity to BASE/inbox and a signed GET of BASE/actor (BASE is a loopback
      URL the test serves). Prints {"post": [status, body], "get": [status, body]} as JSON.
"""

import asyncio
import json
import sys

import aiohttp
from bovine.clients.signed_http import legacy_digest_method
from bovine.clients.signed_http_methods import signed_get, signed_post
from bovine.crypto import build_validate_http_signature_raw
from bovine.crypto.types import CryptographicIdentifier, CryptographicSecret


async def verify(request):
    public = CryptographicIdentifier.from_pem(request["public_pem"], request["owner"])
    asked = []

    async def key_retriever(key_id):
        asked.append(key_id)
        return public

    validate = build_validate_http_signature_raw(key_retriever)
    body = request["body"].encode("utf-8")

    async def read_body():
        return body

    headers = {name.lower(): value for name, value in request["headers"].items()}
    owner = await validate(request["method"], request["url"], headers, read_body)
    if owner != request["owner"]:
        print(f"bovine did not verify the request (got {owner!r}, asked for {asked})")
        sys.exit(1)
    print(owner)


async def send(base, key_id, private_pem):
    secret = CryptographicSecret.from_pem(key_id, private_pem)
    activity = json.dumps({"type": "Follow", "actor": key_id.split("#")[0]})
    # Loopback only, never through a proxy.
    async with aiohttp.ClientSession(trust_env=False) as session:
        # legacy_digest_method is bovine's default: `Digest: sha-256=...`, lowercase.
        post = await signed_post(
            session, secret, f"{base}/inbox", activity, legacy_digest_method
        )
        posted = [post.status, await post.text()]
        get = await signed_get(session, secret, f"{base}/actor")
        got = [get.status, await get.text()]
    print(json.dumps({"post": posted, "get": got}))


def main():
    if sys.argv[1:2] == ["verify"]:
        asyncio.run(verify(json.load(sys.stdin)))
    elif sys.argv[1:2] == ["send"] and len(sys.argv) == 4:
        asyncio.run(send(sys.argv[2], sys.argv[3], sys.stdin.read()))
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
