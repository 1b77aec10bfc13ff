package ledger

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// MaxCheckpointSize bounds a checkpoint note, body and signatures. note.Open
// caps signatures at 100; this caps the bytes read before it starts.
const MaxCheckpointSize = 64 << 10

// Checkpoint is the content of a signed checkpoint: the ledger's tree head.
type Checkpoint struct {
	Origin  string    // the ledger's name; also the name of its signing key
	Size    int64     // number of leaves
	Root    tlog.Hash // RFC 6962 tree hash of those leaves
	Signers []string  // names of the keys whose valid signatures were found, ledger key first
}

// GenerateKey returns a new Ed25519 note signing key and its verifier key,
// both named origin. Checkpoints are signed under their origin (as C2SP
// tlog-checkpoint recommends), so the name binds a key to one ledger.
func GenerateKey(origin string) (skey, vkey string, err error) {
	if !validOrigin(origin) {
		return "", "", fmt.Errorf("%w: origin %q: want a non-empty name without spaces or '+'", ErrBadCheckpoint, origin)
	}
	skey, vkey, err = note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return "", "", fmt.Errorf("ledger: generate key: %w", err)
	}
	return skey, vkey, nil
}

// KeyName returns the name of a signing key, which must be the origin of
// the checkpoints it signs.
func KeyName(skey string) (string, error) {
	signer, err := note.NewSigner(skey)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	return signer.Name(), nil
}

// ValidOrigin reports whether origin can name the ledger's key and begin
// its checkpoints (config.Check).
func ValidOrigin(origin string) bool { return validOrigin(origin) }

// validOrigin applies note's key-name rules, which also keep the origin on
// one line of the body.
func validOrigin(origin string) bool {
	return origin != "" && len(origin) <= 256 && !strings.ContainsRune(origin, '+') &&
		strings.IndexFunc(origin, unicode.IsSpace) < 0 && strings.IndexFunc(origin, unicode.IsControl) < 0
}

// checkpointBody is the C2SP tlog-checkpoint note text.
func checkpointBody(origin string, size int64, root tlog.Hash) string {
	return origin + "\n" + strconv.FormatInt(size, 10) + "\n" + root.String() + "\n"
}

// SignCheckpoint returns a checkpoint note for the tree of size leaves with
// the given root, signed with skey, whose name must be origin.
func SignCheckpoint(skey string, origin string, size int64, root tlog.Hash) ([]byte, error) {
	if !validOrigin(origin) {
		return nil, fmt.Errorf("%w: origin %q: want a non-empty name without spaces or '+'", ErrBadCheckpoint, origin)
	}
	if size < 0 {
		return nil, fmt.Errorf("%w: size %d", ErrBadCheckpoint, size)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		// note's errors say nothing about the key's bytes; still, don't wrap a
		// message built from secret material.
		return nil, fmt.Errorf("%w: malformed signing key", ErrBadCheckpoint)
	}
	if signer.Name() != origin {
		return nil, fmt.Errorf("%w: key %q cannot sign for origin %q", ErrBadCheckpoint, signer.Name(), origin)
	}
	msg, err := note.Sign(&note.Note{Text: checkpointBody(origin, size, root)}, signer)
	if err != nil {
		return nil, fmt.Errorf("ledger: sign checkpoint: %w", err)
	}
	return msg, nil
}

// OpenCheckpoint parses a checkpoint note and checks its signatures. The first
// vkey is the ledger's: its valid signature is required and its name must be
// the checkpoint's origin. Further vkeys are witnesses: their signatures are
// optional and reported in Signers when present and valid. A signature that
// claims a known key but does not verify makes the whole checkpoint bad.
func OpenCheckpoint(msg []byte, vkeys ...string) (Checkpoint, error) {
	_, cp, err := openCheckpoint(msg, vkeys)
	return cp, err
}

