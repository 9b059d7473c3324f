"""A local stand-in for JumpCloud's directory API, for roster's pull tests and benchmark.

Python 3 standard library only. It serves the read-only calls a directory pull makes
(shared/research/jumpcloud-api-saml.md §1.2), with JumpCloud's shapes and conventions:

  POST /oauth2/token                         service-account token (§1.1): HTTP Basic
                                             client_id:client_secret, form
                                             grant_type=client_credentials&scope=api
  GET  /api/systemusers                      v1 list {"totalCount", "results"} (§1.3, §1.4)
  GET  /api/systemusers/{id}                 v1 SystemUser
  GET  /api/organizations                    {"totalCount", "results": [org]}
  GET  /api/v2/usergroups                    v2 bare array + x-total-count (§1.3, §1.5)
  GET  /api/v2/usergroups/{id}               UserGroup, with membershipMethod/memberQuery
  GET  /api/v2/usergroups/{id}/members       [GraphConnection], no e-mails (§1.5)
  GET  /api/v2/usergroups/{id}/membership    [GraphObjectWithPaths] of users
  GET  /api/v2/users/{id}/memberof           [GraphObjectWithPaths] of groups (§1.7 example)
  GET  /api/v2/applications/{id}/users       users reachable through the app's bound groups,
  GET  /api/v2/applications/{id}/usergroups  and those groups (§1.2, §1.7.5)

Conventions reproduced (§1.3, §1.7):
  * auth: `x-api-key` or `Authorization: Bearer <token from /oauth2/token>`; else 401
    {"message":"Unauthorized"}. --multi-tenant needs `x-org-id` (401 missing, 400 not
    24 hex, 404 unknown); /api/organizations is exempt so a client can discover the id.
    Single-tenant: an x-org-id header may be empty (JupiterOne) or equal --org-id, else 404.
  * paging: limit default 10, max 100 (--limit-over error → 400, clamp → 100), limit=0
    means the default; skip default 0; past the end → empty page with the total kept.
  * v1: sort/fields space-separated (`+` decodes to a space), filter `field:$op:value`
    ($eq $ne $in $gt $gte $lt $lte; $in values split on `|`). v2: sort/fields
    comma-separated, filter `field:op:value` (eq ne in gt ge lt le). Filters repeat to AND,
    values are case-sensitive, a bool field matches "true"/"false", a missing/null one
    matches "null". `-field` sorts descending; `_id` and `id` are aliases. A sort or fields
    key holding the other version's separator (e.g. v1 `sort=_id,email`) is a 400, so a
    client mixing the conventions is caught.
  * order: with `sort` it is deterministic (ties broken by id). WITHOUT `sort` the list
    endpoints (systemusers, usergroups, membership, memberof, application lists) answer in
    a random rotation of the id order, different on each request, so a client that pages
    without sort=_id sees rows skipped and repeated (§0.3). /members has no sort parameter
    in the spec and is always in member-id order.
  * a group LIST carries only id, name, type, email, description, attributes (the real
    captures, §1.5); the single-group GET adds membershipMethod, memberQuery,
    memberQueryExemptions, suggestionCounts (a `fields` list may ask for them).
  * compiledAttributes of a graph object is the group's `attributes` (or null) [INF].

Fixtures (deterministic; user i, 0 <= i < N, is a pure function of (seed s, i), plus N for
the duplicate e-mail):
  * _id = id = "64f0" + 20 hex digits of i+1; group k: "6500" + 20 hex of k+1;
    application: "6600...01"; org: --org-id, else "5f0c" + 20 hex of s.
  * username "user{i}", email "user{i}@acme.test", EXCEPT when N >= 50: user 41 has
    email "user40@acme.test" (a duplicate e-mail across users 40 and 41).
  * state: ABSENT when i%20==7; else "SUSPENDED" when i%33==5; else "STAGED" when
    i%50==11; else "ACTIVATED". suspended = (i%33==5) (also when state is absent).
    activated = false when i%10==3 or state is STAGED (i%10==3 is the "ACTIVATED but
    password pending" case), else true. account_locked = (i%97==13) (with a date),
    password_expired = (i%89==17).
  * names: i%25==9 → unicode first/last names (Zoë, Łukasz, 李, ... / Müller, 王, ...),
    else ASCII lists; displayname "" when i%9==5 else "First Last".
  * null strings: i%7==2 → middlename, jobTitle, department, location, description null;
    employeeIdentifier "E-{i}", null when i%11==4.
  * phoneNumbers: one work number "+1 555 01NN" when i%3==0, else []; addresses: one when
    i%4==1, else []; attributes [{"name":"team","value":...}]; manager = id of user
    i - i%10 (null when i%10==0); created 2023-01-01T00:00:00.000Z + i*10 min (+ms).
  * groups (G): group 0 "All Users", DYNAMIC_AUTOMATED, its membership is always every
    user (suspended included; users created later join it). When G >= 3 the last group
    ("Alumni {G-1}") is empty. The others, k in 1..m with m = G-2 (m = 1 when G == 2),
    are "{Base} {k}" (Engineering, Sales, ..., Développement). User i, unless i%17==0,
    belongs to {1+(i+s)%m, 1+(7i+3+s)%m, 1+(13i+5+s)%m} (1 to 3 groups); i%17==0 users
    are only in All Users. attributes: {"ldapGroups":[{"name": name}]} when k is odd,
    {"ldapGroups":[{"name":"ldap-{k}"}]} when k%6==4, else null. membershipMethod
    "NOTSET" when k%4==2, else "STATIC".
  * application "roster" (6600...01) is bound to groups 1 and 2 when they are middle
    groups (G >= 4), group 1 when G == 3, none otherwise.

Control plane (no auth, not counted in stats), under /_standin/: state, users, groups,
members, applications, seed, faults, stats, tokens, config. See README.md next to this file.
"""

import argparse
import base64
import bisect
import collections
import datetime
import gc
import json
import os
import random
import re
import secrets
import signal
import sys
import threading
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEX24 = re.compile(r"^[0-9a-fA-F]{24}$")
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")  # JumpCloud's ids are lower-case Mongo ObjectIds
DIGITS = re.compile(r"^[0-9]+$")
# A well-formed sort/fields/filter key: any other character means a wrong separator.
KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_.$]*$")
V1_OPS = {"$eq", "$ne", "$in", "$gt", "$gte", "$lt", "$lte"}
V2_OPS = {"eq", "ne", "in", "gt", "ge", "lt", "le"}
OP_NORMAL = {"$eq": "eq", "$ne": "ne", "$in": "in", "$gt": "gt", "$gte": "ge",
             "$lt": "lt", "$lte": "le"}
