package service

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/vault"
)

// Actor is a signed-in user for the length of one request. It carries the
// user's private keys, unsealed from the session; it is never stored.
type Actor struct {
	User      *store.User
	id        *vault.Identity // nil while the keys are locked after a reset
	sessionID []byte
	office    *vault.Identity
	officeErr error
	officeOK  bool
}

// Has reports whether the actor holds role r.
func (a *Actor) Has(r channel.Role) bool { return slices.Contains(a.User.Roles, string(r)) }

// Username is the actor's username.
func (a *Actor) Username() string { return a.User.Username }

// KeysLocked reports whether the actor has no keys open: they await
// recovery, or (KeysPending) the user's own password.
func (a *Actor) KeysLocked() bool { return a.id == nil }

// KeysPending reports whether the actor's keys are not made yet: they
// signed in with the password an administrator chose and must choose their
// own.
func (a *Actor) KeysPending() bool { return a.User.KeyState == keysPending }

// sessionSecrets is what a session row holds, sealed under a key derived
// from the token.
type sessionSecrets struct {
	UserID   string `json:"u"`
	Epoch    int64  `json:"e"`
	Identity []byte `json:"i,omitempty"`
}

var errBadCredentials = channel.Errorf(channel.EUNAUTHORIZED, "wrong username or password")

// SignIn checks a password and opens a session. It answers the same error,
// in about the same time, for an unknown user and a wrong password.
func (s *Service) SignIn(ctx context.Context, username, password string) (token string, expires time.Time, err error) {
	token, expires, _, err = s.SignInFrom(ctx, username, password, "", netip.Addr{})
	return token, expires, err
}

