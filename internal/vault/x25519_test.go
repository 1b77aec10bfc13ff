package vault

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"filippo.io/age"
)

// TestX25519InteropWithAge checks that age's own X25519 identity opens what
// SealTo wraps with this package's recipient, and that OpenSealed opens what
// age's own X25519 recipient wraps.
func TestX25519InteropWithAge(t *testing.T) {
	alice, bob := mustIdentity(t), mustIdentity(t)
	msg := []byte("memo key or mailbox entry")

	ours, err := SealToMany([]string{alice.Public().Box, bob.Public().Box}, msg)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []*Identity{alice, bob} {
		r, err := age.Decrypt(bytes.NewReader(ours), id.box)
		if err != nil {
			t.Fatalf("age cannot open ours: %v", err)
		}
		if got, _ := io.ReadAll(r); !bytes.Equal(got, msg) {
			t.Fatalf("age opened %q", got)
		}
	}

	rcpt, err := age.ParseX25519Recipient(alice.Public().Box)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rcpt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := alice.OpenSealed(buf.Bytes()); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("we cannot open age's: %q, %v", got, err)
	}
	if _, err := bob.OpenSealed(buf.Bytes()); !errors.Is(err, ErrNotForMe) {
		t.Fatalf("age's for alice, opened by bob: %v, want ErrNotForMe", err)
	}
}

// TestX25519UnwrapAnswersLikeAge runs stanzas, good and bad, through age's
// X25519 identity and this package's, and wants the same answer from both.
func TestX25519UnwrapAnswersLikeAge(t *testing.T) {
	alice := mustIdentity(t)
	fileKey := make([]byte, 16)
	rand.Read(fileKey)
	r, err := newX25519Recipient(alice.Public().Box)
	if err != nil {
		t.Fatal(err)
	}
	good, err := r.Wrap(fileKey)
	if err != nil {
		t.Fatal(err)
	}
	other, err := newX25519Recipient(mustIdentity(t).Public().Box)
	if err != nil {
		t.Fatal(err)
	}
	forOther, err := other.Wrap(fileKey)
	if err != nil {
		t.Fatal(err)
	}
	g := *good[0]
	with := func(f func(s *age.Stanza)) []*age.Stanza {
		s := g
		s.Args = append([]string(nil), g.Args...)
		s.Body = append([]byte(nil), g.Body...)
		f(&s)
		return []*age.Stanza{&s}
	}
	zero := b64.EncodeToString(make([]byte, 32))
	for name, stanzas := range map[string][]*age.Stanza{
		"good":               good,
		"for someone else":   forOther,
		"someone else first": append(forOther, good...),
		"another type":       with(func(s *age.Stanza) { s.Type = "scrypt" }),
		"no argument":        with(func(s *age.Stanza) { s.Args = nil }),
		"two arguments":      with(func(s *age.Stanza) { s.Args = append(s.Args, "x") }),
		"bad base64":         with(func(s *age.Stanza) { s.Args[0] = "!!!!" }),
		"padded base64":      with(func(s *age.Stanza) { s.Args[0] += "=" }),
		"short share":        with(func(s *age.Stanza) { s.Args[0] = s.Args[0][:40] }),
		"low-order share":    with(func(s *age.Stanza) { s.Args[0] = zero }),
		"flipped body":       with(func(s *age.Stanza) { s.Body[3] ^= 1 }),
		"short body":         with(func(s *age.Stanza) { s.Body = s.Body[:31] }),
	} {
		t.Run(name, func(t *testing.T) {
			theirs, theirErr := alice.box.Unwrap(stanzas)
			mine, myErr := alice.x.Unwrap(stanzas)
			kind := func(err error) string {
				switch {
				case err == nil:
					return "ok"
				case errors.Is(err, age.ErrIncorrectIdentity):
					return "not for me"
				}
				return "malformed"
			}
			if kind(theirErr) != kind(myErr) || !bytes.Equal(theirs, mine) {
				t.Errorf("age: %x, %v; ours: %x, %v", theirs, theirErr, mine, myErr)
			}
			if name == "good" && !bytes.Equal(mine, fileKey) {
				t.Errorf("file key %x, want %x", mine, fileKey)
			}
		})
	}
}

func TestBech32Data(t *testing.T) {
	for range 20 {
		pub := make([]byte, 32)
		rand.Read(pub)
		if got := bech32Data(bech32Encode("age", pub)); !bytes.Equal(got, pub) {
			t.Fatalf("bech32Data(bech32Encode(%x)) = %x", pub, got)
		}
	}
}

// FuzzOpenSealed feeds OpenSealed mutations of age files for its identity
// and others': nothing panics, every failure is ErrOpen or ErrNotForMe, and
// what opens with it opens with age's own identity to the same plaintext.
func FuzzOpenSealed(f *testing.F) {
	id := kaIdentity(f)
	k := Key(seq(32))
	mine, err := WrapKey(id.Public().Box, k)
	if err != nil {
		f.Fatal(err)
	}
	theirs, err := WrapKey(mustIdentity(f).Public().Box, k)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(mine)
	f.Add(theirs)
	f.Add([]byte("age-encryption.org/v1\n-> X25519 AAAA\n\n--- AAAA\n"))
	f.Fuzz(func(t *testing.T, ct []byte) {
		got, err := id.OpenSealed(ct)
		if err != nil {
			if !errors.Is(err, ErrOpen) && !errors.Is(err, ErrNotForMe) {
				t.Fatalf("error %v is neither ErrOpen nor ErrNotForMe", err)
			}
			return
		}
		r, err := age.Decrypt(bytes.NewReader(ct), id.box)
		if err != nil {
			t.Fatalf("opened, but age's identity refuses it: %v", err)
		}
		if want, _ := io.ReadAll(r); !bytes.Equal(got, want) {
			t.Fatalf("opened to %x, age's identity to %x", got, want)
		}
	})
}
