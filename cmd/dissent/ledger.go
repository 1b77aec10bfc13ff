package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/dissent-channel/dissent/internal/bundle"
	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
)

// readKeyArg reads a key given as a file path or literally.
func readKeyArg(s string) (string, error) {
	if s == "" {
		return "", channel.Invalid("key", "give the ledger's public key with --key (a file such as DATA/ledger.pub, or the key itself)")
	}
	if _, err := note.NewVerifier(strings.TrimSpace(s)); err == nil {
		return strings.TrimSpace(s), nil // the key itself
	}
	b, err := readSmall(s, smallFile)
	if err != nil {
		// Not a key, and no file to read one from: said so, not taken for
		// a key that fails to verify (which reads as tampering).
		return "", channel.Invalid("key", "%q is neither a verifier key nor a file holding one: %v", s, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// smallFile bounds the keys, shares and checkpoints the commands read.
const smallFile = 64 << 10

// cmdVerify checks, offline, an exported memo bundle or a whole exported
// ledger against the ledger's public key. No server, no database.
func cmdVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dissent verify", flag.ContinueOnError)
	key := fs.String("key", "", "the ledger's public key: a file (ledger.pub) or the key text")
	userID := fs.String("user-id", "", "with --nonce: check that the entry is this author's: the submission, for a receipt or bundle (the memo's authorship.user_id, shown to its authors)")
	nonceHex := fs.String("nonce", "", "with --user-id: the memo's authorship.nonce (hex)")
	var witnesses []string
	fs.Func("witness", "a ledger entry's proof: require this witness's cosignature on its checkpoint (a verifier key, or a file holding it); repeat for several", func(v string) error {
		k, err := readKeyArg(v)
		witnesses = append(witnesses, k)
		return err
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return channel.Invalid("path", "usage: dissent verify --key ledger.pub [--user-id ID --nonce HEX] BUNDLE.json|RECEIPT.json|PROOF.json|EXPORT-DIR")
	}
	var nonce []byte
	if *userID != "" || *nonceHex != "" {
		var err error
		if nonce, err = hex.DecodeString(*nonceHex); err != nil || *userID == "" || len(nonce) != ledger.ActorNonceSize {
			return channel.Invalid("nonce", "give --user-id and --nonce together, the nonce as %d hex bytes, as the memo's authorship shows them", ledger.ActorNonceSize)
		}
	}
	vkey, err := readKeyArg(*key)
	if err != nil {
		return err
	}
	path := fs.Arg(0)
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !info.IsDir() && !info.Mode().IsRegular() {
		return channel.Invalid("path", "%s is not a regular file (a pipe or a device would never end)", path)
	}
	if info.IsDir() && len(witnesses) > 0 {
		return channel.Invalid("witness", "--witness checks a ledger entry's proof (PROOF.json); an export is checked against the ledger key alone")
	}
	if info.IsDir() {
		start := time.Now()
		cp, err := ledger.VerifyExport(path, vkey)
		if err != nil {
			return fmt.Errorf("the ledger does NOT verify: %w", err)
		}
		d := time.Since(start)
		fmt.Printf("OK: %d entries of ledger %q verify against the signed checkpoint (root %s) in %s (%.0f entries/s).\n",
			cp.Size, cp.Origin, cp.Root, d.Round(time.Millisecond), float64(cp.Size)/max(d.Seconds(), 1e-9))
		if len(cp.Signers) > 1 {
			fmt.Printf("Signed by: %s\n", strings.Join(cp.Signers, ", "))
		}
		return nil
	}
	if info.Size() > bundle.MaxSize {
		return channel.Invalid("path", "%s is larger than a memo bundle can be", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	// The kind of file, by its members: a bundle has a format, an entry's
	// proof its hashes, a receipt neither. Each is then decoded strictly.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return channel.Invalid("path", "%s is not a receipt, a memo bundle or a ledger entry's proof: %v", path, err)
	}
	_, isBundle := top["format"]
	_, isEntry := top["hashes"]
	isEntry = isEntry && !isBundle
	if len(witnesses) > 0 && !isEntry {
		return channel.Invalid("witness", "--witness checks a ledger entry's proof (PROOF.json), whose checkpoint witnesses cosign; receipts and bundles carry the checkpoint of the moment they were made")
	}
	var rep *bundle.Report
	switch {
	case isBundle:
		bd, err := bundle.Parse(b)
		if err != nil {
			return err
		}
		if rep, err = bundle.Verify(bd, vkey); err != nil {
			return fmt.Errorf("the memo does NOT verify: %w", err)
		}
	case isEntry:
		e, err := bundle.VerifyEntry(b, vkey, witnesses...)
		if err != nil {
			return fmt.Errorf("the ledger entry does NOT verify: %w", err)
		}
		if len(e.Cosigners) < len(witnesses) {
			return fmt.Errorf("the ledger entry verifies, but its checkpoint is NOT cosigned by every witness given (cosigned by: %s): ask for the proof at the size of the cosigned checkpoint, GET /api/v1/ledger/cosigned", orDefault(strings.Join(e.Cosigners, ", "), "none"))
		}
		fmt.Printf("OK: ledger entry %d is in the checkpoint of %d entries signed by %q.\n", e.Index, e.TreeSize, e.Origin)
		if len(e.Cosigners) > 0 {
			fmt.Printf("Cosigned by the witnesses %s: they saw this ledger sign that tree.\n", strings.Join(e.Cosigners, ", "))
		}
		fmt.Println(describeLeaf(e.Leaf))
		return checkAuthorship(e.Leaf.ActorCommit, fmt.Sprintf("ledger entry %d", e.Index), "the step was theirs", *userID, nonce)
	default:
		if rep, err = bundle.VerifyReceipt(b, vkey); err != nil {
			return fmt.Errorf("the receipt does NOT verify: %w", err)
		}
		fmt.Printf("OK: the receipt of memo %s, revision %d, content hash %s\n", rep.MemoID, rep.Revision, rep.ContentHash)
		fmt.Printf("Submitted %s: ledger entry %d is in the checkpoint of %d entries signed by %q.\n",
			rep.SubmittedAt.Format(time.RFC3339), rep.LedgerIndex, rep.TreeSize, rep.Origin)
		return checkSubmitter(rep, *userID, nonce)
	}
	fmt.Printf("OK: memo %s, revision %d, content hash %s\n", rep.MemoID, rep.Revision, rep.ContentHash)
	// The signatures prove the text was signed by the keys the bundle
	// carries; a key anchor proves the ledger recorded that key as the
	// key of an account of that name (when its keys were made).
	if len(rep.Signers) == 0 {
		// The office's or a reader's export of an anonymous report, or a
		// draft no one signed: the text is what the ledger recorded, but
		// nothing here says who signed it.
		fmt.Println("The bundle carries no signature: it proves the text, not who signed it (an anonymous report, exported by its office or a reader, carries none).")
	} else {
		fmt.Printf("%d signatures verify: %s\n", len(rep.Signers), strings.Join(rep.Signers, ", "))
	}
	if len(rep.Anchored) > 0 {
		fmt.Printf("The ledger recorded each of these keys, when it was made or put back, as the key of the account of that name: %s\n", strings.Join(rep.Anchored, ", "))
	}
	if len(rep.AnchoredOnUpgrade) > 0 {
		fmt.Printf("Of these, the keys of %s were recorded when the deployment upgraded (December 2026), as its database held them then, not when they were made.\n", strings.Join(rep.AnchoredOnUpgrade, ", "))
	}
	if rest := slices.DeleteFunc(slices.Clone(rep.Signers), func(n string) bool { return slices.Contains(rep.Anchored, n) }); len(rest) > 0 {
		fmt.Printf("Only the bundle says whose keys these are (no key anchor): %s. To be sure of such a signer, check their key with them.\n", strings.Join(rest, ", "))
	}
	if rep.TreeSize > 0 {
		fmt.Printf("Submitted %s: ledger entry %d is in the checkpoint of %d entries signed by %q.\n",
			rep.SubmittedAt.Format(time.RFC3339), rep.LedgerIndex, rep.TreeSize, rep.Origin)
	} else {
		fmt.Println("Not submitted: there is no ledger entry to check.")
	}
	return checkSubmitter(rep, *userID, nonce)
}

// checkSubmitter checks, when a nonce was given, that the memo's
// submission entry commits to userID.
func checkSubmitter(rep *bundle.Report, userID string, nonce []byte) error {
	if nonce != nil && rep.ActorCommit == "" {
		return errors.New("there is no submission entry to check the authorship against: the memo was not submitted")
	}
	err := checkAuthorship(rep.ActorCommit, "the submission's ledger entry", "they submitted it", userID, nonce)
	if err != nil {
		return fmt.Errorf("%w (a co-signer's part is in their own memo.sign entry: save its proof, GET /api/v1/ledger/proof?index=N, and verify that)", err)
	}
	return nil
}

// checkAuthorship checks, when a nonce was given, that commit, the actor
// commitment of the entry named, is userID's with that nonce; claim says
// what that shows.
func checkAuthorship(commit, entry, claim, userID string, nonce []byte) error {
	if nonce == nil {
		return nil
	}
	if commit == "" {
		return fmt.Errorf("%s commits to no author: it records a step by someone who is named, or by the system", entry)
	}
	if !ledger.CheckActorCommitment(commit, userID, nonce) {
		return fmt.Errorf("%s does NOT commit to user %s with that nonce", entry, userID)
	}
	fmt.Printf("%s commits to user %s: %s.\n", upperFirst(entry), userID, claim)
	return nil
}

// describeLeaf says in a line what a verified leaf records.
func describeLeaf(l ledger.Leaf) string {
	var b strings.Builder
	fmt.Fprintf(&b, "It records %s", l.Action)
	if l.Count > 1 {
		fmt.Fprintf(&b, " (%d of them)", l.Count)
	}
	if l.Memo != "" {
		fmt.Fprintf(&b, " of memo %s", l.Memo)
	}
	if l.Revision != 0 {
		fmt.Fprintf(&b, ", revision %d", l.Revision)
	}
	if l.Content != "" {
		fmt.Fprintf(&b, " (content hash %s)", l.Content)
	}
	fmt.Fprintf(&b, ", at %s", l.Time.Format(time.RFC3339))
	switch {
	case l.ActorCommit != "":
		fmt.Fprintf(&b, ", by %s hidden behind a commitment", withArticle(orDefault(l.Role, "member")))
	case l.Actor != "":
		fmt.Fprintf(&b, ", by %s, user %s", withArticle(orDefault(l.Role, "user")), l.Actor)
	}
	return b.String() + "."
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// withArticle puts "a" or "an" before a role's name.
func withArticle(role string) string {
	if strings.ContainsAny(role[:1], "aeiou") {
		return "an " + role
	}
	return "a " + role
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// cmdMemo is `dissent memo verify`, the name issue 4 gives the check.
func cmdMemo(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		return channel.Invalid("command", "usage: dissent memo verify --key ledger.pub BUNDLE.json")
	}
	return cmdVerify(ctx, args[1:])
}

// cmdLedger exports the ledger, and lets a witness cosign checkpoints.
func cmdLedger(ctx context.Context, args []string) error {
	usage := channel.Invalid("command", "usage: dissent ledger export --data DIR --to OUT | ledger witness-key --name NAME | ledger cosign --key WITNESS.key --log-key ledger.pub --state LAST [--proof PROOF.json] CHECKPOINT")
	if len(args) == 0 {
		return usage
	}
	// Each subcommand lists, and takes, its own flags only.
	var fs *flag.FlagSet
	var data, to, name, key, logKey, state, proofFile *string
	switch args[0] {
	case "export":
		fs, data = flags("ledger export")
		to = fs.String("to", "", "the folder to write the tiles and checkpoint into")
	case "witness-key":
		fs = flag.NewFlagSet("dissent ledger witness-key", flag.ContinueOnError)
		name = fs.String("name", "", "the witness's name, e.g. oig.example.gov")
	case "cosign":
		fs = flag.NewFlagSet("dissent ledger cosign", flag.ContinueOnError)
		key = fs.String("key", "", "the witness's signing key file")
		logKey = fs.String("log-key", "", "the ledger's public key (file or text)")
		state = fs.String("state", "", "the file where this witness keeps the last checkpoint it cosigned (created the first time); without it the witness cannot catch a fork")
		proofFile = fs.String("proof", "", "a consistency proof from the last checkpoint cosigned to this one, as GET /api/v1/ledger/consistency?from=LAST&to=THIS answers it")
	default:
		return usage
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "export":
		if *to == "" {
			return channel.Invalid("to", "say where to write with --to")
		}
		a, err := openApp(ctx, *data, "", false)
		if err != nil {
			return err
		}
		defer a.store.Close()
		cp, err := a.svc.ExportLedger(ctx, *to)
		if err != nil {
			return err
		}
		fmt.Printf("Exported %d entries to %s. Verify with: dissent verify --key %s/ledger.pub %s\n", cp.Size, *to, *data, *to)
		return nil
	case "witness-key":
		if *name == "" {
			return channel.Invalid("name", "name the witness with --name")
		}
		skey, vkey, err := ledger.GenerateKey(*name)
		if err != nil {
			return err
		}
		if strings.ContainsAny(*name, `/\`) {
			return channel.Invalid("name", "the name is also the key file's: no / or \\")
		}
		// A new file only: a key already there may be one whose verifier
		// key is published, and a file made by someone else may be open to
		// others, or a link.
		f, err := os.OpenFile(*name+".key", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return channel.Errorf(channel.ECONFLICT, "%s.key exists: a witness keeps its key; move it away first to make another", *name)
		} else if err != nil {
			return err
		}
		_, err = f.WriteString(skey + "\n")
		if err := errors.Join(err, f.Sync(), f.Close()); err != nil {
			return err
		}
		fmt.Printf("Wrote %s.key (keep it secret). The public key to publish:\n%s\n", *name, vkey)
		return nil
	case "cosign":
		if fs.NArg() != 1 {
			return usage
		}
		skey, err := readSmall(*key, smallFile)
		if err != nil {
			return err
		}
		lk, err := readKeyArg(*logKey)
		if err != nil {
			return err
		}
		msg, err := readSmall(fs.Arg(0), smallFile)
		if err != nil {
			return err
		}
		if *state == "" {
			fmt.Fprintln(os.Stderr, "warning: no --state: this witness keeps no record of what it cosigned, so it cannot tell a fork from the ledger's history")
			out, err := ledger.Cosign(msg, strings.TrimSpace(string(skey)), lk)
			if err != nil {
				return err
			}
			_, err = os.Stdout.Write(out)
			return err
		}
		return cosignAfter(*state, *proofFile, msg, strings.TrimSpace(string(skey)), lk)
	}
	return usage
}

// cosignAfter cosigns msg if it extends the checkpoint kept in the state
// file (by the proof in proofFile), writes the cosigned note to standard
// output, and keeps msg as the state's new last checkpoint.
func cosignAfter(state, proofFile string, msg []byte, skey, logKey string) error {
	last, err := readSmall(state, ledger.MaxCheckpointSize)
	if errors.Is(err, os.ErrNotExist) {
		last = nil // the witness's first checkpoint
	} else if err != nil {
		return err
	}
	var proof tlog.TreeProof
	if proofFile != "" {
		b, err := readSmall(proofFile, 64<<10) // a proof is at most 62 hashes
		if err != nil {
			return err
		}
		var p struct {
			Hashes []string `json:"hashes"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			return channel.Invalid("proof", "%s is not a consistency proof (the JSON GET /api/v1/ledger/consistency answers): %v", proofFile, err)
		}
		for _, h := range p.Hashes {
			hash, err := tlog.ParseHash(h)
			if err != nil {
				return channel.Invalid("proof", "%s: a hash %q: %v", proofFile, h, err)
			}
			proof = append(proof, hash)
		}
	}
	out, err := ledger.CosignAfter(msg, skey, logKey, last, proof)
	if errors.Is(err, ledger.ErrNoProof) {
		return fmt.Errorf("%w: fetch it and give it with --proof FILE", err)
	} else if err != nil {
		return err
	}
	// The state is replaced whole or not at all.
	tmp := state + ".new"
	if err := os.WriteFile(tmp, msg, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, state); err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}

// startupCheck runs the ledger self-check in the background after the
// server starts listening. It reads the whole ledger; afterwards the memory
// it used goes back to the system at once rather than over minutes, so an
// idle server stays small.
func (a *app) startupCheck(ctx context.Context) {
	go func() {
		// First the entries that anchor keys, so that proofs soon stop
		// reading the ledger from its start (service.FollowAnchors).
		if err := a.svc.FollowAnchors(ctx); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error("reading the ledger for the entries that anchor keys", "error", err)
		}
		res, err := a.svc.CheckLedger(ctx, nil)
		debug.FreeOSMemory()
		switch {
		case errors.Is(err, context.Canceled):
		case err != nil:
			a.log.Error("ledger self-check could not run", "error", err)
		case !res.OK:
			a.log.Error("LEDGER TAMPERING DETECTED: /readyz now fails", "problem", res.Problem)
		default:
			a.log.Info("ledger self-check passed", "size", res.Size)
		}
	}()
}