// onceEach refuses a note with two signature lines by one known key:
// note.Open checks the first and passes the others by, while LEDGER.md §3
// has every line that names a known key verify, as a verifier written
// from it does.
func onceEach(msg []byte, verifiers []note.Verifier) error {
	_, sigs, ok := bytes.Cut(msg, []byte("\n\n"))
	if !ok {
		return nil // note.Open says what is wrong
	}
	seen := make([]bool, len(verifiers))
	for _, line := range bytes.Split(sigs, []byte("\n")) {
		name, b64, ok := strings.Cut(strings.TrimPrefix(string(line), "\u2014 "), " ")
		if !ok {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw) < 4 {
			continue
		}
		hash := binary.BigEndian.Uint32(raw)
		for i, v := range verifiers {
			if v.Name() == name && v.KeyHash() == hash {
				if seen[i] {
					return fmt.Errorf("%w: two signature lines by %q", ErrBadCheckpoint, name)
				}
				seen[i] = true
			}
		}
	}
	return nil
}

func openCheckpoint(msg []byte, vkeys []string) (*note.Note, Checkpoint, error) {
	if len(vkeys) == 0 {
		return nil, Checkpoint{}, fmt.Errorf("%w: no ledger key to check it with", ErrBadCheckpoint)
	}
	if len(msg) > MaxCheckpointSize {
		return nil, Checkpoint{}, fmt.Errorf("%w: %d bytes, more than %d", ErrBadCheckpoint, len(msg), MaxCheckpointSize)
	}
	verifiers := make([]note.Verifier, len(vkeys))
	for i, vkey := range vkeys {
		v, err := note.NewVerifier(vkey)
		if err != nil {
			return nil, Checkpoint{}, fmt.Errorf("%w: verifier key %d (%q): %v", ErrBadCheckpoint, i, vkey, err)
		}
		for _, w := range verifiers[:i] {
			if w.Name() == v.Name() && w.KeyHash() == v.KeyHash() {
				return nil, Checkpoint{}, fmt.Errorf("%w: verifier key %q given twice", ErrBadCheckpoint, vkey)
			}
		}
		verifiers[i] = v
	}
	if err := onceEach(msg, verifiers); err != nil {
		return nil, Checkpoint{}, err
	}
	n, err := note.Open(msg, note.VerifierList(verifiers...))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return nil, Checkpoint{}, fmt.Errorf("%w: not signed by %q", ErrBadCheckpoint, verifiers[0].Name())
		}
		return nil, Checkpoint{}, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	signed := make(map[int]bool)
	for _, sig := range n.Sigs {
		for i, v := range verifiers {
			if sig.Name == v.Name() && sig.Hash == v.KeyHash() {
				signed[i] = true
			}
		}
	}
	if !signed[0] {
		return nil, Checkpoint{}, fmt.Errorf("%w: not signed by %q", ErrBadCheckpoint, verifiers[0].Name())
	}
	cp, err := parseCheckpointBody(n.Text)
	if err != nil {
		return nil, Checkpoint{}, err
	}
	if cp.Origin != verifiers[0].Name() {
		return nil, Checkpoint{}, fmt.Errorf("%w: origin %q signed by key %q", ErrBadCheckpoint, cp.Origin, verifiers[0].Name())
	}
	for i, v := range verifiers {
		if signed[i] {
			cp.Signers = append(cp.Signers, v.Name())
		}
	}
	return n, cp, nil
}

