package service

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/vault"
)

// FuzzDecodeCursor feeds page cursors as any client may send them: each is
// either the invalid-cursor error (never a panic or another error) or a
// place whose own cursor decodes back to it, with no NUL in its id.
func FuzzDecodeCursor(f *testing.F) {
	for _, c := range []pageCursor{{}, {ID: "m1"}, {Key: 1764800000000000, ID: "abcdefghijklmnopqrstuvwxyz"}, {Key: -1, ID: cursorReads}, {Key: 3, ID: cursorGrants}} {
		f.Add(encodeCursor(c))
	}
	f.Add("")
	f.Add("eyJpIjoiXHUwMDAwIn0") // {"i":"\u0000"}
	f.Add("eyJrIjoxZTk5OSwiaSI6IngifQ")
	f.Add(strings.Repeat("A", 300))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s)
		if err != nil {
			var e *channel.Error
			if !errors.As(err, &e) || e.Code != channel.EINVALID {
				t.Fatalf("decodeCursor(%q): %v, want the invalid-cursor error", s, err)
			}
			return
		}
		if s == "" {
			if c != (pageCursor{}) {
				t.Fatalf("decodeCursor(\"\") = %+v", c)
			}
			return
		}
		if strings.ContainsRune(c.ID, 0) {
			t.Fatalf("decodeCursor(%q) accepted an id with NUL: %q", s, c.ID)
		}
		again, err := decodeCursor(encodeCursor(c))
		if err != nil || again != c {
			t.Fatalf("decodeCursor(encodeCursor(%+v)) = %+v, %v", c, again, err)
		}
	})
}

// FuzzDeviceOf feeds device tokens as any browser or client may send them
// (a cookie, the API's "device"): no input panics, a token made for an
// account is one for it and for no other, nor for it once its session
// epoch moved (a password change), and one that passes names its device
// by the id it holds.
func FuzzDeviceOf(f *testing.F) {
	s := &Service{deviceKey: deriveKey("fuzz ledger key", "dissent device v1")}
	alice := &store.User{ID: "alice-id", SessionEpoch: 3}
	f.Add("alice-id", int64(3), s.newDevice(alice))
	f.Add("alice-id", int64(3), "")
	f.Add("alice-id", int64(0), strings.Repeat("A", 64))
	f.Add("alice-id", int64(-1), "!!!!")
	f.Fuzz(func(t *testing.T, userID string, epoch int64, device string) {
		u := &store.User{ID: userID, SessionEpoch: epoch}
		if id, ok := s.deviceOf(u, device); ok {
			raw, err := base64.RawURLEncoding.DecodeString(device)
			if err != nil || id != hex.EncodeToString(raw[:deviceIDSize]) {
				t.Fatalf("deviceOf(%+v, %q) = %q", u, device, id)
			}
		}
		if _, ok := s.deviceOf(nil, device); ok {
			t.Fatalf("a device token passes for no account: %q", device)
		}
		made := s.newDevice(u)
		if _, ok := s.deviceOf(u, made); !ok {
			t.Fatalf("a token made for %+v is not one", u)
		}
		for _, other := range []*store.User{{ID: userID + "x", SessionEpoch: epoch}, {ID: userID, SessionEpoch: epoch + 1}} {
			if _, ok := s.deviceOf(other, made); ok {
				t.Fatalf("a token made for %+v passes for %+v", u, other)
			}
		}
	})
}

// FuzzParsePasswordHash feeds the stored form of a password verifier
// (params$salt$verifier, as hashPassword writes it), which sign-in reads
// from the database: no input panics; one that parses has in-range
// parameters spelled as String spells them, parts no longer than itself,
// and its canonical spelling parses to the same parts; one that does not
// yields no salt or verifier.
func FuzzParsePasswordHash(f *testing.F) {
	b64 := base64.RawStdEncoding
	salt, verifier := b64.EncodeToString([]byte("0123456789abcdef")), b64.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	for _, p := range []vault.PasswordParams{vault.TestPasswordParams(), vault.DefaultPasswordParams()} {
		f.Add(p.String() + "$" + salt + "$" + verifier)
	}
	f.Add(vault.TestPasswordParams().String() + "$" + b64.EncodeToString(dummySalt) + "$")
	f.Add(vault.TestPasswordParams().String() + "$" + salt + "=$" + verifier)
	f.Add("argon2id$t=02$m=19456$p=1$" + salt + "$" + verifier)
	f.Add("argon2id$t=1$m=4294967296$p=256$$")
	f.Add("$$")
	f.Add("")
	f.Fuzz(func(t *testing.T, stored string) {
		params, s, v, err := parsePasswordHash(stored)
		if err != nil {
			if s != nil || v != nil {
				t.Fatalf("parsePasswordHash(%q) failed (%v), yet gave salt %x, verifier %x", stored, err, s, v)
			}
			return
		}
		if p, err := vault.ParsePasswordParams(params.String()); err != nil || p != params {
			t.Fatalf("parsePasswordHash(%q) gave parameters %+v, which do not parse back: %+v, %v", stored, params, p, err)
		}
		if !strings.HasPrefix(stored, params.String()+"$") || len(s)+len(v) > len(stored) {
			t.Fatalf("parsePasswordHash(%q) = %+v, salt %x, verifier %x", stored, params, s, v)
		}
		canonical := params.String() + "$" + b64.EncodeToString(s) + "$" + b64.EncodeToString(v)
		p2, s2, v2, err := parsePasswordHash(canonical)
		if err != nil || p2 != params || !bytes.Equal(s2, s) || !bytes.Equal(v2, v) {
			t.Fatalf("%q parses, but its canonical spelling %q gives %+v, %x, %x, %v", stored, canonical, p2, s2, v2, err)
		}
	})
}

// FuzzDecodePublication: a published case's document comes from the
// database, in the clear; whatever it holds, decoding it never panics, and
// one it accepts hashes to the content hash it names, under the row's
// title and marking.
func FuzzDecodePublication(f *testing.F) {
	good, _ := json.Marshal(Publication{MemoID: "m1", Title: "T", Body: "B", Marking: "UNCLASSIFIED",
		ContentHash: func() string { h := vault.ContentHash("T", "B", "UNCLASSIFIED"); return hex.EncodeToString(h[:]) }(), LedgerIndex: 3})
	f.Add(good, "m1", "T", "UNCLASSIFIED")
	f.Add([]byte(`{"memo_id":"m1","ledger_index":-1}`), "m1", "", "")
	f.Add([]byte(`not json`), "m1", "T", "U")
	f.Fuzz(func(t *testing.T, doc []byte, id, title, marking string) {
		var p Publication
		if decodePublication(&store.Publication{MemoID: id, Title: title, Marking: marking, Doc: doc}, &p) != "" {
			return
		}
		h := vault.ContentHash(p.Title, p.Body, p.Marking)
		if p.ContentHash != hex.EncodeToString(h[:]) || p.Title != title || p.Marking != marking || p.MemoID != id || p.LedgerIndex < 0 {
			t.Errorf("accepted %+v for row %q %q %q", p, id, title, marking)
		}
	})
}