MAX_LIMIT = 100
DEFAULT_LIMIT = 10

FIRST = ["Ada", "Bob", "Carol", "Dan", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy",
         "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor",
         "Walter", "Yara"]
LAST = ["Lovelace", "Ng", "Smith", "Jones", "Brown", "Taylor", "Wilson", "Clark", "Lewis",
        "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams",
        "Nelson", "Hill"]
UNI_FIRST = ["Zoë", "Łukasz", "李", "José", "Søren", "Ümit", "Åsa", "Đorđe"]
UNI_LAST = ["Müller", "Wiśniewski", "王", "García", "Ødegård", "Çelik", "Ångström", "Nguyễn"]
TITLES = ["Engineer", "Senior Engineer", "Manager", "Analyst", "Designer", "Director",
          "Support Specialist"]
DEPTS = ["R&D", "Sales", "Support", "Marketing", "Finance", "Operations"]
LOCATIONS = ["Berlin", "Denver", "London", "Remote", "Tokyo"]
EMPLOYEE_TYPES = ["FTE", "Contractor", "Intern"]
TEAMS = ["core", "edge", "infra", "web", "mobile", "data"]
GROUP_BASES = ["Engineering", "Sales", "Support", "Marketing", "Finance", "Operations",
               "Design", "Security", "Legal", "Team", "Développement"]
EPOCH = datetime.datetime(2023, 1, 1, tzinfo=datetime.timezone.utc)

FAULT_BODIES = {
    403: {"message": "Forbidden: Your IP has been blocked due to suspected abuse"},
    429: {"message": "Too Many Requests"},
    500: {"message": "Internal Server Error"},
    502: {"message": "Bad Gateway"},
    503: {"message": "Service Unavailable"},
    504: {"message": "Gateway Timeout"},
}


def user_id(i):
    return "64f0%020x" % (i + 1)


def group_id(k):
    return "6500%020x" % (k + 1)


def app_id(a):
    return "6600%020x" % (a + 1)


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


_DAYS = {}


