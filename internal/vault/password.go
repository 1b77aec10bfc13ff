package vault

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are the argon2id cost parameters. Their String form is
// stored beside each password verifier so the costs can be raised later
// while old verifiers still check.
type PasswordParams struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory per derivation, in KiB
	Threads   uint8  // lanes
}

// DefaultPasswordParams are OWASP's recommended minimum for argon2id
// (Password Storage Cheat Sheet): 19 MiB of memory, 2 passes, 1 lane. OWASP
// lists equivalent trades of memory for time; this one keeps each sign-in's
// memory small, which matters more to a server bounding 200 simultaneous
// sign-ins than a little CPU. On a 2-core machine one derivation takes tens
// of milliseconds.
func DefaultPasswordParams() PasswordParams {
	return PasswordParams{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}
}

// TestPasswordParams are deliberately weak parameters that make tests fast.
// Never use them outside tests.
func TestPasswordParams() PasswordParams {
	return PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1}
}

// Bounds accepted from stored parameter strings, so that an altered row
// cannot make a sign-in take unbounded memory or time.
const (
	maxTime      = 64
	maxMemoryKiB = 1 << 20 // 1 GiB
)

func (p PasswordParams) valid() bool {
	return p.Time >= 1 && p.Time <= maxTime &&
		p.Threads >= 1 &&
		p.MemoryKiB >= 8*uint32(p.Threads) && p.MemoryKiB <= maxMemoryKiB
}

// String returns the parameters as "argon2id$t=2$m=19456$p=1".
func (p PasswordParams) String() string {
	return fmt.Sprintf("argon2id$t=%d$m=%d$p=%d", p.Time, p.MemoryKiB, p.Threads)
}

// ParsePasswordParams parses the output of String. It accepts only that exact
// form, with values in range, and returns ErrParams otherwise.
func ParsePasswordParams(s string) (PasswordParams, error) {
	fields := strings.Split(s, "$")
	if len(fields) != 4 || fields[0] != "argon2id" {
		return PasswordParams{}, fmt.Errorf("%w: %q", ErrParams, s)
	}
	var vals [3]uint64
	for i, name := range []string{"t=", "m=", "p="} {
		v, ok := strings.CutPrefix(fields[i+1], name)
		if !ok {
			return PasswordParams{}, fmt.Errorf("%w: %q", ErrParams, s)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return PasswordParams{}, fmt.Errorf("%w: %q", ErrParams, s)
		}
		vals[i] = n
	}
	if vals[2] > 255 {
		return PasswordParams{}, fmt.Errorf("%w: %q", ErrParams, s)
	}
	p := PasswordParams{Time: uint32(vals[0]), MemoryKiB: uint32(vals[1]), Threads: uint8(vals[2])}
	// Reject non-canonical spellings such as "t=02" so each parameter set
	// has exactly one string.
	if !p.valid() || p.String() != s {
		return PasswordParams{}, fmt.Errorf("%w: %q", ErrParams, s)
	}
	return p, nil
}

// Passwords derives password verifiers and key-encryption keys with argon2id,
// running at most a fixed number of derivations at once so that a burst of
// sign-ins cannot exhaust memory: with the defaults each derivation holds
// 19 MiB, so maxConcurrent of 8 bounds them to 152 MiB however many sign-ins
// arrive. The others wait their turn, first come first served.
type Passwords struct {
	params PasswordParams
	slots  chan struct{} // one token per running derivation at params' memory
	turn   chan struct{} // held while taking slots, so waiters queue in order
	argon  func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte
}

// NewPasswords returns a deriver with parameters p for new verifiers, allowing
// at most maxConcurrent derivations at p's memory cost at once (at least 1).
// It panics if p is out of range: parameters from outside the program should
// come through ParsePasswordParams, which checks them.
func NewPasswords(p PasswordParams, maxConcurrent int) *Passwords {
	if !p.valid() {
		panic("vault: NewPasswords: invalid parameters " + p.String())
	}
	maxConcurrent = max(maxConcurrent, 1)
	return &Passwords{
		params: p,
		slots:  make(chan struct{}, maxConcurrent),
		turn:   make(chan struct{}, 1),
		argon:  argon2.IDKey,
	}
}

// Params returns the parameters new verifiers are made with.
func (p *Passwords) Params() PasswordParams { return p.params }

// Derive runs argon2id over password and salt with the deriver's parameters,
// waiting for a free slot first. It returns ctx.Err() if ctx ends while it
// waits.
//
// One run gives 64 bytes: the first 32 are the verifier, stored to check the
// password; the last 32 are the key-encryption key that seals the user's
// identity, never stored. For a 64-byte output argon2id's final hash is one
// BLAKE2b-512 call, whose halves are independent, so the stored verifier
// tells nothing about the key beyond what guessing the password would —
// which is the threat any stored password verifier carries.
func (p *Passwords) Derive(ctx context.Context, password, salt []byte) (verifier [32]byte, kek Key, err error) {
	return p.DeriveWith(ctx, p.params, password, salt)
}

// DeriveWith is Derive with the parameters stored beside an older verifier.
// A run that needs more memory than the deriver's own parameters takes
// proportionally more slots, so the memory bound holds across parameter
// changes.
func (p *Passwords) DeriveWith(ctx context.Context, params PasswordParams, password, salt []byte) (verifier [32]byte, kek Key, err error) {
	if err := ctx.Err(); err != nil {
		return verifier, kek, err
	}
	if !params.valid() {
		return verifier, kek, fmt.Errorf("%w: %q", ErrParams, params.String())
	}
	if len(salt) < saltSize {
		return verifier, kek, fmt.Errorf("vault: salt shorter than %d bytes", saltSize)
	}
	weight := int((params.MemoryKiB + p.params.MemoryKiB - 1) / p.params.MemoryKiB)
	weight = min(max(weight, 1), cap(p.slots))
	if err := p.acquire(ctx, weight); err != nil {
		return verifier, kek, err
	}
	defer p.release(weight)

	out := p.argon(password, salt, params.Time, params.MemoryKiB, params.Threads, 64)
	copy(verifier[:], out[:32])
	copy(kek[:], out[32:])
	clear(out)
	return verifier, kek, nil
}

func (p *Passwords) acquire(ctx context.Context, weight int) error {
	select {
	case p.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.turn }()
	for i := range weight {
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			p.release(i)
			return ctx.Err()
		}
	}
	return nil
}

func (p *Passwords) release(n int) {
	for range n {
		<-p.slots
	}
}

const saltSize = 16

// NewSalt returns a fresh random 16-byte salt for one user's verifier.
func NewSalt() ([]byte, error) {
	s := make([]byte, saltSize)
	rand.Read(s)
	return s, nil
}

// VerifierEqual compares two verifiers in constant time.
func VerifierEqual(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}
