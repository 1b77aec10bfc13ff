package vault

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"filippo.io/age"
)

// TestBech32AgeVector checks bech32Encode against strings made by age itself
// (newX25519IdentityFromScalar and Recipient().String()) for the RFC 7748
// section 6.1 key pair of Alice.
func TestBech32AgeVector(t *testing.T) {
	scalar := unhex(t, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
	public := unhex(t, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
	const (
		ageSecret = "AGE-SECRET-KEY-1WURK6ZNNRZJH60QKC9E9RVNXGH05CTU8A0QFJ243WLA628DE9S4QRFH26J"
		ageBox    = "age1s5s0qzvfxzn4gayt0hwtg0hhtgxm7wsdycup4a8t5j5ca25mfe4qt4hs7q"
	)
	if got := strings.ToUpper(bech32Encode("age-secret-key-", scalar)); got != ageSecret {
		t.Errorf("secret = %s, want %s", got, ageSecret)
	}
	if got := bech32Encode("age", public); got != ageBox {
		t.Errorf("public = %s, want %s", got, ageBox)
	}
	id, err := age.ParseX25519Identity(ageSecret)
	if err != nil || id.Recipient().String() != ageBox {
		t.Fatalf("age disagrees: %v", err)
	}
	// BIP 173's valid vector with the empty data part.
	if got := bech32Encode("a", nil); got != "a12uel5l" {
		t.Errorf("bech32Encode(a) = %s", got)
	}
}

// TestIdentityKnownAnswer checks the keys derived from a fixed seed and an
// Ed25519 signature by them against testdata/vectors.json.
func TestIdentityKnownAnswer(t *testing.T) {
	v := loadVectors(t)
	id := kaIdentity(t)
	if id.box.String() != v.IdentitySecret {
		t.Error("X25519 secret key differs from the vector")
	}
	pub := id.Public()
	if pub.Box != v.IdentityBox {
		t.Errorf("Box = %s, want %s", pub.Box, v.IdentityBox)
	}
	if got := hex.EncodeToString(pub.Sign); got != v.IdentitySign {
		t.Errorf("Sign = %s, want %s", got, v.IdentitySign)
	}
	if k := id.IndexKey(); hex.EncodeToString(k[:]) != v.IdentityIndex {
		t.Error("index key differs from the vector")
	}
	sig := id.Sign(kaStatement())
	if got := hex.EncodeToString(sig); got != v.Signature {
		t.Errorf("signature = %s, want %s", got, v.Signature)
	}
	if !VerifySignature(pub.Sign, kaStatement(), unhex(t, v.Signature)) {
		t.Error("the vector's signature does not verify")
	}
}

func TestIdentityMarshal(t *testing.T) {
	id, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	b := id.Marshal()
	if len(b) != IdentitySize || b[0] != 1 {
		t.Fatalf("Marshal = %d bytes, version %d", len(b), b[0])
	}
	got, err := ParseIdentity(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Public().Box != id.Public().Box || !got.Public().Sign.Equal(id.Public().Sign) ||
		got.IndexKey() != id.IndexKey() || !bytes.Equal(got.Marshal(), b) {
		t.Fatal("round trip changed the identity")
	}
	other, _ := NewIdentity()
	if other.Public().Box == id.Public().Box || other.IndexKey() == id.IndexKey() {
		t.Fatal("two new identities share keys")
	}
	for _, bad := range [][]byte{nil, b[:32], append(bytes.Clone(b), 0), append([]byte{2}, b[1:]...)} {
		if _, err := ParseIdentity(bad); !errors.Is(err, ErrIdentity) {
			t.Errorf("ParseIdentity(%d bytes) = %v, want ErrIdentity", len(bad), err)
		}
	}
	if s := fmt.Sprintf("%v %+v %#v", id, id, id); strings.Contains(s, fmt.Sprint(id.seed[:4])) || !strings.Contains(s, id.Public().Box) {
		t.Errorf("formatted identity: %s", s)
	}
}

func TestPublicIsCopy(t *testing.T) {
	id := kaIdentity(t)
	p := id.Public()
	p.Sign[0] ^= 1
	if id.Public().Sign[0] == p.Sign[0] {
		t.Fatal("Public exposes the identity's own key slice")
	}
}

func TestParsePublicBox(t *testing.T) {
	id := kaIdentity(t)
	if err := ParsePublicBox(id.Public().Box); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"",
		strings.ToUpper(id.Public().Box), // valid bech32, not canonical
		id.Public().Box[:len(id.Public().Box)-1] + "q",
		"age1",
		id.box.String(), // a secret key is not a recipient
		"age1pq1xyz",
	} {
		if err := ParsePublicBox(bad); !errors.Is(err, ErrRecipient) {
			t.Errorf("ParsePublicBox(%.20q) = %v, want ErrRecipient", bad, err)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a, b := kaIdentity(t), mustIdentity(t)
	fa := a.Public().Fingerprint()
	if len(fa) != 29 || !validFingerprint(fa) {
		t.Fatalf("Fingerprint = %q", fa)
	}
	if fa == b.Public().Fingerprint() || fa != a.Public().Fingerprint() {
		t.Fatal("fingerprints do not tell keys apart")
	}
}

func mustIdentity(t testing.TB) *Identity {
	t.Helper()
	id, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestSealIdentity(t *testing.T) {
	id := mustIdentity(t)
	kek, _ := NewKey()
	sealed := SealIdentity(kek, "user-1", id)
	got, err := OpenIdentity(kek, "user-1", sealed)
	if err != nil || got.Public().Box != id.Public().Box {
		t.Fatalf("OpenIdentity = %v, %v", got, err)
	}
	wrong, _ := NewKey()
	if _, err := OpenIdentity(wrong, "user-1", sealed); !errors.Is(err, ErrOpen) {
		t.Errorf("wrong KEK: %v, want ErrOpen", err)
	}
	if _, err := OpenIdentity(kek, "user-2", sealed); !errors.Is(err, ErrOpen) {
		t.Errorf("wrong user id: %v, want ErrOpen", err)
	}
}

func TestRecoverIdentity(t *testing.T) {
	recovery, user, stranger := mustIdentity(t), mustIdentity(t), mustIdentity(t)
	sealed, err := SealIdentityTo(recovery.Public().Box, "user-1", user)
	if err != nil {
		t.Fatal(err)
	}
	got, err := recovery.RecoverIdentity("user-1", sealed)
	if err != nil || got.Public().Box != user.Public().Box {
		t.Fatalf("RecoverIdentity = %v, %v", got, err)
	}
	if _, err := recovery.RecoverIdentity("user-2", sealed); !errors.Is(err, ErrOpen) {
		t.Errorf("moved to another user: %v, want ErrOpen", err)
	}
	if _, err := stranger.RecoverIdentity("user-1", sealed); !errors.Is(err, ErrNotForMe) {
		t.Errorf("another recovery key: %v, want ErrNotForMe", err)
	}
}

func TestSealTo(t *testing.T) {
	alice, bob, carol := mustIdentity(t), mustIdentity(t), mustIdentity(t)
	msg := []byte("mailbox: memo-1")
	ct, err := SealTo(alice.Public().Box, msg)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(ct, []byte("-----BEGIN")) || !bytes.HasPrefix(ct, []byte("age-encryption.org/v1\n")) {
		t.Fatal("not binary age format")
	}
	if got, err := alice.OpenSealed(ct); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("OpenSealed = %q, %v", got, err)
	}
	if _, err := bob.OpenSealed(ct); !errors.Is(err, ErrNotForMe) {
		t.Fatalf("another identity: %v, want ErrNotForMe", err)
	}

	many, err := SealToMany([]string{alice.Public().Box, bob.Public().Box}, msg)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []*Identity{alice, bob} {
		if got, err := id.OpenSealed(many); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("SealToMany: OpenSealed = %q, %v", got, err)
		}
	}
	if _, err := carol.OpenSealed(many); !errors.Is(err, ErrNotForMe) {
		t.Fatalf("SealToMany, outsider: %v, want ErrNotForMe", err)
	}

	for name, bad := range map[string][]byte{
		"empty":             nil,
		"garbage":           []byte("not age at all"),
		"truncated payload": ct[:len(ct)-1],
		"flipped payload":   flip(ct, len(ct)-3),
		"flipped header":    flip(ct, 60),
	} {
		if _, err := alice.OpenSealed(bad); !errors.Is(err, ErrOpen) && !errors.Is(err, ErrNotForMe) {
			t.Errorf("%s: %v, want ErrOpen or ErrNotForMe", name, err)
		} else if name == "flipped payload" || name == "truncated payload" {
			if !errors.Is(err, ErrOpen) {
				t.Errorf("%s: %v, want ErrOpen", name, err)
			}
		}
	}

	if _, err := SealTo("age1nonsense", msg); !errors.Is(err, ErrRecipient) {
		t.Errorf("bad recipient: %v", err)
	}
	if _, err := SealToMany(nil, msg); !errors.Is(err, ErrRecipient) {
		t.Errorf("no recipients: %v", err)
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

func TestWrapKey(t *testing.T) {
	alice, bob := mustIdentity(t), mustIdentity(t)
	k, _ := NewKey()
	w, err := WrapKey(alice.Public().Box, k)
	if err != nil {
		t.Fatal(err)
	}
	got, err := alice.UnwrapKey(w)
	if err != nil || got != k {
		t.Fatalf("UnwrapKey: %v", err)
	}
	if _, err := bob.UnwrapKey(w); !errors.Is(err, ErrNotForMe) {
		t.Fatalf("bob: %v, want ErrNotForMe", err)
	}
	notKey, _ := SealTo(alice.Public().Box, []byte("short"))
	if _, err := alice.UnwrapKey(notKey); !errors.Is(err, ErrOpen) {
		t.Fatalf("not a key: %v, want ErrOpen", err)
	}
}

func TestEd25519PublicKeyLength(t *testing.T) {
	// ed25519.Verify panics on a short key; VerifySignature must not.
	if VerifySignature(ed25519.PublicKey{1, 2, 3}, kaStatement(), make([]byte, 64)) {
		t.Fatal("short key verified")
	}
}
