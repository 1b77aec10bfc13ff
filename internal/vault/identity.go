package vault

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"strings"

	"filippo.io/age"
)

// Identity is one person's (or the channel office's, or the recovery key's)
// private keys: an X25519 key that age-encrypted data keys and mailbox
// entries are sealed to, an Ed25519 key that signs memo statements, and an
// index key for the private index of their own memos.
//
// All three are derived from one random 32-byte seed with HKDF-SHA256 under
// distinct labels. HKDF's outputs under different labels are independent
// keys, so one key's use reveals nothing of the others, and the seed is all
// there is to store, seal or split among recovery custodians.
type Identity struct {
	seed  [32]byte
	box   *age.X25519Identity
	x     *x25519Identity // the same key, for unwrapping (x25519.go)
	sign  ed25519.PrivateKey
	index Key
	tags  Tagger // index's, derived once
	pub   Public
}

// Public is the public half of an Identity: what others need to seal to it
// and to check its signatures.
type Public struct {
	Box  string            // age X25519 recipient, "age1…"
	Sign ed25519.PublicKey // verifies Statement signatures
}

const identityVersion = 1

// IdentitySize is the length of Identity.Marshal's output.
const IdentitySize = 1 + 32

// NewIdentity returns a fresh random identity.
func NewIdentity() (*Identity, error) {
	var seed [32]byte
	rand.Read(seed[:])
	return newIdentityFromSeed(seed)
}

// newIdentityFromSeed derives an identity from its seed. It is deterministic,
// which the known-answer tests rely on.
func newIdentityFromSeed(seed [32]byte) (*Identity, error) {
	id := &Identity{seed: seed}
	// The seed is uniformly random, so HKDF-Expand alone is a sound KDF
	// (RFC 5869, section 3.3).
	derive := func(label string) []byte {
		k, err := hkdf.Expand(sha256.New, seed[:], label, 32)
		if err != nil {
			panic("vault: HKDF-Expand failed for 32 bytes")
		}
		return k
	}

	// Any 32 bytes are a valid X25519 scalar (X25519 clamps), so the derived
	// bytes are used as they are, through age's own parser.
	scalar := derive("dissent identity v1 x25519")
	box, err := age.ParseX25519Identity(strings.ToUpper(bech32Encode("age-secret-key-", scalar)))
	if err != nil {
		clear(scalar)
		return nil, ErrIdentity
	}
	id.box = box
	id.x, err = newX25519Identity(scalar)
	clear(scalar)
	if err != nil {
		return nil, ErrIdentity
	}

	signSeed := derive("dissent identity v1 ed25519")
	id.sign = ed25519.NewKeyFromSeed(signSeed)
	clear(signSeed)

	indexKey := derive("dissent identity v1 index")
	copy(id.index[:], indexKey)
	clear(indexKey)
	id.tags = id.index.Tagger()

	id.pub = Public{
		Box:  box.Recipient().String(),
		Sign: id.sign.Public().(ed25519.PublicKey),
	}
	return id, nil
}

// Public returns the identity's public keys.
func (id *Identity) Public() Public {
	p := id.pub
	p.Sign = append(ed25519.PublicKey(nil), p.Sign...)
	return p
}

// IndexKey returns the key for the identity's private index of memos: Tag
// names entries, Seal protects their contents.
func (id *Identity) IndexKey() Key { return id.index }

// IndexTag is IndexKey().Tag(parts...), without deriving the tag key again.
func (id *Identity) IndexTag(parts ...string) [32]byte { return id.tags.Tag(parts...) }

// String redacts the private keys, showing only the public age recipient.
func (id *Identity) String() string { return "vault.Identity(" + id.pub.Box + ")" }

// GoString redacts the private keys for %#v as well.
func (id *Identity) GoString() string { return id.String() }

// Marshal encodes the private identity as version byte 1 followed by the
// 32-byte seed. It is secret: seal it before it leaves memory.
func (id *Identity) Marshal() []byte {
	b := make([]byte, 0, IdentitySize)
	b = append(b, identityVersion)
	return append(b, id.seed[:]...)
}

// ParseIdentity decodes the output of Marshal.
func ParseIdentity(b []byte) (*Identity, error) {
	if len(b) != IdentitySize || b[0] != identityVersion {
		return nil, ErrIdentity
	}
	var seed [32]byte
	copy(seed[:], b[1:])
	return newIdentityFromSeed(seed)
}

// ParsePublicBox checks that s is an age X25519 recipient in its canonical
// (lower-case) form, so that one key is always stored as one string.
func ParsePublicBox(s string) error {
	_, err := parseRecipient(s)
	return err
}

func parseRecipient(s string) (*age.X25519Recipient, error) {
	r, err := age.ParseX25519Recipient(s)
	if err != nil || r.String() != s {
		return nil, ErrRecipient
	}
	return r, nil
}

// Fingerprint is a short printable digest of the public keys, for people to
// compare (it is printed on recovery shares): the first 15 bytes of SHA-256
// over the domain-separated keys, in base32, in groups of four.
func (p Public) Fingerprint() string {
	h := sha256.Sum256(AD("dissent fingerprint v1", p.Box, string(p.Sign)))
	s := base32.StdEncoding.EncodeToString(h[:15])
	return groups(s, 4, "-")
}

// groups splits s into groups of n characters joined by sep.
func groups(s string, n int, sep string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += n {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(s[i:min(i+n, len(s))])
	}
	return b.String()
}

// SealIdentity seals a private identity under a key-encryption key (derived
// from the user's password), bound to the user's id, so that an identity
// sealed for one user cannot be swapped into another user's row.
func SealIdentity(kek Key, userID string, id *Identity) []byte {
	b := id.Marshal()
	defer clear(b)
	return Seal(kek, AD("dissent identity v1", userID), b)
}

// OpenIdentity reverses SealIdentity. A wrong key-encryption key (a wrong
// password) or a wrong user id returns ErrOpen.
func OpenIdentity(kek Key, userID string, sealed []byte) (*Identity, error) {
	b, err := Open(kek, AD("dissent identity v1", userID), sealed)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	return ParseIdentity(b)
}

// SealIdentityTo seals a private identity with age to the recovery public
// key, for custodians to restore if the user forgets their password. age has
// no associated data, so the user's id is sealed inside with the identity and
// checked on opening: a recovery copy moved to another user's row is refused.
func SealIdentityTo(recovery, userID string, id *Identity) ([]byte, error) {
	m := id.Marshal()
	b := append(AD("dissent recovery v1", userID), m...)
	defer clear(b)
	clear(m)
	return SealTo(recovery, b)
}

// RecoverIdentity opens, with the recovery identity rec (rebuilt by
// JoinIdentity), a user's identity sealed by SealIdentityTo.
func (rec *Identity) RecoverIdentity(userID string, sealed []byte) (*Identity, error) {
	b, err := rec.OpenSealed(sealed)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	prefix := AD("dissent recovery v1", userID)
	if len(b) != len(prefix)+IdentitySize || string(b[:len(prefix)]) != string(prefix) {
		return nil, ErrOpen
	}
	return ParseIdentity(b[len(prefix):])
}
