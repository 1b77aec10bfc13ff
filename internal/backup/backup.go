// Package backup takes consistent online snapshots of an embedded
// deployment, restores them into an empty data folder, and moves an
// embedded deployment to PostgreSQL. Every restore and move is verified
// against the ledger's signed checkpoint before it is declared done.
package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dissent-channel/dissent/internal/config"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlite"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
)

// Files copied beside the database: the ledger's keys and the configuration.
// The recovery shares are not: they belong with their custodians.
var keyFiles = []string{"ledger.key", "ledger.pub", "dissent.toml"}

// maxSmall caps the files beside the database: a key, a checkpoint or a
// configuration is a few kilobytes, and a snapshot folder is not trusted
// to hand restore a file that fills the memory or the disk.
const maxSmall = 1 << 20

// settingLedgerVKey is the setting in which set-up recorded the ledger's
// verifier key (service's settingLedgerVKey).
const settingLedgerVKey = "ledger.vkey"

// Snapshot writes a consistent copy of a running SQLite deployment into
// out, which must be empty or absent: the database by VACUUM INTO (a
// transactionally consistent copy taken while the server runs), the
// ledger's keys, the configuration, and the copy's latest signed
// checkpoint as `checkpoint`. The deployment must hold a signed checkpoint
// (see cmd/dissent's backup, which signs one on a deployment that has none
// yet). A snapshot that fails leaves nothing at out (buildInPlace).
//
// The signing key is read from keyPath (channel.ledger_key_file, which
// may be outside the data folder; "" for data's ledger.key) and kept in the
// snapshot as ledger.key.
func Snapshot(ctx context.Context, db *sqlstore.DB, data, keyPath, out string) error {
	if keyPath == "" {
		keyPath = filepath.Join(data, "ledger.key")
	}
	if db.Dialect() != "sqlite" {
		return errors.New("backup: snapshots are for the embedded store; back PostgreSQL up with pg_dump (docs/OPERATIONS.md)")
	}
	return buildInPlace(out, "writing", func(tmp string) error {
		dbPath := filepath.Join(tmp, "dissent.db")
		// VACUUM INTO writes into an empty file as it finds it, so
		// creating it first is what keeps the copy at 0600.
		f, err := os.OpenFile(dbPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if err := f.Close(); err != nil {
			return err
		}
		if _, err := db.Raw().ExecContext(ctx, `VACUUM INTO ?`, dbPath); err != nil {
			return fmt.Errorf("backup: copy the database: %w", err)
		}
		// The checkpoint is read from the copy, not the live store: one
		// signed between the two would otherwise be the copy's latest, and
		// restore requires the snapshot's checkpoint to be its database's
		// latest.
		cp, err := latestIn(ctx, dbPath)
		if err != nil {
			return err
		}
		for _, f := range keyFiles {
			from := filepath.Join(data, f)
			if f == "ledger.key" {
				from = keyPath
			}
			// The data folder is the operator's own: a key linked in from a
			// secrets mount is followed (still only to a plain file).
			if err := copyFile(from, filepath.Join(tmp, f), maxSmall, true); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		return writeFile(filepath.Join(tmp, "checkpoint"), cp)
	})
}

// latestIn reads the latest checkpoint of the SQLite database at path.
func latestIn(ctx context.Context, path string) ([]byte, error) {
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		return nil, fmt.Errorf("backup: open the copy: %w", err)
	}
	defer st.Close()
	var cp []byte
	err = inTx(ctx, st, func(tx store.Tx) error {
		var err error
		_, cp, err = tx.LatestCheckpoint(ctx)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errors.New("backup: the deployment has no signed checkpoint yet to verify a restore against; sign one first (`dissent backup` does when the ledger key is in the data folder)")
	} else if err != nil {
		return nil, fmt.Errorf("backup: latest checkpoint: %w", err)
	}
	return cp, nil
}

// Verify checks a store against note, a checkpoint that must be its latest,
// signed with vkey: that vkey is the key the store was set up with
// (setting ledger.vkey); that the store holds no later signed checkpoint
// (a ledger whose tail was cut off, handed over with an older genuine
// checkpoint, would otherwise verify); every stored hash recomputed from
// the leaves; no ledger row past the ledger's head; and that the ledger
// extends the checkpoint.
func Verify(ctx context.Context, st store.Store, note []byte, vkey string) (ledger.Checkpoint, error) {
	cp, err := ledger.OpenCheckpoint(note, vkey)
	if err != nil {
		return cp, fmt.Errorf("backup: the checkpoint: %w", err)
	}
	var size int64
	err = inTx(ctx, st, func(tx store.Tx) error {
		stored, err := tx.Setting(ctx, settingLedgerVKey)
		if errors.Is(err, store.ErrNotFound) {
			return errors.New("backup: the database records no ledger key (setting ledger.vkey): it was never set up")
		} else if err != nil {
			return err
		}
		if string(stored) != vkey {
			return fmt.Errorf("backup: ledger.pub (%q) is not the key the database was set up with (%q): the key files are another deployment's", vkey, stored)
		}
		_, latestNote, err := tx.LatestCheckpoint(ctx)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("backup: the database holds no signed checkpoint, though the one given is of %d entries", cp.Size)
		} else if err != nil {
			return err
		}
		latest, err := ledger.OpenCheckpoint(latestNote, vkey)
		if err != nil {
			return fmt.Errorf("backup: the database's latest checkpoint: %w", err)
		}
		switch {
		case latest.Size > cp.Size:
			return fmt.Errorf("backup: the database holds a signed checkpoint of %d entries, later than the one given of %d: the ledger's tail may have been cut off and an older checkpoint put in its place; do not use this copy", latest.Size, cp.Size)
		case latest.Size != cp.Size || latest.Root != cp.Root:
			return fmt.Errorf("backup: the checkpoint given (%d entries) is not the database's latest (%d entries)", cp.Size, latest.Size)
		}
		ls := tx.LedgerStorage("", "")
		if err := ledger.SelfCheck(ctx, ls, &cp); err != nil {
			return fmt.Errorf("backup: the ledger does not verify: %w", err)
		}
		if err := ledger.CheckConsistent(ctx, ls, cp); err != nil {
			return fmt.Errorf("backup: the ledger does not verify: %w", err)
		}
		if size, err = ledgerSize(ctx, ls); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return cp, err
	}
	if err := pastHead(ctx, st, size); err != nil {
		return cp, err
	}
	return cp, nil
}

// Extends checks that the store's ledger extends note, a checkpoint signed
// with vkey that was kept apart from the store (an author's receipt, a
// published checkpoint): a store rewritten together with its own
// checkpoints passes Verify, but not this.
func Extends(ctx context.Context, st store.Store, note []byte, vkey string) (ledger.Checkpoint, error) {
	cp, err := ledger.OpenCheckpoint(note, vkey)
	if err != nil {
		return cp, fmt.Errorf("backup: the checkpoint kept apart: %w", err)
	}
	err = inTx(ctx, st, func(tx store.Tx) error {
		ls := tx.LedgerStorage("", "")
		n, err := ledgerSize(ctx, ls)
		if err != nil {
			return err
		}
		if n < cp.Size {
			return fmt.Errorf("backup: the ledger has %d entries, fewer than the %d of the checkpoint kept apart: the copy is older than that checkpoint, or its tail was cut off", n, cp.Size)
		}
		if err := ledger.CheckConsistent(ctx, ls, cp); err != nil {
			return fmt.Errorf("backup: the ledger does not extend the checkpoint kept apart: %w", err)
		}
		return nil
	})
	return cp, err
}

func ledgerSize(ctx context.Context, ls store.LedgerStorage) (int64, error) {
	if sz, ok := ls.(ledger.Sizer); ok {
		return sz.Size(ctx)
	}
	return ls.LockedSize(ctx)
}

// pastHead fails when the ledger's tables hold rows past its head of size
// leaves. The ledger reads only up to its head, so such rows would pass
// every other check, yet they are not what the checkpoint signs: a copy
// read while a writer appended, or rows put there by hand.
func pastHead(ctx context.Context, st store.Store, size int64) error {
	db, ok := st.(*sqlstore.DB)
	if !ok {
		return nil
	}
	for _, c := range []struct {
		table string
		from  int64
	}{
		{"ledger_leaves", size},
		{"ledger_hashes", tlog.StoredHashCount(size)},
		{"ledger_details", size},
	} {
		var n int64
		if err := db.Raw().QueryRowContext(ctx, db.Rebind(`SELECT COUNT(*) FROM `+c.table+` WHERE idx >= ?`), c.from).Scan(&n); err != nil {
			return fmt.Errorf("backup: count %s: %w", c.table, err)
		}
		if n > 0 {
			return fmt.Errorf("backup: %s holds %d rows past the ledger's head of %d entries: the copy is not one consistent state of the ledger", c.table, n, size)
		}
	}
	return nil
}

// Pins are what a restore is checked against besides the snapshot itself,
// kept apart from it by the operator or an author.
type Pins struct {
	Key        string // the ledger's public key: the snapshot's ledger.pub must be it
	Checkpoint []byte // a checkpoint signed with that key: the ledger must extend it
}

// keyAnchorMigration is server.KeyAnchorMigration (this package is below
// server).
const keyAnchorMigration = "0007_keys_anchor.sql"

// Restored says what a restore checked.
type Restored struct {
	Checkpoint ledger.Checkpoint  // the snapshot's, the latest in its database
	SigningKey bool               // ledger.key was in the snapshot (and is ledger.pub's private half)
	PinnedKey  bool               // ledger.pub is Pins.Key
	Pinned     *ledger.Checkpoint // Pins.Checkpoint, which the ledger extends
	Migrations int                // migrations applied to the snapshot's database
	// KeysUnanchored: the migration that starts anchoring public keys in
	// the ledger was among them, so the snapshot's keys are not anchored
	// yet (`dissent keys anchor --trust-database` does it).
	KeysUnanchored bool
	Sessions       int // sign-in sessions dropped
	// KeyElsewhere: the snapshot's dissent.toml reads the signing key from
	// KeyPath (channel.ledger_key_file), not from the ledger.key restored.
	KeyElsewhere bool
	KeyPath      string
	Witnesses    int // witnesses' keys the snapshot's dissent.toml trusts
}

// Restore copies a snapshot into data, which must be empty or absent, and
// verifies it there: SQLite's integrity and foreign-key checks; ledger.pub
// is the database's own key (and Pins.Key when given) and ledger.key its
// private half; the checkpoint is the database's latest and the ledger
// extends it (and Pins.Checkpoint when given). Sign-in sessions are
// dropped. The copy is built in a temporary folder beside data and renamed
// into place only once it verifies, so a failed restore leaves nothing.
//
// The database is always the snapshot's dissent.db, opened as SQLite:
// neither the snapshot's dissent.toml nor the environment may point the
// checks at another database.
func Restore(ctx context.Context, from, data string, pins Pins) (*Restored, error) {
	for _, f := range []string{"dissent.db", "checkpoint", "ledger.pub"} {
		if _, err := os.Lstat(filepath.Join(from, f)); err != nil {
			return nil, fmt.Errorf("backup: %s is not a snapshot (no %s)", from, f)
		}
	}
	var r *Restored
	err := buildInPlace(data, "restoring", func(tmp string) error {
		if err := copyFile(filepath.Join(from, "dissent.db"), filepath.Join(tmp, snapshotDB), 0, false); err != nil {
			return err
		}
		for _, f := range append([]string{"checkpoint"}, keyFiles...) {
			if err := copyFile(filepath.Join(from, f), filepath.Join(tmp, f), maxSmall, false); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		cfg, err := snapshotConfig(tmp)
		if err != nil {
			return err
		}
		if r, err = verifyRestored(ctx, tmp, pins); err != nil {
			return err
		}
		if cfg != nil {
			r.KeyElsewhere = cfg.Channel.LedgerKey != "" && cfg.LedgerKeyPath() != filepath.Join(tmp, "ledger.key")
			if r.KeyElsewhere {
				r.KeyPath = cfg.Channel.LedgerKey
			}
			r.Witnesses = len(cfg.Channel.Witnesses)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// RestoredPostgres checks a PostgreSQL database that pg_restore brought
// back from a dump, as Restore checks a snapshot, and drops its sign-in
// sessions: the dump's schema holds no trigger or rule of anyone's (one
// could act in the restored deployment, as on a snapshot); its ledger
// extends its latest signed checkpoint, signed with vkey, the key it was
// set up with; and, given, Pins.Key is vkey and the ledger extends
// Pins.Checkpoint.
func RestoredPostgres(ctx context.Context, st *sqlstore.DB, vkey string, pins Pins) (*Restored, error) {
	if st.Dialect() != "postgres" {
		return nil, errors.New("backup: RestoredPostgres is for a PostgreSQL store")
	}
	foreign, err := queryStrings(ctx, st.Raw(), sqlForeignSchema)
	if err != nil {
		return nil, fmt.Errorf("backup: the restored database's schema: %w", err)
	}
	if len(foreign) > 0 {
		return nil, fmt.Errorf("backup: the restored database holds what no migration makes (%s): the dump was changed; restore another", strings.Join(foreign, "; "))
	}
	r := &Restored{}
	if pins.Key != "" {
		if vkey != strings.TrimSpace(pins.Key) {
			return nil, fmt.Errorf("backup: ledger.pub (%q) is not the key given (%q): this database is not of the ledger you know", vkey, strings.TrimSpace(pins.Key))
		}
		r.PinnedKey = true
	}
	res, err := st.Raw().ExecContext(ctx, `DELETE FROM sessions`)
	if err != nil {
		return nil, fmt.Errorf("backup: drop the sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	r.Sessions = int(n)
	var cp []byte
	err = inTx(ctx, st, func(tx store.Tx) error {
		var err error
		_, cp, err = tx.LatestCheckpoint(ctx)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errors.New("backup: the restored database has no signed checkpoint to verify it against")
	} else if err != nil {
		return nil, err
	}
	if r.Checkpoint, err = Verify(ctx, st, cp, vkey); err != nil {
		return nil, err
	}
	if pins.Checkpoint != nil {
		p, err := Extends(ctx, st, pins.Checkpoint, vkey)
		if err != nil {
			return nil, err
		}
		r.Pinned = &p
	}
	return r, nil
}

// sqlForeignSchema lists what, in the current schema of a PostgreSQL
// database, no migration makes and could act in the deployment: triggers,
// rules, views, policies, functions and operators; any function or
// operator outside pg_catalog that a column's default or generated value,
// a constraint (a domain's too), an index or a type of the schema calls;
// and, in the whole database, event triggers (which run at the next DDL,
// such as an upgrade's migration) and casts by a function outside
// pg_catalog. The migrations make none of them.
const sqlForeignSchema = `WITH ours AS (SELECT oid FROM pg_namespace WHERE nspname = current_schema()),
	called AS (
		SELECT d.classid, d.objid, d.refclassid, d.refobjid FROM pg_depend d
		WHERE d.refclassid IN ('pg_proc'::regclass, 'pg_operator'::regclass)
		AND (d.classid = 'pg_attrdef'::regclass AND d.objid IN (SELECT a.oid FROM pg_attrdef a JOIN pg_class c ON c.oid = a.adrelid WHERE c.relnamespace IN (SELECT oid FROM ours))
			OR d.classid = 'pg_constraint'::regclass AND d.objid IN (SELECT oid FROM pg_constraint WHERE connamespace IN (SELECT oid FROM ours))
			OR d.classid = 'pg_class'::regclass AND d.objid IN (SELECT oid FROM pg_class WHERE relnamespace IN (SELECT oid FROM ours))
			OR d.classid = 'pg_type'::regclass AND d.objid IN (SELECT oid FROM pg_type WHERE typnamespace IN (SELECT oid FROM ours))))
	SELECT 'trigger ' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
		WHERE c.relnamespace IN (SELECT oid FROM ours) AND NOT t.tgisinternal
	UNION ALL SELECT 'rule ' || rulename FROM pg_rules WHERE schemaname = current_schema()
	UNION ALL SELECT 'view ' || viewname FROM pg_views WHERE schemaname = current_schema()
	UNION ALL SELECT 'policy ' || policyname FROM pg_policies WHERE schemaname = current_schema()
	UNION ALL SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace IN (SELECT oid FROM ours)
	UNION ALL SELECT 'operator ' || o.oid::regoperator::text FROM pg_operator o WHERE o.oprnamespace IN (SELECT oid FROM ours)
	UNION ALL SELECT DISTINCT 'a call of ' || p.oid::regprocedure::text FROM called d JOIN pg_proc p ON d.refclassid = 'pg_proc'::regclass AND p.oid = d.refobjid
		WHERE p.pronamespace <> 'pg_catalog'::regnamespace
	UNION ALL SELECT DISTINCT 'a use of ' || o.oid::regoperator::text FROM called d JOIN pg_operator o ON d.refclassid = 'pg_operator'::regclass AND o.oid = d.refobjid
		WHERE o.oprnamespace <> 'pg_catalog'::regnamespace
	UNION ALL SELECT 'event trigger ' || evtname FROM pg_event_trigger
	UNION ALL SELECT 'cast ' || format_type(c.castsource, NULL) || ' as ' || format_type(c.casttarget, NULL) || ' by ' || p.oid::regprocedure::text
		FROM pg_cast c JOIN pg_proc p ON p.oid = c.castfunc WHERE p.pronamespace <> 'pg_catalog'::regnamespace`

// snapshotConfig reads the snapshot's dissent.toml, copied into dir, if it
// has one. Restore verifies the snapshot's own database, so it refuses a
// configuration that would serve another: a snapshot's dissent.toml is
// as little trusted as its database.
func snapshotConfig(dir string) (*config.Config, error) {
	if _, err := os.Lstat(filepath.Join(dir, "dissent.toml")); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	// Read, not checked: settings the environment completes (the base URL
	// for mail, say) are not the restoring machine's to give.
	cfg, err := config.Read(dir, func(string) string { return "" })
	if err != nil {
		return nil, fmt.Errorf("backup: the snapshot's dissent.toml: %w", err)
	}
	if cfg.Store.Driver != "sqlite" || cfg.Store.URL != "" {
		return nil, fmt.Errorf("backup: the snapshot's dissent.toml names the store %s (its url not repeated here: it may hold a password), and restore verifies and restores the embedded database only: take [store] out of the snapshot's dissent.toml, then restore it (a PostgreSQL deployment is backed up with pg_dump: docs/OPERATIONS.md)", cfg.Store.Driver)
	}
	return cfg, nil
}

// buildInPlace fills dir, which must be empty or absent, through build,
// which writes into a new folder beside it; only once build succeeded is
// that folder synced and renamed into place. A failure leaves nothing
// behind, so the same command can simply be run again. The folder is
// 0700: a snapshot holds password hashes and the signing key.
func buildInPlace(dir, doing string, build func(tmp string) error) error {
	dir = filepath.Clean(dir)
	exists, err := emptyOrAbsent(dir)
	if err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+"."+doing+"-")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := build(tmp); err != nil {
		return err
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	// os.Rename does not replace a directory, even an empty one.
	if exists {
		if err := os.Remove(dir); err != nil {
			return fmt.Errorf("backup: make way for the new folder: %w (name a folder that does not exist yet)", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	done = true
	return syncDir(parent)
}

// snapshotDB is the snapshot's database while a restore rebuilds the
// folder's own from it.
const snapshotDB = "snapshot.db"

// verifyRestored runs Restore's checks on the folder dir, whose
// snapshot.db it rebuilds into a new dissent.db first.
func verifyRestored(ctx context.Context, dir string, pins Pins) (*Restored, error) {
	r := &Restored{}
	path := filepath.Join(dir, "dissent.db")
	if err := rebuild(ctx, filepath.Join(dir, snapshotDB), path, r); err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		return nil, err
	}
	open := true
	defer func() {
		if open {
			_ = st.Close()
		}
	}()
	vkey, err := os.ReadFile(filepath.Join(dir, "ledger.pub"))
	if err != nil {
		return nil, err
	}
	pub := strings.TrimSpace(string(vkey))
	if pins.Key != "" {
		if pub != strings.TrimSpace(pins.Key) {
			return nil, fmt.Errorf("backup: the snapshot's ledger.pub (%q) is not the key given (%q): this snapshot is not of the ledger you know", pub, strings.TrimSpace(pins.Key))
		}
		r.PinnedKey = true
	}
	switch skey, err := os.ReadFile(filepath.Join(dir, "ledger.key")); {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := ledger.CheckKeyPair(strings.TrimSpace(string(skey)), pub); err != nil {
			return nil, fmt.Errorf("%w: the snapshot's ledger.key is another deployment's; receipts it signed would not verify", err)
		}
		r.SigningKey = true
	}
	cp, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		return nil, err
	}
	if r.Checkpoint, err = Verify(ctx, st, cp, pub); err != nil {
		return nil, err
	}
	if pins.Checkpoint != nil {
		p, err := Extends(ctx, st, pins.Checkpoint, pub)
		if err != nil {
			return nil, err
		}
		r.Pinned = &p
	}
	open = false
	if err := st.Close(); err != nil {
		return nil, err
	}
	return r, syncFile(path)
}

// rebuild makes the database at path, new, from the snapshot's at from,
// which it then deletes: a database migrated afresh, into which the rows
// of every table the migrations make are copied, the sign-in sessions
// excepted (a session copied with the snapshot would outlive a password
// changed since). The snapshot's schema is not trusted more than its rows:
// a trigger, view or changed table in it, kept, would act in the restored
// deployment after its ledger was checked (a trigger on the sessions'
// deletion could rewrite a leaf), so none of it is carried over, and a
// table the migrations do not make is refused.
func rebuild(ctx context.Context, from, path string, r *Restored) error {
	// Checked before the migrations, which copy some tables and could carry
	// damaged rows over into tables that look sound.
	if err := checkIntegrity(ctx, from); err != nil {
		return err
	}
	src, err := sqlite.Open(ctx, from, sqlite.Options{Migrate: true, Migrated: func(name string, _ time.Duration) {
		r.Migrations++
		r.KeysUnanchored = r.KeysUnanchored || name == keyAnchorMigration
	}})
	if err != nil {
		return err
	}
	err = src.Raw().QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions`).Scan(&r.Sessions)
	if err := errors.Join(err, src.Close()); err != nil {
		return fmt.Errorf("backup: the snapshot's database: %w", err)
	}
	dst, err := sqlite.Open(ctx, path, sqlite.Options{Migrate: true})
	if err != nil {
		return err
	}
	err = copyAttached(ctx, dst.Raw(), from)
	if err := errors.Join(err, dst.Close()); err != nil {
		return err
	}
	for _, f := range []string{from, from + "-wal", from + "-shm"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// copyAttached copies, in one transaction, the rows of every table of db
// (but sessions) from the same table of the SQLite database at from.
func copyAttached(ctx context.Context, db *sql.DB, from string) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS snapshot`, from); err != nil {
		return fmt.Errorf("backup: open the snapshot's database: %w", err)
	}
	defer func() {
		if _, derr := conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE snapshot`); err == nil && derr != nil {
			err = derr
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	ours, err := tablesOf(ctx, tx, "main")
	if err != nil {
		return err
	}
	theirs, err := tablesOf(ctx, tx, "snapshot")
	if err != nil {
		return err
	}
	for _, t := range theirs {
		if !slices.Contains(ours, t) {
			return fmt.Errorf("backup: the snapshot's database has a table %q that no migration makes: it is not a Dissent database, or someone changed it (restore another snapshot)", t)
		}
	}
	// The migrations seed some rows (the ledger's head); the snapshot's
	// replace them.
	if _, err := tx.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
		return err
	}
	for _, t := range ours {
		if withoutRows[t] {
			continue
		}
		cols, err := columnsOf(ctx, tx, t)
		if err != nil {
			return err
		}
		list := strings.Join(cols, ", ")
		if _, err := tx.ExecContext(ctx, `DELETE FROM main.`+t); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO main.`+t+` (`+list+`) SELECT `+list+` FROM snapshot.`+t); err != nil {
			return fmt.Errorf("backup: copy the snapshot's %s: %w", t, err)
		}
	}
	return tx.Commit()
}

// tablesOf lists the tables of schema (main, or an attached database's
// name) that hold the deployment's rows, in an order that respects foreign
// keys.
func tablesOf(ctx context.Context, tx *sql.Tx, schema string) ([]string, error) {
	names, err := queryStrings(ctx, tx, `SELECT name FROM `+schema+`.sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'schema_migrations'`)
	return inTableOrder(names), err
}

// columnsOf names the columns of main's table t.
func columnsOf(ctx context.Context, tx *sql.Tx, t string) ([]string, error) {
	cols, err := queryStrings(ctx, tx, `SELECT name FROM pragma_table_info(?, 'main')`, t)
	for i, c := range cols {
		cols[i] = `"` + c + `"`
	}
	return cols, err
}

// checkIntegrity runs SQLite's own checks on the database file at path: a
// damaged page or index, or a row that refers to one that is not there,
// would otherwise restore as verified, since the ledger checks read only
// the ledger's tables.
func checkIntegrity(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=query_only(1)")
	if err != nil {
		return err
	}
	defer db.Close()
	var problems []string
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return fmt.Errorf("backup: the database does not pass SQLite's integrity check: %w", err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return fmt.Errorf("backup: the database does not pass SQLite's integrity check: %w", err)
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	err = errors.Join(rows.Err(), rows.Close())
	if err != nil || len(problems) > 0 {
		return fmt.Errorf("backup: the database does not pass SQLite's integrity check (restore another snapshot): %s", summary(problems, err))
	}
	rows, err = db.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return fmt.Errorf("backup: the database's foreign-key check: %w", err)
	}
	for rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fkid int64
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			rows.Close()
			return fmt.Errorf("backup: the database's foreign-key check: %w", err)
		}
		problems = append(problems, fmt.Sprintf("a row of %s (rowid %d) refers to a row of %s that is not there", table, rowid.Int64, parent))
	}
	err = errors.Join(rows.Err(), rows.Close())
	if err != nil || len(problems) > 0 {
		return fmt.Errorf("backup: the database does not pass SQLite's foreign-key check (restore another snapshot): %s", summary(problems, err))
	}
	return nil
}

// summary is the first few problems SQLite reported, and how many more.
func summary(problems []string, err error) string {
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 5 {
		return strings.Join(problems[:5], "; ") + fmt.Sprintf("; and %d more", len(problems)-5)
	}
	return strings.Join(problems, "; ")
}

// Tables in an order that respects foreign keys. Tables this list does not
// name are copied after it, so a later migration's table is not forgotten.
var tableOrder = []string{"users", "settings", "sessions", "group_keys", "memos", "revisions", "revision_headings", "items", "access", "withheld",
	"author_index", "mailbox", "ledger_head", "ledger_leaves", "ledger_hashes", "ledger_details", "checkpoints", "notifications"}

// withoutRows are tables whose rows are not copied: a moved deployment
// makes everyone sign in again.
var withoutRows = map[string]bool{"sessions": true}

// Copy moves every row of an embedded deployment into an empty, migrated
// PostgreSQL store, in one transaction on the target, and returns the
// latest checkpoint it copied, to Verify the target against. The source is
// read in one read transaction, one consistent state even if a server
// writes meanwhile (the documented procedure still stops it first: writes
// after the copy would be lost).
func Copy(ctx context.Context, from, to *sqlstore.DB) (rows int, latest []byte, err error) {
	src, dst := from.Raw(), to.Raw()
	// ReadOnly begins a deferred transaction: its first read fixes the
	// snapshot every later read sees, without taking the writer's lock.
	stx, err := src.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = stx.Rollback() }()
	tables, err := sqliteTables(ctx, stx)
	if err != nil {
		return 0, nil, err
	}
	err = stx.QueryRowContext(ctx, `SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1`).Scan(&latest)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, errors.New("backup: the source has no signed checkpoint to verify the copy against: start the server once and let it sign one (or `dissent backup`, which signs one), then export")
	} else if err != nil {
		return 0, nil, err
	}
	tx, err := dst.BeginTx(ctx, nil)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = tx.Rollback() }()
	// Every table the copy fills must be empty, not only users: a node
	// started on the target first writes settings and ledger rows.
	for _, table := range tables {
		if table == "ledger_head" { // the migration seeds it
			continue
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
			return 0, nil, fmt.Errorf("backup: the target database: %w", err)
		} else if n > 0 {
			return 0, nil, fmt.Errorf("backup: the target database must be empty, and its table %s has %d rows: create a new database (was a server started on it?)", table, n)
		}
	}
	// The migration seeded the ledger head; the source's replaces it.
	if _, err := tx.ExecContext(ctx, `DELETE FROM ledger_head`); err != nil {
		return 0, nil, err
	}
	for _, table := range tables {
		if withoutRows[table] {
			continue
		}
		c, err := copyTable(ctx, stx, tx, table)
		if err != nil {
			return rows, nil, fmt.Errorf("backup: copy %s: %w", table, err)
		}
		rows += c
	}
	return rows, latest, tx.Commit()
}

// CheckTarget refuses a PostgreSQL database, not yet migrated, whose
// schema holds a table an embedded deployment's copy would not fill:
// another application's database, named by mistake, which would get the
// password hashes, sealed memos and ledger beside its own tables.
func CheckTarget(ctx context.Context, from *sqlstore.DB, to *sql.DB) error {
	stx, err := from.Raw().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	ours, err := sqliteTables(ctx, stx)
	_ = stx.Rollback()
	if err != nil {
		return err
	}
	theirs, err := queryStrings(ctx, to, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`)
	if err != nil {
		return fmt.Errorf("backup: the target database: %w", err)
	}
	others := slices.DeleteFunc(theirs, func(t string) bool { return t == "schema_migrations" || slices.Contains(ours, t) })
	if len(others) > 0 {
		return fmt.Errorf("backup: the target database must be empty, and it holds tables that are not Dissent's (%s): create a new database for Dissent", strings.Join(others, ", "))
	}
	return nil
}

// Clear deletes every row an export copied into the PostgreSQL store to,
// whose copy did not verify, so that the same export can run again: the
// tables stay, empty but for the ledger's head as its migration seeded it.
func Clear(ctx context.Context, to *sqlstore.DB) error {
	tx, err := to.Raw().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	tables, err := queryStrings(ctx, tx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name != 'schema_migrations'`)
	if err != nil {
		return err
	}
	if len(tables) > 0 {
		if _, err := tx.ExecContext(ctx, `TRUNCATE `+strings.Join(tables, ", ")); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_head (id, size) VALUES (1, 0)`); err != nil {
		return err
	}
	return tx.Commit()
}

func sqliteTables(ctx context.Context, tx *sql.Tx) ([]string, error) {
	return tablesOf(ctx, tx, "main")
}

// querier is what queryStrings runs on: a database, a connection or a
// transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryStrings returns the one text column of a query's rows.
func queryStrings(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rs, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var v string
		if err := rs.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rs.Err()
}

// inTableOrder puts the tables of tableOrder first, in its order, and the
// others after them.
func inTableOrder(names []string) []string {
	var out []string
	for _, t := range tableOrder {
		if slices.Contains(names, t) {
			out = append(out, t)
		}
	}
	for _, t := range names {
		if !slices.Contains(tableOrder, t) {
			out = append(out, t)
		}
	}
	return out
}

func copyTable(ctx context.Context, src, dst *sql.Tx, table string) (int, error) {
	rs, err := src.QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return 0, err
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return 0, err
	}
	marks := make([]string, len(cols))
	for i := range cols {
		marks[i] = fmt.Sprintf("$%d", i+1)
	}
	insert := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES (` + strings.Join(marks, ", ") + `)`
	n := 0
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, v := range vals {
			// SQLite's driver reads an empty BLOB as a nil []byte, which
			// pgx would send as NULL (an account awaiting its first
			// sign-in has empty keys); SQL NULL scans as an untyped nil.
			if b, ok := v.([]byte); ok && b == nil {
				vals[i] = []byte{}
			}
		}
		if _, err := dst.ExecContext(ctx, insert, vals...); err != nil {
			return n, err
		}
		n++
	}
	return n, rs.Err()
}

func inTx(ctx context.Context, st store.Store, fn func(store.Tx) error) error {
	tx, err := st.Begin(ctx, false)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	return fn(tx)
}

// emptyOrAbsent fails unless dir is an empty folder or does not exist,
// and says whether it exists.
func emptyOrAbsent(dir string) (exists bool, err error) {
	// The new folder is renamed into dir's place: a link there would be
	// replaced, and the folder it leads to left empty.
	if info, err := os.Lstat(dir); err == nil && info.Mode()&os.ModeSymlink != 0 {
		return true, fmt.Errorf("backup: %s is a symbolic link: name the folder it leads to", dir)
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if len(entries) > 0 {
		return true, fmt.Errorf("backup: %s is not empty", dir)
	}
	return true, nil
}

// copyFile copies the regular file from into a new file to, streaming,
// and syncs it; max > 0 caps its size. Anything but a regular file is
// refused: a snapshot folder is not trusted, and a link to /dev/zero, a
// device or a FIFO would fill the memory or hang the restore. A symbolic
// link is refused too, unless follow (and then it must lead to a regular
// file).
func copyFile(from, to string, max int64, follow bool) error {
	stat := os.Lstat
	if follow {
		stat = os.Stat
	}
	info, err := stat(from)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("backup: %s is not a regular file (%s); a snapshot holds only plain files", from, info.Mode().Type())
	}
	if max > 0 && info.Size() > max {
		return fmt.Errorf("backup: %s is %d bytes, more than such a file can be (%d)", from, info.Size(), max)
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	// The file opened must be the one checked, not one put in its place since.
	if now, err := in.Stat(); err != nil || !os.SameFile(info, now) {
		return fmt.Errorf("backup: %s changed while it was being copied", from)
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	var r io.Reader = in
	if max > 0 {
		r = io.LimitReader(in, max+1)
	}
	n, err := io.Copy(out, r)
	if err == nil && max > 0 && n > max {
		err = fmt.Errorf("backup: %s grew past %d bytes while it was being copied", from, max)
	}
	if err == nil {
		err = out.Sync()
	}
	return errors.Join(err, out.Close())
}

// writeFile writes a new file of b, 0600, and syncs it.
func writeFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// syncDir makes the names written into dir durable.
func syncDir(dir string) error {
	return syncFile(dir)
}
