package ledger

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"golang.org/x/mod/sumdb/tlog"
)

func FuzzDecodeLeaf(f *testing.F) {
	f.Add(testLeaf(1))
	f.Add([]byte(`{"v":1,"at":"2016-06-20T14:03:09.12Z","action":"memo.submit","memo":"01J0ZK3V7Q","role":"author","actor_commit":"` +
		hashA + `","detail":"` + hashB + `","content":"` + hashA + `","rev":3}`))
	f.Add([]byte(`{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.read","rev":1.0}`))
	f.Add([]byte(`{"v":1,"at":"2026-01-01T01:00:00+01:00","action":"memo.read"}`))
	f.Add([]byte(`{"V":1,"at":"2026-01-01T00:00:00Z","action":"memo.read","action":"x"}`))
	f.Add([]byte("\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeLeaf(b)
		// The fast path and the JSON parser accept the same leaves as the
		// same events.
		if byJSON, jerr := decodeJSON(b); (err == nil) != (jerr == nil) || err == nil && byJSON != l {
			t.Fatalf("DecodeLeaf = %+v, %v; by the JSON parser %+v, %v", l, err, byJSON, jerr)
		}
		if err != nil {
			return
		}
		again, err := l.Encode()
		if err != nil {
			t.Fatalf("decoded leaf does not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%q\n%q", b, again)
		}
		back, err := DecodeLeaf(again)
		if err != nil || back != l {
			t.Fatalf("second decode = %+v, %v; want %+v", back, err, l)
		}
	})
}

func FuzzOpenCheckpoint(f *testing.F) {
	// Keys from a fixed seed, so that the corpus holds validly signed notes
	// to mutate from one run to the next.
	seeded := func(name string, seed byte) (skey, vkey string) {
		skey, vkey, err := note.GenerateKey(rand.NewChaCha8([32]byte{seed}), name)
		if err != nil {
			f.Fatal(err)
		}
		return skey, vkey
	}
	skey, vkey := seeded("dissent.example/ledger", 1)
	wskey, wvkey := seeded("witness.example", 2)
	root := tlog.RecordHash([]byte("root"))
	msg, err := SignCheckpoint(skey, "dissent.example/ledger", 42, root)
	if err != nil {
		f.Fatal(err)
	}
	cosigned, err := Cosign(msg, wskey, vkey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg)
	f.Add(cosigned)
	f.Add([]byte("dissent.example/ledger\n42\n" + root.String() + "\n"))
	f.Add([]byte("dissent.example/ledger\n042\n" + root.String() + "\n\n— dissent.example/ledger AAAAAAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := OpenCheckpoint(b, vkey, wvkey)
		if err != nil {
			return
		}
		if len(cp.Signers) == 0 || cp.Signers[0] != "dissent.example/ledger" || cp.Origin != cp.Signers[0] {
			t.Fatalf("opened a checkpoint without the ledger's signature: %+v", cp)
		}
		// A checkpoint that opens carries exactly the body its fields describe,
		// possibly followed by extension lines.
		body := checkpointBody(cp.Origin, cp.Size, cp.Root)
		if !bytes.HasPrefix(b, []byte(body)) {
			t.Fatalf("opened checkpoint %+v does not start with its own body:\n%q", cp, b)
		}
	})
}