// SignInFrom is SignIn from a device: a browser or client that keeps the
// device token a sign-in to this account gave it, or "" for one that has
// none. Failed sign-ins are limited per account, which would let anyone
// who knows a username keep its person out (the channel office, before a
// deadline); a device the account signed in from before is counted on its
// own (OWASP's device cookies), so wrong passwords from elsewhere do not
// lock it out. device is the token to keep from now on: the one given, or
// a new one after a sign-in without it.
//
// from is the address the attempt came from (the zero Addr if unknown). A
// device without a token for the account is also counted against its
// address, so that someone trying one password on many accounts (password
// spraying) is held back too; a device the account signed in from before
// is not, so that people who share an address (an office's network) are
// not locked out by a guesser among them. An address counts the passwords
// checked and found wrong, and, until they are answered, the attempts under
// way.
func (s *Service) SignInFrom(ctx context.Context, username, password, device string, from netip.Addr) (token string, expires time.Time, keep string, err error) {
	if err := channel.ValidateUsername("username", username); err != nil {
		return "", time.Time{}, "", errBadCredentials
	}
	if len(password) > channel.MaxPassword {
		return "", time.Time{}, "", errBadCredentials
	}
	var u *store.User
	err = s.inTx(ctx, false, func(tx store.Tx) error {
		var err error
		u, err = tx.UserByUsername(ctx, username)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", time.Time{}, "", err
	}
	counted, address := username, ""
	if id, ok := s.deviceOf(u, device); ok {
		counted = "device " + id
	} else {
		device = ""
		address = addressKey(from)
	}
	// The attempt counts from here until it is settled, so that attempts
	// made at once cannot all pass the check before any has failed.
	if wait, failed := s.addrs.take(address, s.Now()); wait > 0 {
		if failed {
			return "", time.Time{}, "", channel.RateLimited(wait, "too many failed sign-ins from your network; sign in from a device you have used before, or wait")
		}
		return "", time.Time{}, "", channel.RateLimited(wait, "too many sign-ins at once from your network")
	}
	if wait, failed := s.limiter.take(counted, s.Now()); wait > 0 {
		s.addrs.settle(address)
		if failed {
			return "", time.Time{}, "", channel.RateLimited(wait, "too many failed sign-ins")
		}
		return "", time.Time{}, "", channel.RateLimited(wait, "too many sign-ins at once")
	}
	token, expires, err = s.signIn(ctx, u, password)
	switch {
	case errors.Is(err, errBadCredentials):
		now := s.Now()
		s.limiter.fail(counted, now)
		if s.addrs.fail(address, now) {
			s.log.Warn("sign-ins held back: an address reached the limit of failed sign-ins an hour", "address", address, "limit", s.cfg.SignInAddressLimit)
		}
		return "", time.Time{}, "", err
	case err != nil:
		// The password was not checked: the client went away while it
		// waited its turn behind others', or the check failed.
		s.limiter.settle(counted)
		s.addrs.settle(address)
		return "", time.Time{}, "", err
	}
	s.limiter.reset(counted)
	s.addrs.settle(address)
	if device == "" {
		device = s.newDevice(u)
	}
	return token, expires, device, nil
}

// signIn is SignIn once the attempt is counted, for the account u (nil for
// a username nobody has).
func (s *Service) signIn(ctx context.Context, u *store.User, password string) (token string, expires time.Time, err error) {
	if u == nil || u.Disabled {
		// Spend the same work as a real check so timing tells nothing.
		if _, _, err := s.passwords.Derive(ctx, []byte(password), dummySalt); err != nil {
			return "", time.Time{}, err // as checkPassword's below
		}
		return "", time.Time{}, s.recordFailedSignIn(ctx)
	}
	kek, ok, err := s.checkPassword(ctx, u, password)
	if err != nil {
		return "", time.Time{}, err
	}
	if !ok {
		return "", time.Time{}, s.recordFailedSignIn(ctx)
	}
	secrets := sessionSecrets{UserID: u.ID, Epoch: u.SessionEpoch}
	var id *vault.Identity
	if u.KeyState == keysActive {
		if id, err = vault.OpenIdentity(kek, u.ID, u.KeysSealed); err != nil {
			return "", time.Time{}, errInternal("open identity of %q: %w", u.ID, err)
		}
		secrets.Identity = id.Marshal()
	}
	tok, raw, err := vault.NewToken()
	if err != nil {
		return "", time.Time{}, err
	}
	plain, err := json.Marshal(secrets)
	if err != nil {
		return "", time.Time{}, err
	}
	sid := vault.SessionID(raw)
	now := s.now()
	expires = coarse(now.Add(s.cfg.SessionTTL))
	sess := &store.Session{
		ID:        sid[:],
		Sealed:    vault.Seal(vault.SessionKey(raw), vault.AD("session", base64.RawURLEncoding.EncodeToString(sid[:])), plain),
		ExpiresAt: micros(expires),
		IdleUntil: micros(coarse(now.Add(s.cfg.SessionIdle))),
	}
	actor := &Actor{User: u, id: id, sessionID: sid[:]}
	swapped := id != nil && (id.Public().Box != u.BoxPublic || !bytes.Equal(id.Public().Sign, u.SignPublic))
	err = s.inTx(ctx, true, func(tx store.Tx) error {
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		if swapped {
			if err := s.restorePublicKeys(ctx, tx, u, id); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, event{action: "session.create", actor: actor})
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, expires, nil
}

// A device token is 16 random bytes and an HMAC-SHA256 of them, the
// account's id and its session epoch, under a key derived from the
// ledger's signing key: every node of the deployment holds it, and nobody
// with only the database can make one. It proves only that this device
// signed in to the account since its password last changed (a change, a
// reset, a recovery, or disabling the account moves the epoch, as it ends
// every session); the password is asked every time.
const deviceIDSize = 16

func (s *Service) newDevice(u *store.User) string {
	id := make([]byte, deviceIDSize)
	rand.Read(id)
	return base64.RawURLEncoding.EncodeToString(append(id, s.deviceMAC(u, id)...))
}

// deviceOf returns the id of device if it is a token this deployment gave
// for u (nil: none is) since its session epoch last moved.
func (s *Service) deviceOf(u *store.User, device string) (string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(device)
	if u == nil || err != nil || len(raw) != deviceIDSize+sha256.Size {
		return "", false
	}
	id := raw[:deviceIDSize]
	if !hmac.Equal(raw[deviceIDSize:], s.deviceMAC(u, id)) {
		return "", false
	}
	return hex.EncodeToString(id), true
}

func (s *Service) deviceMAC(u *store.User, id []byte) []byte {
	m := hmac.New(sha256.New, s.deviceKey[:])
	m.Write(vault.AD("device v2", u.ID, strconv.FormatInt(u.SessionEpoch, 10), string(id)))
	return m.Sum(nil)
}

// restorePublicKeys puts back the public keys of u's identity, which is
// sealed under their password, where the users row holds others: someone
// with the database rewrote them, to have what is wrapped to u wrapped to
// a key of theirs (THREAT-MODEL, "Known gaps"). Caught at the user's next
// sign-in; recorded in the ledger, logged at ERROR, and this node stops
// reporting ready until it restarts.
func (s *Service) restorePublicKeys(ctx context.Context, tx store.Tx, u *store.User, id *vault.Identity) error {
	fresh, err := tx.UserByID(ctx, u.ID)
	if err != nil {
		return err
	}
	fresh.BoxPublic, fresh.SignPublic = id.Public().Box, id.Public().Sign
	if err := s.awaitConfirmation(ctx, tx, fresh); err != nil {
		return err
	}
	if err := s.anchorUser(ctx, tx, fresh, event{action: "user.keys_restored", role: "system", subject: u.ID}); err != nil {
		return err
	}
	if err := tx.UpdateUser(ctx, fresh); err != nil {
		return err
	}
	s.tampered.Store(true)
	s.log.Error("a user's public keys in the database were not their keys: restored; find who changed them", "user", u.ID)
	_, err = s.checkpoint(ctx, tx)
	return err
}

// dummySalt stands in for a missing user's salt.
var dummySalt = make([]byte, 16)

// checkPassword derives the verifier and key-encryption key from password.
func (s *Service) checkPassword(ctx context.Context, u *store.User, password string) (vault.Key, bool, error) {
	params, salt, verifier, err := parsePasswordHash(u.Password)
	if err != nil {
		return vault.Key{}, false, errInternal("password hash of %q: %w", u.ID, err)
	}
	got, kek, err := s.passwords.DeriveWith(ctx, params, []byte(password), salt)
	if err != nil {
		return vault.Key{}, false, err
	}
	return kek, subtle.ConstantTimeCompare(got[:], verifier) == 1, nil
}

// hashPassword returns the stored form of a password and its KEK.
func (s *Service) hashPassword(ctx context.Context, password string) (stored string, kek vault.Key, err error) {
	salt, err := vault.NewSalt()
	if err != nil {
		return "", vault.Key{}, err
	}
	verifier, kek, err := s.passwords.Derive(ctx, []byte(password), salt)
	if err != nil {
		return "", vault.Key{}, err
	}
	b64 := base64.RawStdEncoding
	return s.passwords.Params().String() + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(verifier[:]), kek, nil
}

func parsePasswordHash(stored string) (vault.PasswordParams, []byte, []byte, error) {
	i := strings.LastIndexByte(stored, '$')
	if i < 0 {
		return vault.PasswordParams{}, nil, nil, errors.New("malformed password hash")
	}
	j := strings.LastIndexByte(stored[:i], '$')
	if j < 0 {
		return vault.PasswordParams{}, nil, nil, errors.New("malformed password hash")
	}
	params, err := vault.ParsePasswordParams(stored[:j])
	if err != nil {
		return params, nil, nil, err
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(stored[j+1 : i])
	verifier, err2 := base64.RawStdEncoding.DecodeString(stored[i+1:])
	if err := errors.Join(err1, err2); err != nil {
		return params, nil, nil, err
	}
	return params, salt, verifier, nil
}

// Authenticate returns the actor of a session token. Every failure is the
// same 401, so that a client learns nothing about tokens it does not hold.
func (s *Service) Authenticate(ctx context.Context, token string) (*Actor, error) {
	unauth := channel.Errorf(channel.EUNAUTHORIZED, "sign in first")
	raw, err := vault.ParseToken(token)
	if err != nil {
		return nil, unauth
	}
	sid := vault.SessionID(raw)
	now := s.now()
	var actor *Actor
	var touch bool
	err = s.inTx(ctx, false, func(tx store.Tx) error {
		sess, err := tx.SessionByID(ctx, sid[:])
		if errors.Is(err, store.ErrNotFound) {
			return unauth
		} else if err != nil {
			return err
		}
		if sess.ExpiresAt <= micros(now) || sess.IdleUntil <= micros(now) {
			return unauth
		}
		plain, err := vault.Open(vault.SessionKey(raw), vault.AD("session", base64.RawURLEncoding.EncodeToString(sid[:])), sess.Sealed)
		if err != nil {
			return unauth
		}
		var sec sessionSecrets
		if err := decodeSealed(plain, &sec); err != nil {
			return unauth
		}
		u, err := tx.UserByID(ctx, sec.UserID)
		if err != nil || u.Disabled || u.SessionEpoch != sec.Epoch {
			return unauth
		}
		actor = &Actor{User: u, sessionID: sid[:]}
		if len(sec.Identity) > 0 {
			if actor.id, err = s.identities.identity(sid[:], sec.Identity, time.Now(), func() (*vault.Identity, error) { return vault.ParseIdentity(sec.Identity) }); err != nil {
				return unauth
			}
		}
		// Extend the idle deadline only when half of it is spent: a write per
		// request would serialise reads, and coarse times leak less.
		touch = sess.IdleUntil-micros(now) < s.cfg.SessionIdle.Microseconds()/2
		return nil
	})
	if err != nil {
		return nil, err
	}
	if touch {
		err := s.inTx(ctx, true, func(tx store.Tx) error {
			return tx.TouchSession(ctx, sid[:], micros(coarse(now.Add(s.cfg.SessionIdle))))
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return actor, nil
}

// SignOut ends the actor's session.
func (s *Service) SignOut(ctx context.Context, a *Actor) error {
	s.identities.forget(a.sessionID)
	s.offices.forget(a.sessionID)
	s.keys.forget(a.sessionID)
	return s.inTx(ctx, true, func(tx store.Tx) error {
		if err := tx.DeleteSession(ctx, a.sessionID); err != nil {
			return storeErr(err, "the session")
		}
		return s.audit(ctx, tx, event{action: "session.delete", actor: a})
	})
}

// PurgeSessions deletes the sessions past their absolute or idle time-out,
// the background jobs' housekeeping. A session's row holds its user's
// private keys sealed under a key derived from the token; kept, an old
// token (a cookie of a browser profile, an API script's) and any later
// copy of the database (a backup, a pg_dump) would open them. Sessions
// ended by a password change, a reset or a disabling are no longer
// accepted at once, and go with their time-out: rows name no user, so
// that a copy of the database cannot tell whose they are. Nothing is
// recorded: each sign-in and sign-out was, and the rows say no more.
func (s *Service) PurgeSessions(ctx context.Context) (int, error) {
	var n int
	err := s.inTx(ctx, true, func(tx store.Tx) error {
		var err error
		n, err = tx.DeleteExpiredSessions(ctx, micros(s.now()))
		return err
	})
	return n, err
}

// coarse rounds a session's deadline up to the whole minute: stored to
// the microsecond, it would tell whoever holds the database the moment of
// each sign-in and request, next to the memos' activity.
func coarse(t time.Time) time.Time {
	if r := t.Truncate(time.Minute); !r.Equal(t) {
		return r.Add(time.Minute)
	}
	return t
}

// limiter counts failed sign-ins per name (a username, a device, an
// address) on this node. Several app nodes each keep their own count; the
// limit per node still bounds guessing.
//
// An attempt is counted from the moment it is let through (take) until it
// is settled: as a failure (fail), or not (settle, for a right password or
// an attempt whose password was never checked). Attempts under way count
// against the limit with the failures, so that attempts made at once cannot
// all pass before any has failed; but only failures hold a name back for
// the window: attempts under way are settled within seconds.
type limiter struct {
	mu      sync.Mutex
	max     int
	window  time.Duration
	fails   map[string][]time.Time // failures within the window, oldest first
	pending map[string]int         // attempts let through and not settled
}

// limiterNames bounds how many names a limiter tracks.
const limiterNames = 100_000

// pendingWait is how long a refusal for attempts under way asks to wait:
// about as long as a password check takes behind a queue of them.
const pendingWait = 5 * time.Second

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, fails: map[string][]time.Time{}, pending: map[string]int{}}
}

func (l *limiter) recent(name string, now time.Time) []time.Time {
	f := l.fails[name]
	for len(f) > 0 && now.Sub(f[0]) > l.window {
		f = f[1:]
	}
	if len(f) == 0 {
		delete(l.fails, name)
		return nil
	}
	l.fails[name] = f
	return f
}

// take lets an attempt for name through, counted until it is settled, if
// name's failures and attempts under way are within the limit. If not it
// counts nothing and returns how long until an attempt would be let
// through (more than 0), and whether failures (not attempts under way)
// hold name back. A nil limiter, or name "", lets everything through.
func (l *limiter) take(name string, now time.Time) (wait time.Duration, failed bool) {
	if l == nil || name == "" {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.recent(name, now)
	if len(f) >= l.max {
		// The oldest failure that holds the name back leaves first.
		return max(f[len(f)-l.max].Add(l.window).Sub(now), time.Second), true
	}
	if len(f)+l.pending[name] >= l.max {
		return pendingWait, false
	}
	l.pending[name]++
	return 0, false
}

// settle ends an attempt take let through for name, not as a failure.
func (l *limiter) settle(name string) {
	if l == nil || name == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settleLocked(name)
}

func (l *limiter) settleLocked(name string) {
	if l.pending[name] <= 1 {
		delete(l.pending, name)
	} else {
		l.pending[name]--
	}
}

// fail ends an attempt take let through for name as a failure, at now,
// and reports whether this failure brought name to the limit.
func (l *limiter) fail(name string, now time.Time) (reached bool) {
	if l == nil || name == "" {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settleLocked(name)
	f := l.recent(name, now)
	if f == nil {
		l.makeRoom(now)
	}
	f = append(f, now)
	l.fails[name] = f
	return len(f) == l.max
}

// reset ends an attempt take let through for name as a success, which
// forgets name's failures.
func (l *limiter) reset(name string) {
	if l == nil || name == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settleLocked(name)
	delete(l.fails, name)
}

// makeRoom keeps memory bounded under a flood of made-up names without
// forgetting the names under attack: when the limiter is full it drops the
// names with no recent failure, then those with one, two, ..., until half
// the room is free. Names at their limit stay: past the room only by as
// many names as failed sign-ins (each an argon2id check) can fill within
// the window. Attempts under way are as many as requests are.
func (l *limiter) makeRoom(now time.Time) {
	if len(l.fails) < limiterNames {
		return
	}
	for keep := 0; keep < l.max && len(l.fails) > limiterNames/2; keep++ {
		for name := range l.fails {
			if len(l.recent(name, now)) <= keep {
				delete(l.fails, name)
			}
		}
	}
}

// newAddressLimiter counts failed sign-ins per address, max an hour; nil
// for max < 0 (no limit).
func newAddressLimiter(max int) *limiter {
	if max < 0 {
		return nil
	}
	return newLimiter(max, time.Hour)
}

// addressKey is whom an address's failed sign-ins are counted under: an
// IPv4 address, or an IPv6 address's /64 (one machine's network usually
// holds a whole /64); "" for an unknown address.
func addressKey(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return ""
	case a.Unmap().Is4():
		return a.Unmap().String()
	default:
		return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
	}
}