// parseCheckpointBody parses "<origin>\n<size>\n<base64 root>\n" followed by
// optional extension lines, which C2SP tlog-checkpoint lets a log add and
// tells verifiers to ignore; this ledger writes none.
func parseCheckpointBody(text string) (Checkpoint, error) {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrBadCheckpoint, what) }
	lines := strings.SplitAfter(text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return Checkpoint{}, bad("body is not three or more newline-terminated lines")
	}
	lines = lines[:len(lines)-1]
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\n")
		if lines[i] == "" {
			return Checkpoint{}, bad("empty line in body")
		}
	}
	origin, sizeText, rootText := lines[0], lines[1], lines[2]
	if !validOrigin(origin) {
		return Checkpoint{}, bad(fmt.Sprintf("origin %q", origin))
	}
	size, err := strconv.ParseInt(sizeText, 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != sizeText {
		return Checkpoint{}, bad(fmt.Sprintf("size %q: want a decimal number without sign or leading zeros", sizeText))
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(rootText)
	if err != nil || len(raw) != tlog.HashSize {
		return Checkpoint{}, bad(fmt.Sprintf("root %q: want a base64 SHA-256 hash", rootText))
	}
	var root tlog.Hash
	copy(root[:], raw)
	if root.String() != rootText {
		return Checkpoint{}, bad(fmt.Sprintf("root %q not in canonical base64", rootText))
	}
	if size == 0 && root != emptyRoot {
		return Checkpoint{}, bad(fmt.Sprintf("root %q of an empty tree: want the empty hash, %s", rootText, emptyRoot))
	}
	return Checkpoint{Origin: origin, Size: size, Root: root}, nil
}

// parseUnverified reads a checkpoint's body without checking any signature:
// for Export, which writes a checkpoint the caller already holds and checks it
// against the ledger's own hashes instead.
func parseUnverified(msg []byte) (Checkpoint, error) {
	if len(msg) > MaxCheckpointSize {
		return Checkpoint{}, fmt.Errorf("%w: %d bytes, more than %d", ErrBadCheckpoint, len(msg), MaxCheckpointSize)
	}
	_, err := note.Open(msg, nil)
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) {
		return Checkpoint{}, fmt.Errorf("%w: not a signed note", ErrBadCheckpoint)
	}
	return parseCheckpointBody(unverified.Note.Text)
}

// Cosign adds a witness's signature to a checkpoint note, keeping the
// signatures already there. It first checks the note is a well-formed
// checkpoint validly signed by logVkey, the ledger's key: a witness vouches
// that it saw what the ledger signed, never for text the ledger did not sign.
// A witness that keeps the last checkpoint it cosigned uses CosignAfter.
func Cosign(msg []byte, witnessSkey, logVkey string) ([]byte, error) {
	n, _, err := openCheckpoint(msg, []string{logVkey})
	if err != nil {
		return nil, err
	}
	signer, err := note.NewSigner(witnessSkey)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed witness signing key", ErrBadCheckpoint)
	}
	out, err := note.Sign(n, signer)
	if err != nil {
		return nil, fmt.Errorf("ledger: cosign: %w", err)
	}
	if len(out) > MaxCheckpointSize {
		return nil, fmt.Errorf("%w: cosigned note would be %d bytes, more than %d", ErrBadCheckpoint, len(out), MaxCheckpointSize)
	}
	return out, nil
}

// ErrNoProof: CosignAfter was given a larger tree than the last one
// cosigned and no consistency proof. It is an ErrBadProof.
var ErrNoProof = fmt.Errorf("%w: none given", ErrBadProof)

// CosignAfter is Cosign for a witness that keeps the last checkpoint it
// cosigned (last; nil the first time): it cosigns msg only if the tree msg
// signs extends that one, by proof, a consistency proof from the last
// checkpoint's size to msg's (GET /api/v1/ledger/consistency). A smaller
// tree (a rollback), one of the same size with another root, or a larger
// one with a proof that does not hold is refused with ErrBadProof (one with
// none, with ErrNoProof, which is one): shown to two witnesses that keep state, a fork is
// caught by at least one of them.
func CosignAfter(msg []byte, witnessSkey, logVkey string, last []byte, proof tlog.TreeProof) ([]byte, error) {
	_, cur, err := openCheckpoint(msg, []string{logVkey})
	if err != nil {
		return nil, err
	}
	if last != nil {
		_, prev, err := openCheckpoint(last, []string{logVkey})
		if err != nil {
			return nil, fmt.Errorf("the witness's last checkpoint: %w", err)
		}
		// A larger tree with no proof at all is most likely a witness
		// that forgot to fetch one: asked for, not called a fork.
		if len(proof) == 0 && prev.Size > 0 && cur.Size > prev.Size {
			return nil, fmt.Errorf("%w: the checkpoint of %d entries extends the last one cosigned, of %d, only if a consistency proof says so (GET /api/v1/ledger/consistency?from=%d&to=%d)", ErrNoProof, cur.Size, prev.Size, prev.Size, cur.Size)
		}
		if err := VerifyConsistency(prev, cur, proof); err != nil {
			return nil, fmt.Errorf("refusing to cosign: the checkpoint of %d entries does not extend the last one cosigned, of %d: %w", cur.Size, prev.Size, err)
		}
	}
	return Cosign(msg, witnessSkey, logVkey)
}

