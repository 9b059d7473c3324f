"""A local SAML 2.0 identity provider for roster's tests, on pysaml2 (PyPI) and
xmlsec1 (Debian), shaped like JumpCloud's "Custom SAML App": issuer `JumpCloud`,
the e-mail address as an emailAddress NameID, attributes `email`, `firstName`,
`lastName` and a multi-valued `memberOf`, RSA-SHA256.

Endpoints:
  GET  /metadata          the IdP's metadata (entity id, SSO URL, signing certificate)
  GET  /sso               HTTP-Redirect binding: a sign-in form for the AuthnRequest
  POST /sso/login         signs the user in: an auto-posting form to the SP's ACS
  POST /idp-initiated     an unsolicited response for the SP named by `sp`

`/sso/login` and `/idp-initiated` take switches for the negative tests: `sign`
(assertion, response, both, none), `alg` (sha256, sha1), `key` (idp, other: a key
that is not in the metadata), `audience` (a value, or `none` to leave the
restriction out), `groups` (comma-separated memberOf), `recipient`, `destination` (signed in), `issuer`, `expired` (1), `tamper` (change the NameID after
signing), `comment` (comment injection in the NameID), and `attack` (XML signature
wrapping: evil_first, evil_last, wrap, extensions, object).

It reads its configuration from SAML_TEST_CONFIG (JSON: port, entity_id, accounts)
and prints one JSON line when ready: {"url": ..., "metadata": ..., "sso": ...}.
The SP's metadata is fetched from the request's issuer (roster's entity id is its
metadata URL).
"""

import base64
import datetime
import html
import json
import os
import re
import sys
import tempfile
import threading
import urllib.parse
import urllib.request
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, xmldsig
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server

CONFIG = json.loads(os.environ.get("SAML_TEST_CONFIG", "{}"))
ENTITY_ID = CONFIG.get("entity_id", "JumpCloud")
ACCOUNTS = CONFIG.get("accounts", {})
WORK = tempfile.mkdtemp(prefix="roster-saml-idp-")
XMLSEC = "/usr/bin/xmlsec1"


def key_pair(name):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365 * 5))
        .sign(key, hashes.SHA256())
    )
    key_path = os.path.join(WORK, name + ".key")
    cert_path = os.path.join(WORK, name + ".pem")
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


KEYS = {"idp": key_pair("idp"), "other": key_pair("other")}
SP_METADATA = {}


def sp_metadata(entity_id):
    """The SP's metadata, fetched once from its entity id (roster's metadata URL)."""
    if entity_id not in SP_METADATA:
        with urllib.request.urlopen(entity_id, timeout=10) as r:
            SP_METADATA[entity_id] = r.read().decode()
    return SP_METADATA[entity_id]


SERVERS = {}
LOCK = threading.Lock()


def server(base, key="idp", sp=None, lifetime_minutes=5, entity_id=None):
    """A pysaml2 IdP for these settings, made once (loading a configuration parses
    the SP's metadata, which would dominate a benchmark's sign-in)."""
    settings = (base, key, sp, lifetime_minutes, entity_id)
    with LOCK:
        if settings not in SERVERS:
            SERVERS[settings] = new_server(*settings)
        return SERVERS[settings]


def new_server(base, key, sp, lifetime_minutes, entity_id):
    key_file, cert_file = KEYS[key]
    conf = {
        "entityid": entity_id or ENTITY_ID,
        "service": {
            "idp": {
                "endpoints": {
                    "single_sign_on_service": [
                        (base + "/sso", BINDING_HTTP_REDIRECT),
                        (base + "/sso", BINDING_HTTP_POST),
                    ]
                },
                "policy": {
                    "default": {
                        "lifetime": {"minutes": lifetime_minutes},
                        "attribute_restrictions": None,
                        "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
                    }
                },
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                "want_authn_requests_signed": False,
            }
        },
        "key_file": key_file,
        "cert_file": cert_file,
        "xmlsec_binary": XMLSEC,
        "metadata": {"inline": [sp_metadata(sp)]} if sp else {},
        "allow_unknown_attributes": True,
    }
    cfg = IdPConfig()
    cfg.load(conf)
    return Server(config=cfg)


def identity_of(email):
    account = ACCOUNTS.get(email, {})
    local = email.split("@")[0]
    return {
        "email": [account.get("email", email)],
        "firstName": [account.get("firstName", local.capitalize())],
        "lastName": [account.get("lastName", "Tester")],
        "memberOf": account.get("memberOf", []),
    }


