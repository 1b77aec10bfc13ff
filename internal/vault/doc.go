// Package vault holds Dissent's cryptography: symmetric keys and sealing,
// wrapping keys to people with age, user identities, password-derived keys,
// session secrets, memo signatures, and the recovery key split among
// custodians.
//
// Memo contents and the link between a person and a memo are encrypted at
// rest, so that a copy of the database, in the hands of the administrator or
// a thief, reveals neither. Each memo has random data keys; fields are sealed
// under them with XChaCha20-Poly1305, and the data keys are wrapped with age to
// the X25519 keys of the people entitled to read. A user's private Identity is
// stored sealed under a key derived from their password with argon2id, and
// sealed to the organisation's recovery key, whose private half is split k of
// n among named custodians with Shamir's secret sharing.
//
// Every primitive here is a vetted one, used as its authors intend: age for
// public-key encryption, XChaCha20-Poly1305 and HMAC-SHA256 from
// golang.org/x/crypto and the standard library, HKDF-SHA256 to derive keys from
// keys, argon2id for passwords, Ed25519 for signatures. The one piece written
// here, Shamir's secret sharing over GF(2^8), follows HashiCorp Vault's
// shamir.go with constant-time field arithmetic and known-answer tests.
//
// The package must never do I/O beyond reading crypto/rand, never store
// anything, and never log: no function here writes to a log, and errors never
// contain key material, plaintext or passwords. Key and Identity print as
// redacted placeholders so that a stray %v cannot leak them.
package vault

import "errors"

// Sentinel errors. Callers test for them with errors.Is.
var (
	// ErrOpen means a ciphertext could not be opened: wrong key, wrong
	// associated data, truncated, altered or of an unknown version. The
	// causes are deliberately not told apart.
	ErrOpen = errors.New("vault: cannot open sealed data")
	// ErrNotForMe means an age ciphertext has no stanza for this identity.
	// Trial decryption of mailbox entries expects it for most entries.
	ErrNotForMe = errors.New("vault: sealed for someone else")
	// ErrRecipient means a recipient string is not a canonical age X25519
	// public key.
	ErrRecipient = errors.New("vault: malformed recipient")
	// ErrIdentity means a marshalled identity is malformed.
	ErrIdentity = errors.New("vault: malformed identity")
	// ErrToken means a session token is malformed.
	ErrToken = errors.New("vault: malformed session token")
	// ErrParams means password-hashing parameters are malformed or out of
	// the accepted range.
	ErrParams = errors.New("vault: bad password parameters")
	// ErrStatement means canonical statement bytes are malformed.
	ErrStatement = errors.New("vault: malformed statement")
	// ErrShare means a recovery share is malformed or fails its checksum,
	// typically because of a typo.
	ErrShare = errors.New("vault: malformed recovery share")
	// ErrTooFewShares means fewer shares were given than the threshold.
	ErrTooFewShares = errors.New("vault: too few recovery shares")
	// ErrShareMismatch means the shares do not belong together: different
	// recovery keys or thresholds, duplicates, or a share that was altered.
	ErrShareMismatch = errors.New("vault: recovery shares do not match")
	// ErrSplit means a split was asked with impossible parameters.
	ErrSplit = errors.New("vault: bad secret-sharing parameters")
)