// CheckKeyPair checks that skey, a ledger signing key, is the private half
// of vkey, by signing a checkpoint of the empty tree and verifying it.
func CheckKeyPair(skey, vkey string) error {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return fmt.Errorf("%w: the ledger's public key %q is malformed", ErrBadCheckpoint, vkey)
	}
	empty, err := tlog.TreeHash(0, nil)
	if err != nil {
		return err
	}
	msg, err := SignCheckpoint(skey, v.Name(), 0, empty)
	if err == nil {
		_, err = OpenCheckpoint(msg, vkey)
	}
	if err != nil {
		return fmt.Errorf("ledger: the signing key is not the private half of %q", vkey)
	}
	return nil
}

// AddCosignatures returns stored, a checkpoint the ledger signed, with the
// cosignatures of witnesses (their verifier keys) that msg carries and
// stored does not, and the names of the witnesses it added. msg must be
// validly signed by logVkey over the very same text: the ledger's own
// signature on another tree of the same size is evidence of a fork, and is
// reported as ErrTampered. Signatures by keys that are not witnesses' are
// dropped; those stored already are kept as they are.
func AddCosignatures(stored, msg []byte, logVkey string, witnesses []string) ([]byte, Checkpoint, []string, error) {
	keys := append([]string{logVkey}, witnesses...)
	have, cp, err := openCheckpoint(stored, keys)
	if err != nil {
		return nil, cp, nil, fmt.Errorf("the stored checkpoint: %w", err)
	}
	offered, ocp, err := openCheckpoint(msg, keys)
	if err != nil {
		return nil, cp, nil, err
	}
	if offered.Text != have.Text {
		return nil, cp, nil, fmt.Errorf("%w: the ledger key signed two different trees of %d entries (roots %s and %s): a fork", ErrTampered, cp.Size, cp.Root, ocp.Root)
	}
	log, err := note.NewVerifier(logVkey)
	if err != nil {
		return nil, cp, nil, fmt.Errorf("%w: the ledger key: %v", ErrBadCheckpoint, err)
	}
	seen := map[string]bool{}
	for _, s := range append(have.Sigs, have.UnverifiedSigs...) {
		seen[s.Name+"\x00"+strconv.FormatUint(uint64(s.Hash), 10)] = true
	}
	var added []string
	for _, s := range offered.Sigs { // verified, by the ledger or a witness
		k := s.Name + "\x00" + strconv.FormatUint(uint64(s.Hash), 10)
		if seen[k] || s.Name == log.Name() && s.Hash == log.KeyHash() {
			continue
		}
		seen[k] = true
		have.Sigs = append(have.Sigs, s)
		added = append(added, s.Name)
	}
	out, err := note.Sign(have)
	if err != nil {
		return nil, cp, nil, fmt.Errorf("ledger: cosignatures: %w", err)
	}
	if len(out) > MaxCheckpointSize {
		return nil, cp, nil, fmt.Errorf("%w: with its cosignatures the checkpoint would be %d bytes, more than %d", ErrBadCheckpoint, len(out), MaxCheckpointSize)
	}
	cp, err = OpenCheckpoint(out, keys...)
	return out, cp, added, err
}

// MaxWitnesses bounds the witnesses a deployment names: every checkpoint
// handed out carries up to one cosignature of each.
const MaxWitnesses = 16

// CheckWitnessKeys checks a deployment's witnesses' verifier keys: each a
// note verifier key ("name+hash+key", as `dissent ledger witness-key`
// prints it), at most MaxWitnesses, no name twice and none the origin's.
func CheckWitnessKeys(origin string, vkeys []string) error {
	if len(vkeys) > MaxWitnesses {
		return fmt.Errorf("%d witnesses: at most %d", len(vkeys), MaxWitnesses)
	}
	names := map[string]bool{origin: true}
	for _, k := range vkeys {
		v, err := note.NewVerifier(k)
		if err != nil {
			return fmt.Errorf("witness key %q: not a verifier key (name+hash+key): %v", k, err)
		}
		if names[v.Name()] {
			return fmt.Errorf("witness key %q: the name %q is the ledger's or another witness's", k, v.Name())
		}
		names[v.Name()] = true
	}
	return nil
}