def created_at(i):
    """2023-01-01T00:00:00.000Z + i*10 minutes + (i*37 % 1000) ms, without datetime per user."""
    day, rem = divmod(600 * i, 86400)
    date = _DAYS.get(day)
    if date is None:
        date = _DAYS[day] = (EPOCH + datetime.timedelta(days=day)).strftime("%Y-%m-%d")
    h, rem = divmod(rem, 3600)
    return "%sT%02d:%02d:%02d.%03dZ" % (date, h, rem // 60, rem % 60, (i * 37) % 1000)


def now_iso():
    return iso(datetime.datetime.now(datetime.timezone.utc))


# ---------------------------------------------------------------------------- fixtures

def make_user(seed, i, n, org):
    uid = user_id(i)
    if i % 25 == 9:
        first = UNI_FIRST[(i // 25 + seed) % len(UNI_FIRST)]
        last = UNI_LAST[(i // 25 + seed) % len(UNI_LAST)]
    else:
        first = FIRST[(i + seed) % len(FIRST)]
        last = LAST[(i // len(FIRST) + seed) % len(LAST)]
    nulls = i % 7 == 2
    suspended = i % 33 == 5
    if i % 20 == 7:
        state = None  # absent: older payloads have no `state` (§1.4)
    elif suspended:
        state = "SUSPENDED"
    elif i % 50 == 11:
        state = "STAGED"
    else:
        state = "ACTIVATED"
    locked = i % 97 == 13
    created = created_at(i)
    email = "user40@acme.test" if (n >= 50 and i == 41) else "user%d@acme.test" % i
    u = {
        "_id": uid,
        "id": uid,
        "username": "user%d" % i,
        "email": email,
        "alternateEmail": None,
        "firstname": first,
        "middlename": None if nulls else "",
        "lastname": last,
        "displayname": "" if i % 9 == 5 else "%s %s" % (first, last),
        "jobTitle": None if nulls else TITLES[(i + seed) % len(TITLES)],
        "department": None if nulls else DEPTS[(i // 3 + seed) % len(DEPTS)],
        "costCenter": "CC-%d" % (100 + i % 10),
        "company": "Acme",
        "employeeIdentifier": None if i % 11 == 4 else "E-%d" % i,
        "employeeType": EMPLOYEE_TYPES[(i + seed) % len(EMPLOYEE_TYPES)],
        "location": None if nulls else LOCATIONS[(i + seed) % len(LOCATIONS)],
        "description": None if nulls else "",
        "manager": user_id(i - i % 10) if i % 10 else None,
        "organization": org,
        "state": state,
        "activated": not (i % 10 == 3 or state == "STAGED"),
        "suspended": suspended,
        "account_locked": locked,
        "account_locked_date": created_at(i + 4320) if locked else None,  # +30 days
        "password_expired": i % 89 == 17,
        "password_never_expires": False,
        "phoneNumbers": ([{"id": "65a0%020x" % (i + 1), "type": "work",
                           "number": "+1 555 01%02d" % (i % 100)}] if i % 3 == 0 else []),
        "addresses": ([{"id": "65b0%020x" % (i + 1), "type": "work", "poBox": "",
                        "extendedAddress": "", "streetAddress": "%d Main St" % i,
                        "locality": "Springfield", "region": "IL", "postalCode": "62701",
                        "country": "US"}] if i % 4 == 1 else []),
        "attributes": [{"name": "team", "value": TEAMS[(i + seed) % len(TEAMS)]}],
        "mfa": {"exclusion": False, "configured": i % 5 == 0},
        "totp_enabled": i % 5 == 0,
        "unix_uid": 5000 + i,
        "unix_guid": 5000 + i,
        "sudo": False,
        "passwordless_sudo": False,
        "allow_public_key": True,
        "ssh_keys": [],
        "externally_managed": False,
        "external_source_type": "",
        "ldap_binding_user": False,
        "samba_service_user": False,
        "enable_managed_uid": False,
        "created": created,
    }
    if state is None:
        del u["state"]
    return u


def middle_count(g):
    if g >= 3:
        return g - 2
    return 1 if g == 2 else 0


def user_group_indexes(seed, i, g):
    """The non-dynamic groups (indexes) user i belongs to."""
    m = middle_count(g)
    if m == 0 or i % 17 == 0:
        return []
    return sorted({1 + (i + seed) % m, 1 + (7 * i + 3 + seed) % m, 1 + (13 * i + 5 + seed) % m})


def make_group(k, g):
    gid = group_id(k)
    if k == 0:
        name = "All Users"
    elif g >= 3 and k == g - 1:
        name = "Alumni %d" % k
    else:
        name = "%s %d" % (GROUP_BASES[k % len(GROUP_BASES)], k)
    if k == 0:
        attributes = None
    elif k % 2 == 1:
        attributes = {"ldapGroups": [{"name": name}]}
    elif k % 6 == 4:
        # ldapGroups is not the group name in general (§1.5)
        attributes = {"ldapGroups": [{"name": "ldap-%d" % k}]}
    else:
        attributes = None
    return {
        "id": gid,
        "name": name,
        "type": "user_group",
        "email": "",
        "description": "" if (k == 0 or k % 3 == 0) else "%s members" % name,
        "attributes": attributes,
        "membershipMethod": ("DYNAMIC_AUTOMATED" if k == 0
                             else "NOTSET" if k % 4 == 2 else "STATIC"),
        "memberQuery": ({"queryType": "FilterQuery", "filters": []} if k == 0 else None),
        "memberQueryExemptions": [],
        "suggestionCounts": {"add": 0, "remove": 0, "total": 0},
    }


LIST_GROUP_KEYS = ("id", "name", "type", "email", "description", "attributes")


# ---------------------------------------------------------------------------- queries

class BadRequest(Exception):
    pass


def bad(message):
    return (400, {"code": 400, "message": message, "status": "INVALID_ARGUMENT"})


def get_path(obj, field):
    if "." not in field:
        return obj.get(field)
    cur = obj
    for part in field.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def as_text(v):
    if v is None:
        return None
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float, str)):
        return str(v)
    return json.dumps(v, sort_keys=True, ensure_ascii=False)


def sort_value(v):
    # Rank by type so mixed values (null, bool, number, string) still order.
    if v is None:
        return (0, 0)
    if isinstance(v, bool):
        return (1, v)
    if isinstance(v, (int, float)):
        return (2, v)
    if isinstance(v, str):
        return (3, v)
    return (4, json.dumps(v, sort_keys=True))


def compare(v, op, value):
    text = as_text(v)
    if op == "eq":
        return text == value or (text is None and value == "null")
    if op == "ne":
        return not (text == value or (text is None and value == "null"))
    if op == "in":
        return text is not None and text in value.split("|")
    if text is None:
        return False
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        try:
            a, b = v, float(value)
        except ValueError:
            return False
    else:
        a, b = text, value
    return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]


def parse_keys(values, v1, id_name):
    """sort/fields: v1 splits on spaces, v2 on commas. Returns a tuple of keys."""
    if not values:
        return ()
    keys = []
    for raw in values:
        parts = raw.split() if v1 else raw.split(",")
        for p in parts:
            p = p.strip()
            if not p:
                continue
            name = p[1:] if p.startswith("-") else p
            if not KEY.match(name):
                raise BadRequest("invalid field %r (%s)" % (
                    p, "v1 separates with spaces" if v1 else "v2 separates with commas"))
            if name in ("_id", "id"):
                p = ("-" if p.startswith("-") else "") + id_name
            keys.append(p)
    return tuple(keys)


def parse_filters(values, v1):
    out = []
    for raw in values or ():
        if raw == "":
            continue
        parts = raw.split(":", 2)
        if len(parts) != 3:
            raise BadRequest("invalid filter %r: want field:%sop:value" % (raw, "$" if v1 else ""))
        field, op, value = parts
        ops = V1_OPS if v1 else V2_OPS
        if not KEY.match(field) or op not in ops:
            raise BadRequest("invalid filter %r: operators are %s" % (raw, " ".join(sorted(ops))))
        out.append((field, OP_NORMAL.get(op, op), value))
    return tuple(out)


def project(obj, fields, always):
    if not fields:
        return dict(obj)
    out = {k: obj[k] for k in always if k in obj}
    for f in fields:
        f = f.lstrip("-")
        top = f.split(".", 1)[0]
        if top not in obj:
            continue
        if "." in f:
            v = get_path(obj, f)
            if v is None:
                continue
            cur = out.setdefault(top, {})
            if not isinstance(cur, dict):
                continue
            parts = f.split(".")
            for part in parts[1:-1]:
                cur = cur.setdefault(part, {})
            cur[parts[-1]] = v
        else:
            out[top] = obj[top]
    return out


class Json(bytes):
    """A body already encoded as JSON."""


def encode(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def edge(oid, otype):
    return {"attributes": None, "to": {"attributes": None, "id": oid, "type": otype}}


# ---------------------------------------------------------------------------- the store

class Store:
    """All directory data. Callers hold `lock` around every access."""

    def __init__(self, org_id):
        self.lock = threading.RLock()
        self.org_id = org_id
        self.version = 0
        self.cache = {}
        self.cache_version = -1
        self.reseed(0, 0, 1)

    def reseed(self, n, g, seed):
        # 100k users are millions of objects: the cyclic GC would rescan them over and
        # over while building (seconds), and later during requests. None of them form
        # cycles, so build with it off and freeze the result out of its reach.
        gc.disable()
        try:
            self.build(n, g, seed)
        finally:
            gc.enable()
            gc.freeze()

    def build(self, n, g, seed):
        self.seed = seed
        self.users = {}
        self.user_ids = []
        for i in range(n):
            u = make_user(seed, i, n, self.org_id)
            self.users[u["_id"]] = u
            self.user_ids.append(u["_id"])  # ids grow with i: already sorted
        self.groups = {}
        self.group_ids = []
        self.members = {}       # gid -> sorted list of uids
        self.member_sets = {}   # gid -> set of uids
        self.dynamic_all = set()  # gids whose membership is "every user"
        for k in range(g):
            grp = make_group(k, g)
            self.groups[grp["id"]] = grp
            self.group_ids.append(grp["id"])
            self.members[grp["id"]] = []
            self.member_sets[grp["id"]] = set()
        if g:
            self.dynamic_all.add(group_id(0))
        for i in range(n):
            uid = user_id(i)
            for k in user_group_indexes(seed, i, g):
                self.members[group_id(k)].append(uid)  # i ascending keeps lists sorted
        for gid, lst in self.members.items():
            self.member_sets[gid] = set(lst)
        self.apps = {}
        bound = [1, 2] if g >= 4 else [1] if g == 3 else []
        self.apps[app_id(0)] = {"id": app_id(0), "name": "roster",
                                "groups": [group_id(k) for k in bound]}
        self.counter = n
        self.gcounter = g
        self.touch()

    def touch(self):
        self.version += 1

    # -- membership
    def member_list(self, gid):
        if gid in self.dynamic_all:
            return self.user_ids
        return self.members[gid]

    def is_member(self, gid, uid):
        if gid in self.dynamic_all:
            return uid in self.users
        return uid in self.member_sets[gid]

    def materialize(self, gid):
        # An explicit membership edit turns the dynamic group into a plain one.
        if gid in self.dynamic_all:
            self.dynamic_all.discard(gid)
            self.members[gid] = list(self.user_ids)
            self.member_sets[gid] = set(self.user_ids)

    def add_member(self, gid, uid):
        if uid in self.member_sets[gid]:
            return
        self.member_sets[gid].add(uid)
        bisect.insort(self.members[gid], uid)

    def remove_member(self, gid, uid):
        if uid in self.member_sets[gid]:
            self.member_sets[gid].discard(uid)
            self.members[gid].remove(uid)

    def groups_of(self, uid):
        return [gid for gid in self.group_ids if self.is_member(gid, uid)]

    # -- queries with a per-version cache (sorting/filtering 100k rows once, not per page)
    def cached(self, key, compute):
        if self.cache_version != self.version:
            self.cache.clear()
            self.cache_version = self.version
        hit = self.cache.get(key)
        if hit is None:
            if len(self.cache) > 256:
                self.cache.clear()
            hit = self.cache[key] = compute()
        return hit

    def query(self, kind, sort_keys, filters):
        return self.cached((kind, sort_keys, filters),
                           lambda: self.compute(kind, sort_keys, filters))

    def compute(self, kind, sort_keys, filters):
        if kind == "users":
            base, objs, idk = self.user_ids, self.users, "_id"
        else:
            base, objs, idk = self.group_ids, self.groups, "id"
        ids = base
        rest = filters
        eq = next((f for f in filters if f[1] == "eq" and "." not in f[0]), None)
        if eq is not None:
            # Lookups by e-mail are per login: answer them from an index, not a scan.
            index = self.cached(("index", kind, eq[0]), lambda: self.index(base, objs, eq[0]))
            ids = index.get(eq[2], [])
            if eq[2] == "null" and None in index:
                ids = sorted(ids + index[None])
            rest = tuple(f for f in filters if f is not eq)
        if rest:
            ids = [x for x in ids
                   if all(compare(get_path(objs[x], f), op, v) for f, op, v in rest)]
        if sort_keys == (idk,):
            pass
        elif sort_keys == ("-" + idk,):
            ids = ids[::-1]
        elif sort_keys:
            ids = list(ids)
            for k in reversed(sort_keys):
                desc = k.startswith("-")
                field = k[1:] if desc else k
                ids.sort(key=lambda x: sort_value(get_path(objs[x], field)), reverse=desc)
        return ids

    @staticmethod
    def index(base, objs, field):
        out = {}
        for x in base:
            out.setdefault(as_text(objs[x].get(field)), []).append(x)
        return out

    def state(self):
        return {
            "org_id": self.org_id,
            "seed": self.seed,
            "users": [self.users[u] for u in self.user_ids],
            "groups": [self.groups[g] for g in self.group_ids],
            "members": {g: list(self.member_list(g)) for g in self.group_ids},
            "dynamic_groups": sorted(self.dynamic_all),
            "applications": [self.apps[a] for a in sorted(self.apps)],
        }

    # -- control-plane mutations
    def new_user_id(self):
        while True:
            uid = user_id(self.counter)
            self.counter += 1
            if uid not in self.users:
                return uid

    def new_group_id(self):
        while True:
            gid = group_id(self.gcounter)
            self.gcounter += 1
            if gid not in self.groups:
                return gid

    def upsert_user(self, body):
        uid = body.get("id") or body.get("_id")
        if uid is not None and (not isinstance(uid, str) or not OBJECT_ID.match(uid)):
            raise BadRequest("id must be 24 lower-case hex digits")
        if uid in self.users:
            u = self.users[uid]
        else:
            uid = uid or self.new_user_id()
            # JumpCloud's defaults for a new user; the body overrides them.
            u = {"_id": uid, "id": uid, "username": "", "email": "", "firstname": "",
                 "lastname": "", "displayname": "", "state": "ACTIVATED", "activated": False,
                 "suspended": False, "account_locked": False, "account_locked_date": None,
                 "password_expired": False, "phoneNumbers": [], "addresses": [],
                 "attributes": [], "organization": self.org_id, "created": now_iso()}
            self.users[uid] = u
            bisect.insort(self.user_ids, uid)
        unset = body.get("$unset") or []
        for k, v in body.items():
            if k not in ("_id", "id", "$unset"):
                u[k] = v
        for k in unset:
            if k not in ("_id", "id"):
                u.pop(k, None)
        self.touch()
        return u

    def delete_user(self, uid):
        if uid not in self.users:
            return False
        del self.users[uid]
        self.user_ids.pop(bisect.bisect_left(self.user_ids, uid))
        for gid in self.group_ids:
            if gid not in self.dynamic_all:
                self.remove_member(gid, uid)
        self.touch()
        return True

    def upsert_group(self, body):
        gid = body.get("id")
        if gid is not None and (not isinstance(gid, str) or not OBJECT_ID.match(gid)):
            raise BadRequest("id must be 24 lower-case hex digits")
        if "members" in body:
            self.check_users(body["members"])
        if gid in self.groups:
            grp = self.groups[gid]
        else:
            gid = gid or self.new_group_id()
            grp = {"id": gid, "name": "", "type": "user_group", "email": "",
                   "description": "", "attributes": None, "membershipMethod": "STATIC",
                   "memberQuery": None, "memberQueryExemptions": [],
                   "suggestionCounts": {"add": 0, "remove": 0, "total": 0}}
            self.groups[gid] = grp
            bisect.insort(self.group_ids, gid)
            self.members[gid] = []
            self.member_sets[gid] = set()
        for k, v in body.items():
            if k not in ("id", "members", "$unset"):
                grp[k] = v
        for k in body.get("$unset") or []:
            if k != "id":
                grp.pop(k, None)
        if "members" in body:
            self.set_members(gid, body["members"])
        self.touch()
        return grp

    def delete_group(self, gid):
        if gid not in self.groups:
            return False
        del self.groups[gid]
        self.group_ids.remove(gid)
        del self.members[gid]
        del self.member_sets[gid]
        self.dynamic_all.discard(gid)
        for app in self.apps.values():
            if gid in app["groups"]:
                app["groups"].remove(gid)
        self.touch()
        return True

    def check_users(self, uids):
        if not isinstance(uids, list) or not all(isinstance(u, str) for u in uids):
            raise BadRequest("members must be a list of user ids")
        unknown = [u for u in uids if u not in self.users]
        if unknown:
            raise BadRequest("unknown user ids: %s" % ", ".join(unknown[:20]))

    def set_members(self, gid, uids):
        self.check_users(uids)
        self.dynamic_all.discard(gid)
        self.members[gid] = sorted(set(uids))
        self.member_sets[gid] = set(uids)
        self.touch()

    def edit_members(self, gid, add, remove):
        self.check_users(add)
        if not isinstance(remove, list):
            raise BadRequest("remove must be a list")
        self.materialize(gid)
        for u in add:
            self.add_member(gid, u)
        for u in remove:
            self.remove_member(gid, u)
        self.touch()


# ---------------------------------------------------------------------------- faults, stats

class Faults:
    FIELDS = {"status", "path", "count", "after", "retry_after", "rate", "delay_ms",
              "truncate", "body", "method"}

    def __init__(self, seed):
        self.rules = []
        self.rng = random.Random(seed)

    def set(self, rules):
        if not isinstance(rules, list):
            raise BadRequest("faults: a JSON list of rules")
        out = []
        for r in rules:
            if not isinstance(r, dict):
                raise BadRequest("a fault rule is an object")
            extra = set(r) - self.FIELDS
            if extra:
                raise BadRequest("unknown fault rule keys: %s" % ", ".join(sorted(extra)))
            st = r.get("status")
            if st is not None and (not isinstance(st, int) or not 400 <= st <= 599):
                raise BadRequest("status must be an HTTP error code")
            for k in ("count", "after", "delay_ms"):
                v = r.get(k)
                if v is not None and (not isinstance(v, (int, float)) or v < 0):
                    raise BadRequest("%s must be a non-negative number" % k)
            rate = r.get("rate")
            if rate is not None and (not isinstance(rate, (int, float)) or not 0 <= rate <= 1):
                raise BadRequest("rate must be within 0.0-1.0")
            rule = dict(r)
            rule["after"] = rule.get("after") or 0
            rule["matched"] = 0
            rule["fired"] = 0
            out.append(rule)
        self.rules = out

    def pick(self, method, target):
        """The first rule that fires for this request (caller holds the lock), or None."""
        for r in self.rules:
            if r.get("path") and r["path"] not in target:
                continue
            if r.get("method") and r["method"].upper() != method:
                continue
            r["matched"] += 1
            if r["matched"] <= r["after"]:
                continue
            if r.get("count") is not None and r["fired"] >= r["count"]:
                continue
            if r.get("rate") is not None and self.rng.random() >= r["rate"]:
                continue
            r["fired"] += 1
            return r
        return None


def header_fault(value):
    """`x-standin-fault: 502`, `429,retry_after=2`, `truncate`, `delay_ms=1500`."""
    rule = {}
    for tok in value.split(","):
        tok = tok.strip()
        if not tok:
            continue
        if tok.isdigit():
            rule["status"] = int(tok)
        elif tok == "truncate":
            rule["truncate"] = True
        elif "=" in tok:
            k, v = tok.split("=", 1)
            if k in ("retry_after", "delay_ms"):
                try:
                    rule[k] = float(v) if "." in v else int(v)
                except ValueError:
                    pass
    return rule or None


class Stats:
    def __init__(self):
        self.reset()

    def reset(self):
        self.requests = 0
        self.by_path = collections.Counter()
        self.by_status = collections.Counter()
        self.unsorted = 0
        self.max_limit = 0
        self.faults = 0
        self.times = collections.deque(maxlen=10000)

    def as_json(self):
        return {"requests": self.requests, "by_path": dict(self.by_path),
                "by_status": {str(k): v for k, v in self.by_status.items()},
                "unsorted_list_requests": self.unsorted, "max_limit_seen": self.max_limit,
                "faults_served": self.faults, "times": list(self.times)}


# ---------------------------------------------------------------------------- the API

class App:
    def __init__(self, args):
        self.api_key = args.api_key
        self.multi_tenant = args.multi_tenant
        self.configured_org = args.org_id.lower() if args.org_id else None
        org = self.configured_org or ("5f0c%020x" % args.seed)
        self.store = Store(org)
        self.limit_over = args.limit_over
        self.client_id = args.client_id
        self.client_secret = args.client_secret
        self.token_ttl = args.token_ttl
        self.tokens = {}
        self.faults = Faults(args.seed)
        self.stats = Stats()
        self.rng = random.Random(args.seed * 7919 + 1)
        self.org_created = "2022-06-01T12:00:00.000Z"
        with self.store.lock:
            self.store.reseed(args.users, args.groups, args.seed)

    # -- auth
    def check_auth(self, headers, path):
        key = headers.get("x-api-key")
        ok = key is not None and key == self.api_key
        if not ok:
            authz = headers.get("authorization") or ""
            if authz[:7].lower() == "bearer ":
                exp = self.tokens.get(authz[7:].strip())
                ok = exp is not None and exp > time.time()
        if not ok:
            return (401, {"message": "Unauthorized"})
        org = headers.get("x-org-id")
        if self.multi_tenant:
            if not org:
                if path == "/api/organizations":
                    return None  # how a multi-tenant client finds its org ids
                return (401, {"message": "Unauthorized: no organization selected"})
            if not HEX24.match(org):
                return bad("invalid x-org-id: want 24 hex digits")
            if org.lower() != self.store.org_id:
                return (404, {"message": "Not Found: organization"})
        elif org:
            if not HEX24.match(org):
                return bad("invalid x-org-id: want 24 hex digits")
            if org.lower() != self.configured_org:
                return (404, {"message": "Not Found: organization"})
        return None

    def token(self, headers, body):
        authz = headers.get("authorization") or ""
        cid = secret = None
        if authz[:6].lower() == "basic ":
            try:
                cid, _, secret = base64.b64decode(authz[6:].strip()).decode().partition(":")
            except Exception:
                pass
        if cid != self.client_id or secret != self.client_secret:
            return (401, {"error": "invalid_client",
                          "error_description": "client authentication failed"})
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        if form.get("grant_type", [""])[0] != "client_credentials":
            return (400, {"error": "unsupported_grant_type",
                          "error_description": "grant_type must be client_credentials"})
        scope = form.get("scope", ["api"])[0] or "api"
        if scope != "api":
            return (400, {"error": "invalid_scope", "error_description": "scope must be api"})
        tok = secrets.token_urlsafe(32)
        with self.store.lock:
            self.tokens[tok] = time.time() + self.token_ttl
        return (200, {"access_token": tok, "token_type": "bearer",
                      "expires_in": self.token_ttl, "scope": "api"})

    # -- paging
    def paging(self, q):
        def one(name, default):
            v = q.get(name)
            if not v or v[-1] == "":
                return default
            if not DIGITS.match(v[-1]):
                raise BadRequest("%s must be a non-negative integer" % name)
            return int(v[-1])
        limit = one("limit", DEFAULT_LIMIT)
        skip = one("skip", 0)
        with self.store.lock:
            self.stats.max_limit = max(self.stats.max_limit, limit)
        if limit == 0:
            limit = DEFAULT_LIMIT
        if limit > MAX_LIMIT:
            if self.limit_over == "error":
                raise BadRequest("limit must be <= 100")
            limit = MAX_LIMIT
        return limit, skip

    def window(self, ids, skip, limit, rotate):
        n = len(ids)
        if skip >= n:
            return []
        end = min(n, skip + limit)
        if rotate:
            # A fresh rotation per request: unsorted paging skips and repeats rows.
            r = self.rng.randrange(n)
            return [ids[(r + j) % n] for j in range(skip, end)]
        return ids[skip:end]

    def note_unsorted(self, sort_keys):
        if not sort_keys:
            self.stats.unsorted += 1

    # -- routes
    def api(self, method, path, q, headers, body):
        if path == "/oauth2/token":
            if method != "POST":
                return (405, {"message": "Method Not Allowed"})
            return self.token(headers, body)
        with self.store.lock:
            denied = self.check_auth(headers, path)
        if denied:
            return denied
        parts = path.split("/")[1:]  # "", api, ...
        if method not in ("GET", "HEAD"):
            return (405, {"message": "Method Not Allowed"})
        try:
            return self.route_get(parts, q)
        except BadRequest as e:
            return bad(str(e))

    def route_get(self, p, q):
        n = len(p)
        if p[:2] == ["api", "systemusers"]:
            if n == 2:
                return self.list_users(q)
            if n == 3:
                with self.store.lock:
                    u = self.store.users.get(p[2])
                    if u is None:
                        return (404, {"message": "Not Found"})
                    fields = parse_keys(q.get("fields"), True, "_id")
                    return (200, project(u, fields, ("_id", "id")))
        elif p == ["api", "organizations"]:
            limit, skip = self.paging(q)
            org = {"_id": self.store.org_id, "id": self.store.org_id, "displayName": "Acme",
                   "logoUrl": "", "created": self.org_created}
            return (200, {"totalCount": 1, "results": [org][skip:skip + limit]})
        elif p[:3] == ["api", "v2", "usergroups"]:
            if n == 3:
                return self.list_groups(q)
            gid = p[3]
            with self.store.lock:
                if gid not in self.store.groups:
                    return (404, {"message": "Not Found"})
                if n == 4:
                    fields = parse_keys(q.get("fields"), False, "id")
                    return (200, project(self.store.groups[gid], fields, ("id",)))
                if n == 5 and p[4] == "members":
                    return self.group_members(gid, q)
                if n == 5 and p[4] == "membership":
                    return self.group_membership(gid, q)
        elif p[:3] == ["api", "v2", "users"] and n == 5 and p[4] == "memberof":
            return self.memberof(p[3], q)
        elif p[:3] == ["api", "v2", "applications"] and n == 5 and p[4] in ("users",
                                                                          "usergroups"):
            return self.application(p[3], p[4], q)
        return (404, {"message": "Not Found"})

    def list_users(self, q):
        limit, skip = self.paging(q)
        sort_keys = parse_keys(q.get("sort"), True, "_id")
        fields = parse_keys(q.get("fields"), True, "_id")
        filters = parse_filters(q.get("filter"), True)
        with self.store.lock:
            ids = self.store.query("users", sort_keys, filters)
            page = self.window(ids, skip, limit, not sort_keys)
            users = self.store.users
            results = [project(users[u], fields, ("_id", "id")) for u in page]
            self.note_unsorted(sort_keys)
            return (200, {"totalCount": len(ids), "results": results})

    def list_groups(self, q):
        limit, skip = self.paging(q)
        sort_keys = parse_keys(q.get("sort"), False, "id")
        fields = parse_keys(q.get("fields"), False, "id")
        filters = parse_filters(q.get("filter"), False)
        with self.store.lock:
            ids = self.store.query("groups", sort_keys, filters)
            page = self.window(ids, skip, limit, not sort_keys)
            groups = self.store.groups
            if fields:
                results = [project(groups[g], fields, ("id",)) for g in page]
            else:
                results = [{k: groups[g].get(k) for k in LIST_GROUP_KEYS} for g in page]
            self.note_unsorted(sort_keys)
            return (200, results, {"x-total-count": str(len(ids))})

    def ordered(self, ids, q):
        sort_keys = parse_keys(q.get("sort"), False, "id")
        if sort_keys and sort_keys[0] == "-id":
            ids = ids[::-1]
        return ids, sort_keys

    def group_members(self, gid, q):
        limit, skip = self.paging(q)
        ids = self.store.member_list(gid)
        page = ids[skip:skip + limit]
        return (200, [edge(u, "user") for u in page], {"x-total-count": str(len(ids))})

    def group_membership(self, gid, q):
        limit, skip = self.paging(q)
        ids, sort_keys = self.ordered(self.store.member_list(gid), q)
        page = self.window(ids, skip, limit, not sort_keys)
        attrs = self.store.groups[gid].get("attributes")
        out = [{"id": u, "type": "user", "compiledAttributes": attrs,
                "paths": [[edge(u, "user")]]} for u in page]
        self.note_unsorted(sort_keys)
        return (200, out, {"x-total-count": str(len(ids))})

    def memberof(self, uid, q):
        limit, skip = self.paging(q)
        with self.store.lock:
            if uid not in self.store.users:
                return (404, {"message": "Not Found"})
            ids, sort_keys = self.ordered(self.store.groups_of(uid), q)
            page = self.window(ids, skip, limit, not sort_keys)
            groups = self.store.groups
            out = [{"id": g, "type": "user_group",
                    "compiledAttributes": groups[g].get("attributes"),
                    "paths": [[edge(g, "user_group")]]} for g in page]
            self.note_unsorted(sort_keys)
            return (200, out, {"x-total-count": str(len(ids))})

    def application(self, aid, what, q):
        limit, skip = self.paging(q)
        st = self.store
        with st.lock:
            app = st.apps.get(aid)
            if app is None:
                return (404, {"message": "Not Found"})
            bound = [g for g in app["groups"] if g in st.groups]
            if what == "usergroups":
                ids, sort_keys = self.ordered(sorted(bound), q)
                page = self.window(ids, skip, limit, not sort_keys)
                out = [{"id": g, "type": "user_group",
                        "compiledAttributes": st.groups[g].get("attributes"),
                        "paths": [[edge(g, "user_group")]]} for g in page]
            else:
                def reach():
                    via = {}
                    for g in bound:
                        for u in st.member_list(g):
                            via.setdefault(u, []).append(g)
                    return (sorted(via), via)
                via = st.cached(("app-users", aid), reach)
                ids, sort_keys = self.ordered(via[0], q)
                page = self.window(ids, skip, limit, not sort_keys)
                out = []
                for u in page:
                    gs = via[1][u]
                    ldap = [x for g in gs
                            for x in ((st.groups[g].get("attributes") or {})
                                      .get("ldapGroups") or [])]
                    out.append({"id": u, "type": "user",
                                "compiledAttributes": {"ldapGroups": ldap} if ldap else None,
                                "paths": [[edge(g, "user_group"), edge(u, "user")]
                                          for g in gs]})
            self.note_unsorted(sort_keys)
            return (200, out, {"x-total-count": str(len(ids))})

    # -- control plane
    def control(self, method, path, body):
        try:
            data = json.loads(body.decode("utf-8")) if body.strip() else None
        except ValueError as e:
            return (400, {"message": "invalid JSON: %s" % e})
        p = path.split("/")[2:]  # after "", "_standin"
        st = self.store
        try:
            with st.lock:
                return self.control_route(method, p, data, st)
        except BadRequest as e:
            return (400, {"message": str(e)})

    def control_route(self, method, p, data, st):
        nf = (404, {"message": "Not Found"})
        if p == ["state"] and method == "GET":
            return (200, Json(encode(st.state())))  # encoded under the lock: no torn reads
        if p == ["users"] and method == "POST":
            if not isinstance(data, dict):
                raise BadRequest("body: a user object")
            return (200, dict(st.upsert_user(data)))  # a copy: encoded after the lock
        if len(p) == 2 and p[0] == "users":
            if method == "GET":
                u = st.users.get(p[1])
                return (200, dict(u)) if u else nf
            if method == "DELETE":
                return (200, {"deleted": p[1]}) if st.delete_user(p[1]) else nf
        if p == ["groups"] and method == "POST":
            if not isinstance(data, dict):
                raise BadRequest("body: a group object")
            return (200, dict(st.upsert_group(data)))
        if len(p) == 2 and p[0] == "groups" and method == "DELETE":
            return (200, {"deleted": p[1]}) if st.delete_group(p[1]) else nf
        if len(p) == 3 and p[0] == "groups" and p[2] == "members":
            gid = p[1]
            if gid not in st.groups:
                return nf
            if method == "PUT":
                st.set_members(gid, data)
            elif method == "POST":
                if not isinstance(data, dict):
                    raise BadRequest('body: {"add": [...], "remove": [...]}')
                st.edit_members(gid, data.get("add") or [], data.get("remove") or [])
            elif method != "GET":
                return (405, {"message": "Method Not Allowed"})
            return (200, list(st.member_list(gid)))
        if len(p) == 3 and p[0] == "applications" and p[2] == "groups" and method == "PUT":
            if not isinstance(data, list) or any(g not in st.groups for g in data):
                raise BadRequest("body: a list of existing group ids")
            app = st.apps.setdefault(p[1], {"id": p[1], "name": "app", "groups": []})
            app["groups"] = list(dict.fromkeys(data))
            st.touch()
            return (200, dict(app, groups=list(app["groups"])))
        if len(p) == 2 and p[0] == "applications" and method == "DELETE":
            if st.apps.pop(p[1], None) is None:
                return nf
            st.touch()
            return (200, {"deleted": p[1]})
        if p == ["seed"] and method == "POST":
            data = data or {}
            try:
                n = int(data.get("users", len(st.user_ids)))
                g = int(data.get("groups", len(st.group_ids)))
                s = int(data.get("seed", st.seed))
            except (TypeError, ValueError):
                raise BadRequest("users, groups and seed are integers")
            st.reseed(n, g, s)
            return (200, {"users": n, "groups": g, "seed": s})
        if p == ["faults"]:
            if method == "POST":
                self.faults.set(data if data is not None else [])
            elif method != "GET":
                return (405, {"message": "Method Not Allowed"})
            return (200, [dict(r) for r in self.faults.rules])
        if p == ["stats"] and method == "GET":
            return (200, self.stats.as_json())
        if p == ["stats", "reset"] and method == "POST":
            self.stats.reset()
            return (200, self.stats.as_json())
        if p == ["tokens", "expire"] and method == "POST":
            # Every issued token stops working: the client must fetch a new one.
            count = len(self.tokens)
            self.tokens.clear()
            return (200, {"expired": count})
        if p == ["config"] and method == "POST":
            data = data or {}
            if "limit_over" in data:
                if data["limit_over"] not in ("clamp", "error"):
                    raise BadRequest("limit_over: clamp or error")
                self.limit_over = data["limit_over"]
            if "api_key" in data:
                self.api_key = str(data["api_key"])
            return (200, {"limit_over": self.limit_over, "api_key": self.api_key})
        return nf


# ---------------------------------------------------------------------------- HTTP

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer has a Content-Length
    server_version = "jumpcloud-standin"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body go out as two writes
    app = None  # set in main()

    def log_message(self, fmt, *args):
        pass

    def version_string(self):
        return self.server_version

    def send_error(self, code, message=None, explain=None):
        # The stdlib's HTML error page, as JSON (malformed requests, unknown methods).
        try:
            self.send_body(code, {"message": message or self.responses.get(code, ("",))[0]})
        except OSError:
            pass

    def read_body(self):
        if (self.headers.get("transfer-encoding") or "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        n = int(self.headers.get("content-length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send_body(self, status, payload, headers=None, truncate=False, t0=None):
        if isinstance(payload, Json):
            body, ctype = payload, "application/json; charset=utf-8"
        elif isinstance(payload, bytes):
            body, ctype = payload, "text/html; charset=utf-8"
        elif isinstance(payload, str):
            body, ctype = payload.encode("utf-8"), "text/html; charset=utf-8"
        else:
            body = encode(payload)
            ctype = "application/json; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("etag", 'W/"%x-%08x"' % (len(body), zlib.crc32(body)))
        if t0 is not None:
            self.send_header("x-response-time", "%.3fms" % ((time.perf_counter() - t0) * 1000))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if truncate:
            # Promise the whole body, send half, close: a truncated JSON body.
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.wfile.write(body)

    def handle_any(self):
        t0 = time.perf_counter()
        app = self.app
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return self.send_body(400, {"message": "Bad Request"})
        split = urllib.parse.urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        method = self.command
        try:
            if path == "/_standin" or path.startswith("/_standin/"):
                status, payload, *rest = app.control(method, path, body)
                return self.send_body(status, payload, rest[0] if rest else None, t0=t0)
            if not (path.startswith("/api/") or path.startswith("/oauth2/")):
                return self.send_body(404, {"message": "Not Found"}, t0=t0)
            self.serve_api(app, method, path, split, body, t0)
        except ConnectionError:
            # The client hung up (e.g. its timeout beat a delay fault): nothing to answer.
            self.close_connection = True
        except Exception as e:  # never a traceback page
            import traceback
            traceback.print_exc(file=sys.stderr)
            try:
                self.send_body(500, {"message": "Internal Server Error", "detail": repr(e)},
                               t0=t0)
            except OSError:
                self.close_connection = True

    def serve_api(self, app, method, path, split, body, t0):
        target = split.path + ("?" + split.query if split.query else "")
        hdr = self.headers.get("x-standin-fault")
        rule = header_fault(hdr) if hdr else None
        if rule is None:
            with app.store.lock:
                rule = app.faults.pick(method, target)
        truncate = faulted = False
        status = None
        if rule:
            if rule.get("delay_ms"):
                time.sleep(rule["delay_ms"] / 1000.0)
            truncate = bool(rule.get("truncate"))
            faulted = truncate
            if not truncate and (rule.get("status") or not rule.get("delay_ms")):
                faulted = True
                status = rule.get("status") or 500
                payload = rule.get("body")
                if payload is None:
                    payload = FAULT_BODIES.get(status, {"message": self.responses.get(
                        status, ("Error",))[0]})
                headers = {}
                if rule.get("retry_after") is not None:
                    headers["Retry-After"] = str(rule["retry_after"])
        if status is None:
            q = urllib.parse.parse_qs(split.query, keep_blank_values=True)
            status, payload, *rest = app.api(method, path, q, self.headers, body)
            headers = rest[0] if rest else None
        with app.store.lock:
            s = app.stats
            s.requests += 1
            s.by_path[path] += 1
            s.by_status[status] += 1
            if faulted:
                s.faults += 1
            s.times.append([time.time(), path, status])
        self.send_body(status, payload, headers, truncate=truncate, t0=t0)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a benchmark opens many connections at once


def main():
    ap = argparse.ArgumentParser(description="JumpCloud directory API stand-in")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--api-key", default="jc-test-key")
    ap.add_argument("--org-id", default=None)
    ap.add_argument("--multi-tenant", action="store_true")
    ap.add_argument("--users", type=int, default=0)
    ap.add_argument("--groups", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--limit-over", choices=("clamp", "error"), default="error")
    ap.add_argument("--client-id", default="sa-client")
    ap.add_argument("--client-secret", default="sa-secret")
    ap.add_argument("--token-ttl", type=int, default=3599)
    ap.add_argument("--watch-parent", action="store_true",
                    help="exit when the parent process goes away")
    args = ap.parse_args()
    if args.org_id and not HEX24.match(args.org_id):
        ap.error("--org-id must be 24 hex digits")

    Handler.app = App(args)
    server = Server((args.host, args.port), Handler)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.watch_parent:
        parent = os.getppid()

        def watch():
            while os.getppid() == parent:
                time.sleep(0.5)
            stop()
        threading.Thread(target=watch, daemon=True).start()

    host = server.server_address[0]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = "[%s]" % host
    org = Handler.app.store.org_id if (args.org_id or args.multi_tenant) else None
    print(json.dumps({"url": "http://%s:%d" % (host, server.server_address[1]),
                      "api_key": args.api_key, "org_id": org}), flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        sys.stdout.flush()
        # Skip tearing down 100k fixture objects: the socket is closed, we are done.
        os._exit(0)


if __name__ == "__main__":
    main()
