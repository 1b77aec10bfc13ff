#!/usr/bin/env python3
"""Builds testdata/release1: a data folder written by the first release of
Dissent (schema version 1), with memos in several states: a draft, one
circulating for signatures, one replied, and two still open (one awaiting
its acknowledgment, one its reply). Run once with the first release's
binary (schema version 1: commit 4277fd7); the upgrade test opens the
result with today's code.

    git worktree add /tmp/release1 4277fd7
    (cd /tmp/release1 && go build -o /tmp/dissent-release1 ./cmd/dissent)
    python3 make-release1.py /tmp/dissent-release1 testdata/release1

With a third argument, a PostgreSQL URL of an empty database, the folder's
deployment keeps its store there instead; testdata/release1-postgres holds
such a folder (without the URL) and the database's pg_dump:

    createdb -h 127.0.0.1 -U postgres dissent_release1
    python3 make-release1.py /tmp/dissent-release1 testdata/release1-postgres \
        'postgres://postgres@127.0.0.1:5432/dissent_release1?sslmode=disable'
    pg_dump --no-owner --no-privileges 'postgres://...' > testdata/release1-postgres/dump.sql
    sed -i '/^url = /d' testdata/release1-postgres/dissent.toml
"""
import json, os, shutil, subprocess, sys, time, urllib.request

binary, out = sys.argv[1], sys.argv[2]
pg_url = sys.argv[3] if len(sys.argv) > 3 else ""
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
with open(os.path.join(out, "dissent.toml"), "w") as f:
    f.write("[security]\nargon_time = 1\nargon_memory_kib = 64\nargon_threads = 1\nweak_passwords_for_tests = true\n")
    if pg_url:
        f.write(f'[store]\ndriver = "postgres"\nurl = "{pg_url}"\n')
subprocess.run([binary, "init", "--data", out, "--admin", "admin", "--password-stdin"], input=b"admin-password-1\n", check=True)
srv = subprocess.Popen([binary, "serve", "--data", out, "--addr", "127.0.0.1:18181"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
srv.stdout.readline()
base = "http://127.0.0.1:18181"

def call(method, path, body=None, token=None, want=(200, 201, 204)):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as r:
        assert r.status in want, (path, r.status)
        data = r.read()
        return json.loads(data) if data else None

def sign_in(u):
    return call("POST", "/api/v1/sessions", {"username": u, "password": u + "-password-1" if u != "admin" else "admin-password-1"})["token"]

admin = sign_in("admin")
for u, roles in [("office", ["office"]), ("p1", ["principal"]), ("alice", ["member"]), ("bob", ["member"]), ("carol", ["member"])]:
    call("POST", "/api/v1/users", {"username": u, "display_name": u.title(), "email": u + "@example.test", "password": u + "-password-1", "roles": roles, "eligible": True}, admin)
call("PUT", "/api/v1/admin/distribution", {"usernames": ["p1"]}, admin)
t = {u: sign_in(u) for u in ["office", "p1", "alice", "bob", "carol"]}
memos = []
def memo(title, by, codrafters=(), state="draft"):
    m = call("POST", "/api/v1/memos", {"title": title, "body": "Body of " + title, "marking": "UNCLASSIFIED", "codrafters": list(codrafters)}, t[by])
    memos.append({"id": m["id"], "title": title, "authors": [by] + list(codrafters), "state": state})
    return m["id"]
def submitted(m, by):
    memos[-1]["readers"] = ["office", "p1"]
    call("POST", f"/api/v1/memos/{m}/submit", {"revision": 1}, t[by])
m1 = memo("A draft from release one", "alice")
m2 = memo("Circulating in release one", "alice", ["bob"], state="circulating")
call("POST", f"/api/v1/memos/{m2}/signers", {"usernames": ["carol"]}, t["alice"])
call("POST", f"/api/v1/memos/{m2}/signatures", {"revision": 1}, t["carol"])
memos[-1]["authors"].append("carol")
m3 = memo("Submitted and replied in release one", "bob", state="replied")
call("POST", f"/api/v1/memos/{m3}/signatures", {"revision": 1}, t["bob"])
submitted(m3, "bob")
call("POST", f"/api/v1/memos/{m3}/acknowledge", None, t["office"])
call("POST", f"/api/v1/memos/{m3}/comments", {"body": "Read in release one"}, t["p1"])
call("POST", f"/api/v1/memos/{m3}/reply", {"body": "Reply from release one"}, t["office"])
m4 = memo("Awaiting acknowledgment since release one", "carol", ["alice"], state="submitted")
call("POST", f"/api/v1/memos/{m4}/signatures", {"revision": 1}, t["carol"])
call("POST", f"/api/v1/memos/{m4}/signatures", {"revision": 1}, t["alice"])
submitted(m4, "carol")
m5 = memo("Awaiting its reply since release one", "bob", state="acknowledged")
call("POST", f"/api/v1/memos/{m5}/signatures", {"revision": 1}, t["bob"])
submitted(m5, "bob")
call("POST", f"/api/v1/memos/{m5}/acknowledge", None, t["office"])
srv.terminate()
srv.wait()
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump({"memos": memos}, f, indent=1)
print("wrote", out)
