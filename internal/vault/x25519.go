package vault

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
)

// age's native X25519 recipient and identity types, written here over
// crypto/ecdh keys. age's own types compute each exchange with
// golang.org/x/crypto/curve25519.X25519, which today builds a crypto/ecdh
// private key from the scalar for every call, and so computes its public
// key too: three scalar multiplications per wrap and two per unwrap where
// the construction needs two and one. A submission wraps its key seven
// times, the office's list unwraps fifty keys, the mailbox tries a key per
// entry: the multiplications were the largest single cost of all three.
//
// The construction is age's, unchanged (age-encryption.org/v1, "X25519"
// recipient stanza), and the stanzas are byte for byte what age writes:
//
//	ephemeral share E = X25519(e, basepoint), e random
//	wrap key = HKDF-SHA-256(ikm = X25519(e, R), salt = E || R, info = label)
//	body = ChaCha20-Poly1305(wrap key, nonce 0, file key)
//
// age.Encrypt and age.Decrypt still do everything else: the file key, the
// header and its MAC, the payload. age's own X25519 identity opens what
// these recipients wrap and these identities open what age's recipients
// wrap, which the tests check both ways.

const x25519Label = "age-encryption.org/v1/X25519"

// b64 is age's stanza argument encoding: unpadded, strict.
var b64 = base64.RawStdEncoding.Strict()

// wrapKey derives a stanza's wrapping key from the exchange's secret.
func wrapKey(secret, share, recipient []byte) ([]byte, error) {
	salt := make([]byte, 0, len(share)+len(recipient))
	salt = append(salt, share...)
	salt = append(salt, recipient...)
	return hkdf.Key(sha256.New, secret, salt, x25519Label, chacha20poly1305.KeySize)
}

// x25519Recipient wraps file keys to one X25519 public key.
type x25519Recipient struct {
	pub *ecdh.PublicKey
}

// newX25519Recipient makes a recipient from an "age1…" string that age has
// already parsed (parseRecipient): the string is canonical Bech32, so its
// data is read here without checking again.
func newX25519Recipient(s string) (*x25519Recipient, error) {
	pub, err := ecdh.X25519().NewPublicKey(bech32Data(s))
	if err != nil {
		return nil, ErrRecipient
	}
	return &x25519Recipient{pub: pub}, nil
}

// Wrap implements age.Recipient.
func (r *x25519Recipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	e, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	secret, err := e.ECDH(r.pub) // fails for a low-order point, as age does
	if err != nil {
		return nil, err
	}
	share := e.PublicKey().Bytes()
	key, err := wrapKey(secret, share, r.pub.Bytes())
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, err
	}
	// A fixed nonce is safe: the key is derived from a fresh ephemeral
	// share and wraps this one file key only (as in age).
	body := aead.Seal(nil, make([]byte, chacha20poly1305.NonceSize), fileKey, nil)
	return []*age.Stanza{{Type: "X25519", Args: []string{b64.EncodeToString(share)}, Body: body}}, nil
}

// x25519Identity unwraps file keys wrapped to its public key.
type x25519Identity struct {
	key *ecdh.PrivateKey
	pub []byte
}

func newX25519Identity(scalar []byte) (*x25519Identity, error) {
	k, err := ecdh.X25519().NewPrivateKey(scalar)
	if err != nil {
		return nil, err
	}
	return &x25519Identity{key: k, pub: k.PublicKey().Bytes()}, nil
}

// Unwrap implements age.Identity: the first X25519 stanza that opens gives
// the file key; none that opens is age.ErrIncorrectIdentity.
func (id *x25519Identity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	for _, s := range stanzas {
		fileKey, err := id.unwrap(s)
		if errors.Is(err, age.ErrIncorrectIdentity) {
			continue
		}
		return fileKey, err
	}
	return nil, age.ErrIncorrectIdentity
}

// unwrap is age's X25519Identity.unwrap, with the same answers for the same
// stanzas: malformed ones are errors, ones for someone else are
// age.ErrIncorrectIdentity.
func (id *x25519Identity) unwrap(s *age.Stanza) ([]byte, error) {
	if s.Type != "X25519" {
		return nil, age.ErrIncorrectIdentity
	}
	if len(s.Args) != 1 || strings.ContainsAny(s.Args[0], "\r\n") {
		return nil, errors.New("vault: invalid X25519 recipient block")
	}
	share, err := b64.DecodeString(s.Args[0])
	if err != nil || len(share) != 32 {
		return nil, errors.New("vault: invalid X25519 recipient block")
	}
	peer, err := ecdh.X25519().NewPublicKey(share)
	if err != nil {
		return nil, errors.New("vault: invalid X25519 recipient block")
	}
	secret, err := id.key.ECDH(peer)
	if err != nil {
		return nil, errors.New("vault: invalid X25519 recipient")
	}
	key, err := wrapKey(secret, share, id.pub)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, err
	}
	if len(s.Body) != 16+aead.Overhead() { // age's file keys are 16 bytes
		return nil, errors.New("vault: invalid X25519 recipient block: incorrect file key size")
	}
	fileKey, err := aead.Open(nil, make([]byte, chacha20poly1305.NonceSize), s.Body, nil)
	if err != nil {
		return nil, age.ErrIncorrectIdentity
	}
	return fileKey, nil
}

// bech32Data returns the data of a Bech32 string a strict parser has
// already accepted (checksum included), without checking it again.
func bech32Data(s string) []byte {
	const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	i := strings.LastIndexByte(s, '1')
	if i < 0 || len(s)-i-1 < 6 {
		return nil
	}
	var out []byte
	var acc uint32
	var bits uint
	for _, c := range []byte(s[i+1 : len(s)-6]) {
		v := strings.IndexByte(charset, c)
		if v < 0 {
			return nil
		}
		acc = acc<<5 | uint32(v)
		bits += 5
		if bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>bits))
		}
	}
	return out
}