ASSERTION = re.compile(r"<(\w+:)?Assertion\b.*?</(\w+:)?Assertion>", re.S)
SIGNATURE = re.compile(r"<(\w+:)?Signature\b.*?</(\w+:)?Signature>", re.S)
NAMEID = re.compile(r"(<(?:\w+:)?NameID\b[^>]*>)([^<]*)(</(?:\w+:)?NameID>)")


def evil_copy(assertion, evil):
    """The signed assertion with its signature removed, a new ID and another user."""
    copy = SIGNATURE.sub("", assertion, count=1)
    copy = re.sub(r'\bID="[^"]+"', 'ID="_evil"', copy, count=1)
    copy = NAMEID.sub(lambda m: m.group(1) + evil + m.group(3), copy, count=1)
    return copy.replace(">" + evil_email_of(assertion) + "<", ">" + evil + "<")


def evil_email_of(assertion):
    m = NAMEID.search(assertion)
    return m.group(2) if m else ""


def mutate(xml, form):
    """Applies the attack switches to a signed response's XML."""
    evil = form.get("evil", "mallory@acme.test")
    attack = form.get("attack")
    if form.get("tamper"):
        xml = NAMEID.sub(lambda m: m.group(1) + evil + m.group(3), xml, count=1)
    if form.get("comment"):
        # The IdP signed `victim@acme.test.evil.test`; the comment splits the text, so
        # a parser that reads the first text node sees `victim@acme.test`.
        cut = form["comment"]
        i = cut.index(".evil")
        xml = xml.replace(">" + cut + "<", ">" + cut[:i] + "<!---->" + cut[i:] + "<")
    if attack:
        m = ASSERTION.search(xml)
        signed = m.group(0)
        prefix = (m.group(1) or "")
        copy = evil_copy(signed, evil)
        if attack == "evil_first":
            xml = xml.replace(signed, copy + signed, 1)
        elif attack == "evil_last":
            xml = xml.replace(signed, signed + copy, 1)
        elif attack == "wrap":
            # XSW4: the signed assertion inside the evil one.
            end = "</" + prefix + "Assertion>"
            xml = xml.replace(signed, copy[: -len(end)] + signed + end, 1)
        elif attack == "extensions":
            # XSW7: the signed assertion hidden in Extensions, the evil one in its place.
            xml = xml.replace(signed, copy, 1)
            xml = re.sub(
                r"(<(\w+:)?Status\b)",
                lambda s: '<samlp:Extensions xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">'
                + signed
                + "</samlp:Extensions>"
                + s.group(1),
                xml,
                count=1,
            )
        elif attack == "object":
            # XSW8: the signed assertion inside the evil one's Signature/Object.
            sig = SIGNATURE.search(signed).group(0)
            ds = re.match(r"<(\w+:)?Signature", sig).group(1) or ""
            end = "</" + ds + "Signature>"
            wrapped = sig[: -len(end)] + "<" + ds + "Object>" + signed + "</" + ds + "Object>" + end
            evil_signed = re.sub(r'\bID="[^"]+"', 'ID="_evil"', signed, count=1)
            evil_signed = NAMEID.sub(lambda n: n.group(1) + evil + n.group(3), evil_signed, count=1)
            evil_signed = SIGNATURE.sub(lambda _: wrapped, evil_signed, count=1)
            xml = xml.replace(signed, evil_signed, 1)
        else:
            raise ValueError("unknown attack " + attack)
    return xml


def respond_locked(idp, identity, in_response_to, acs, sp_entity_id, audience, name, sign, sha1):
    """One signed response (pysaml2's Server is shared between threads: one at a time)."""
    return idp.create_authn_response(
        identity,
        in_response_to=in_response_to,
        destination=acs,
        # The audience is the SP the response is made for.
        sp_entity_id=audience if audience and audience != "none" else sp_entity_id,
        name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=name),
        authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
        sign_response=sign in ("response", "both"),
        sign_assertion=sign in ("assertion", "both"),
        sign_alg=xmldsig.SIG_RSA_SHA1 if sha1 else xmldsig.SIG_RSA_SHA256,
        digest_alg=xmldsig.DIGEST_SHA1 if sha1 else xmldsig.DIGEST_SHA256,
    )


def respond(base, form, in_response_to, sp_entity_id, acs):
    email = form.get("email", "")
    lifetime = -10 if form.get("expired") else 5
    idp = server(base, form.get("key", "idp"), sp_entity_id, lifetime, form.get("issuer"))
    # A response signed for another address (Destination and Recipient).
    acs = form.get("destination") or acs
    sign = form.get("sign", "assertion")
    sha1 = form.get("alg") == "sha1"
    identity = identity_of(form.get("comment") or email)
    if "groups" in form:
        identity["memberOf"] = [g for g in form["groups"].split(",") if g]
    name = form.get("comment") or email
    audience = form.get("audience")
    with LOCK:
        resp = respond_locked(idp, identity, in_response_to, acs, sp_entity_id, audience, name, sign, sha1)
    xml = str(resp)
    if audience == "none":
        xml = re.sub(r"<(\w+:)?AudienceRestriction\b.*?</(\w+:)?AudienceRestriction>", "", xml, flags=re.S)
        # Only an unsigned response can lose it unnoticed; a signed one is broken by it.
    if form.get("recipient"):
        xml = re.sub(r'Recipient="[^"]*"', 'Recipient="%s"' % form["recipient"], xml)
    return mutate(xml, form)


def post_form(acs, saml_response, relay_state):
    relay = (
        '<input type="hidden" name="RelayState" value="%s">' % html.escape(relay_state)
        if relay_state
        else ""
    )
    return (
        "<!doctype html><html><body onload=\"document.forms[0].submit()\">"
        '<form method="post" action="%s">'
        '<input type="hidden" name="SAMLResponse" value="%s">%s'
        '<noscript><button type="submit">Continue</button></noscript>'
        "</form></body></html>"
        % (html.escape(acs), html.escape(base64.b64encode(saml_response.encode()).decode()), relay)
    )


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write(fmt % args + "\n")

    def base(self):
        return "http://%s" % self.headers.get("Host")

    def send(self, status, body, content_type="text/html; charset=utf-8"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def form(self):
        length = int(self.headers.get("Content-Length", "0"))
        pairs = urllib.parse.parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)
        return dict(pairs)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        if url.path == "/metadata":
            idp = server(self.base())
            return self.send(200, create_metadata_string(None, idp.config, 4, None, None, None, None, None).decode(), "application/samlmetadata+xml")
        if url.path == "/cert":
            with open(KEYS[query.get("key", "idp")][1]) as f:
                return self.send(200, f.read(), "application/x-pem-file")
        if url.path == "/sso":
            fields = "".join(
                '<input type="hidden" name="%s" value="%s">' % (k, html.escape(query[k]))
                for k in ("SAMLRequest", "RelayState")
                if k in query
            )
            return self.send(
                200,
                "<!doctype html><html><head><title>Test IdP sign-in</title></head><body>"
                "<h1>Sign in to the test identity provider</h1>"
                '<form method="post" action="/sso/login">%s'
                '<label>E-mail <input name="email" id="email"></label>'
                '<button type="submit" id="sign-in">Sign in</button></form></body></html>'
                % fields,
            )
        self.send(404, "not found", "text/plain")

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        form = self.form()
        try:
            if url.path == "/sso/login":
                # The request names its SP; its metadata tells the ACS.
                request_xml = zlib.decompress(base64.b64decode(form["SAMLRequest"]), -15).decode()
                issuer = re.search(r"<(?:\w+:)?Issuer[^>]*>([^<]+)<", request_xml).group(1)
                idp = server(self.base(), sp=issuer)
                parsed = idp.parse_authn_request(form["SAMLRequest"], BINDING_HTTP_REDIRECT)
                req = parsed.message
                acs = req.assertion_consumer_service_url
                xml = respond(self.base(), form, req.id, issuer, acs)
                return self.send(200, post_form(acs, xml, form.get("RelayState")))
            if url.path == "/idp-initiated":
                sp = form["sp"]
                idp = server(self.base(), sp=sp)
                acs = idp.metadata.assertion_consumer_service(sp, BINDING_HTTP_POST)[0]["location"]
                xml = respond(self.base(), form, None, sp, acs)
                return self.send(200, post_form(acs, xml, form.get("RelayState")))
        except Exception as e:  # the test reads the reason from the body
            return self.send(500, "idp error: %r" % (e,), "text/plain")
        self.send(404, "not found", "text/plain")


def main():
    # A backlog for a benchmark's concurrent clients (socketserver's default is 5).
    ThreadingHTTPServer.request_queue_size = 1024
    httpd = ThreadingHTTPServer(("127.0.0.1", int(CONFIG.get("port", 0))), Handler)
    url = "http://127.0.0.1:%d" % httpd.server_address[1]
    print(json.dumps({"url": url, "metadata": url + "/metadata", "sso": url + "/sso"}), flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
