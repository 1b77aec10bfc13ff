package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dissent-channel/dissent/internal/backup"
	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/config"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/server"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/postgres"
	"github.com/dissent-channel/dissent/internal/store/sqlite"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
)

func cmdBackup(ctx context.Context, args []string) error {
	fs, data := flags("backup")
	to := fs.String("to", "", "an empty folder for the snapshot")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *to == "" {
		return channel.Invalid("to", "say where the snapshot goes with --to")
	}
	cfg, st, err := openStore(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	signed, err := firstCheckpoint(ctx, cfg, st)
	if err != nil {
		return err
	}
	if err := backup.Snapshot(ctx, st.(*sqlstore.DB), *data, cfg.LedgerKeyPath(), *to); err != nil {
		return err
	}
	if signed {
		fmt.Println("The deployment had no signed checkpoint yet: signed its first, so that a restore can be verified.")
	}
	if _, err := os.Stat(filepath.Join(*to, "ledger.key")); err == nil {
		fmt.Printf("Snapshot written to %s (database, ledger keys, configuration, latest checkpoint).\n", *to)
		fmt.Println("It holds the ledger's signing key and password hashes: store it as a secret.")
	} else {
		fmt.Printf("Snapshot written to %s (database, ledger.pub, configuration, latest checkpoint).\n", *to)
		fmt.Printf("It holds no signing key: there is none at %s. Keep the deployment's signing key safe apart from it. It holds password hashes: store it as a secret.\n", cfg.LedgerKeyPath())
	}
	return nil
}

// firstCheckpoint signs a checkpoint on a deployment that has none yet (the
// scheduled job has not run since set-up), and says whether it did. A
// snapshot without one could be restored only unverified, and a careful
// operator backs a new deployment up before anything else; signing one is
// what the server does anyway, with the key in the data folder.
func firstCheckpoint(ctx context.Context, cfg *config.Config, st store.Store) (bool, error) {
	tx, err := st.Begin(ctx, false)
	if err != nil {
		return false, err
	}
	_, _, err = tx.LatestCheckpoint(ctx)
	_ = tx.Rollback()
	if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	key, err := server.ReadLedgerKey(cfg)
	if err != nil {
		return false, fmt.Errorf("the deployment has no signed checkpoint yet, and none can be signed without its ledger key: %w; start the server once (it signs one), then back up", err)
	}
	svc, err := server.NewService(cfg, st, key, logger(), false)
	if err != nil {
		return false, err
	}
	if _, err := svc.SignCheckpoint(ctx); err != nil {
		return false, fmt.Errorf("sign the first checkpoint: %w", err)
	}
	return true, nil
}

func cmdRestore(ctx context.Context, args []string) error {
	fs, data := flags("restore")
	from := fs.String("from", "", "the snapshot folder written by `dissent backup`")
	pg := fs.String("postgres", "", "instead of --from: check a PostgreSQL database that pg_restore brought back (its URL), with the ledger.pub of --data, and sign everyone out of it")
	keyFile := fs.String("key", "", "a copy of ledger.pub kept apart from the backups: the snapshot's key must be it")
	cpFile := fs.String("checkpoint", "", "a signed checkpoint kept apart from the backups (a published one, or an author's receipt): the restored ledger must extend it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*from == "") == (*pg == "") {
		return channel.Invalid("from", "name the snapshot with --from, or the database pg_restore brought back with --postgres")
	}
	var pins backup.Pins
	if *keyFile != "" {
		b, err := readSmall(*keyFile, 64<<10)
		if err != nil {
			return channel.Invalid("key", "read the key: %v", err)
		}
		pins.Key = strings.TrimSpace(string(b))
	}
	if *cpFile != "" {
		var err error
		if pins.Checkpoint, err = readCheckpointArg(*cpFile); err != nil {
			return err
		}
	}
	if *pg != "" {
		return restorePostgres(ctx, *pg, *data, pins, *keyFile, *cpFile)
	}
	// The restored folder's dissent.db, as SQLite, whatever the snapshot's
	// dissent.toml or the environment (DISSENT_STORE_URL) select: restore
	// verifies the file it copied, never another database.
	r, err := backup.Restore(ctx, *from, *data, pins)
	if err != nil {
		return err
	}
	fmt.Printf("Restored into %s and verified:\n", *data)
	fmt.Println("  - the database passes SQLite's integrity and foreign-key checks;")
	fmt.Printf("  - every ledger hash recomputes from the leaves, and the ledger extends the snapshot's signed checkpoint of %d entries, the latest in its database;\n", r.Checkpoint.Size)
	fmt.Println("  - ledger.pub is the key the database was set up with;")
	if r.SigningKey {
		fmt.Println("  - ledger.key is ledger.pub's private half;")
	} else {
		fmt.Println("  - the snapshot has no ledger.key: put the deployment's signing key in the data folder as ledger.key (or where channel.ledger_key_file says) before serving;")
	}
	if r.KeyElsewhere {
		fmt.Printf("  - the snapshot's dissent.toml reads the signing key from %s (channel.ledger_key_file), not from the ledger.key restored: the server refuses to start unless that key is ledger.pub's private half;\n", r.KeyPath)
	}
	if r.Witnesses > 0 {
		fmt.Printf("  - the snapshot's dissent.toml trusts %d witnesses' keys (channel.witnesses): check they are the ones you chose;\n", r.Witnesses)
	}
	if r.PinnedKey {
		fmt.Printf("  - ledger.pub is the key given with --key (%s);\n", *keyFile)
	}
	if r.Pinned != nil {
		fmt.Printf("  - the ledger extends the checkpoint of %d entries given with --checkpoint (%s);\n", r.Pinned.Size, *cpFile)
	}
	if r.KeysUnanchored {
		// The snapshot is from before keys were anchored, and restoring
		// it applied the migration that starts anchoring: anchor its keys
		// now, as the snapshot just verified holds them.
		n, err := anchorRestored(ctx, *data, r.SigningKey)
		if err != nil {
			fmt.Printf("The snapshot is from before public keys were anchored in the ledger, and they could not be anchored now (%v): before serving it, run `dissent keys anchor --trust-database --data %s` once.\n", err, *data)
		} else {
			fmt.Printf("  - the snapshot is from before public keys were anchored in the ledger: anchored them as it holds them (%d);\n", n)
		}
	}
	if r.Migrations > 0 {
		fmt.Printf("Applied %d migrations to the snapshot's database.\n", r.Migrations)
	}
	fmt.Printf("Dropped %d sign-in sessions: everyone signs in again.\n", r.Sessions)
	if !r.PinnedKey && r.Pinned == nil {
		fmt.Println("The snapshot was checked only against itself: one whose keys, checkpoint and ledger were all replaced together would pass too.")
		fmt.Println("Check it against what you kept apart: --key with a copy of ledger.pub stored away from the backups, or --checkpoint with a checkpoint published or in an author's receipt.")
	}
	return nil
}

// restorePostgres is `dissent restore --postgres URL`.
func restorePostgres(ctx context.Context, url, data string, pins backup.Pins, keyFile, cpFile string) error {
	vkey, err := os.ReadFile(filepath.Join(data, "ledger.pub"))
	if err != nil {
		return fmt.Errorf("the restored database is verified with the ledger.pub of the data folder (--data): %w", err)
	}
	st, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := backup.RestoredPostgres(ctx, st, strings.TrimSpace(string(vkey)), pins)
	if err != nil {
		return err
	}
	fmt.Println("Checked the restored PostgreSQL database:")
	fmt.Println("  - its schema holds no trigger, rule, view, policy, function or operator, and calls none outside pg_catalog, as the migrations make it;")
	fmt.Printf("  - every ledger hash recomputes from the leaves, and the ledger extends its latest signed checkpoint, of %d entries;\n", r.Checkpoint.Size)
	fmt.Printf("  - %s is the key the database was set up with;\n", filepath.Join(data, "ledger.pub"))
	if r.PinnedKey {
		fmt.Printf("  - it is the key given with --key (%s);\n", keyFile)
	}
	if r.Pinned != nil {
		fmt.Printf("  - the ledger extends the checkpoint of %d entries given with --checkpoint (%s);\n", r.Pinned.Size, cpFile)
	}
	fmt.Printf("Dropped %d sign-in sessions: everyone signs in again.\n", r.Sessions)
	if !r.PinnedKey && r.Pinned == nil {
		fmt.Println("The database was checked only against itself and the data folder: check it against what you kept apart, with --key or --checkpoint.")
	}
	return nil
}

// readCheckpointArg reads a checkpoint note from a file: the note itself,
// or a receipt (JSON), whose checkpoint it takes.
func readCheckpointArg(path string) ([]byte, error) {
	b, err := readSmall(path, 4*ledger.MaxCheckpointSize)
	if err != nil {
		return nil, channel.Invalid("checkpoint", "read the checkpoint: %v", err)
	}
	if strings.HasPrefix(strings.TrimSpace(string(b)), "{") {
		var receipt struct {
			Checkpoint string `json:"checkpoint"`
		}
		if err := json.Unmarshal(b, &receipt); err != nil || receipt.Checkpoint == "" {
			return nil, channel.Invalid("checkpoint", "%s is JSON but not a receipt with a checkpoint", path)
		}
		return []byte(receipt.Checkpoint), nil
	}
	return b, nil
}

// readSmall reads a regular file of at most max bytes.
func readSmall(path string, max int64) ([]byte, error) {
	// Looked at before it is opened: opening a named pipe waits for a
	// writer, for ever if none comes.
	if info, err := os.Stat(path); err != nil {
		return nil, err
	} else if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil {
		return nil, err
	} else if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(b)) > max {
		err = fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return b, err
}

// anchorRestored anchors the keys of the SQLite store restored into data,
// with the ledger key restored beside it.
func anchorRestored(ctx context.Context, data string, haveKey bool) (int, error) {
	if !haveKey {
		return 0, errors.New("the snapshot has no ledger.key")
	}
	cfg, err := loadConfig(data, "")
	if err != nil {
		return 0, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(data, "dissent.db"), sqlite.Options{})
	if err != nil {
		return 0, err
	}
	defer st.Close()
	return anchorKeys(ctx, cfg, st)
}

// checkTarget refuses a target database that holds tables not Dissent's
// (backup.CheckTarget), before the migrations add Dissent's.
func checkTarget(ctx context.Context, src *sqlstore.DB, url string) error {
	raw, err := sql.Open("pgx", url)
	if err != nil {
		return fmt.Errorf("postgres: open: %w", err)
	}
	defer raw.Close()
	return backup.CheckTarget(ctx, src, raw)
}

// cmdExport moves an embedded deployment to PostgreSQL.
func cmdExport(ctx context.Context, args []string) error {
	fs, data := flags("export")
	to := fs.String("to", "", "the target: `postgres` (with the URL as the next argument)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *to != "postgres" || fs.NArg() != 1 {
		return channel.Invalid("to", "usage: dissent export --data DIR --to postgres postgres://USER@HOST/DB")
	}
	url := fs.Arg(0)
	cfg, err := config.Load(*data, os.Getenv)
	if err != nil {
		return err
	}
	cfg.Store.Driver = "sqlite"
	if err := storeIsThere(cfg); err != nil {
		return err
	}
	src, err := server.OpenStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer src.Close()
	vkey, err := os.ReadFile(filepath.Join(*data, "ledger.pub"))
	if err != nil {
		return fmt.Errorf("the copy is verified with the data folder's ledger.pub: %w", err)
	}
	if err := checkTarget(ctx, src.(*sqlstore.DB), url); err != nil {
		return err
	}
	dst, err := postgres.Open(ctx, url, postgres.Options{Migrate: true})
	if err != nil {
		return err
	}
	defer dst.Close()
	// The checkpoint is the latest of the state copied, read in the same
	// read transaction as every table.
	n, note, err := backup.Copy(ctx, src.(*sqlstore.DB), dst)
	if err != nil {
		return err
	}
	cp, err := backup.Verify(ctx, dst, note, strings.TrimSpace(string(vkey)))
	if err != nil {
		if cerr := backup.Clear(ctx, dst); cerr != nil {
			return fmt.Errorf("%w; and the unverified copy could not be deleted from the target (%v): create a new database before you export again", err, cerr)
		}
		return fmt.Errorf("%w (the unverified copy was deleted from the target)", err)
	}
	fmt.Printf("Copied %d rows to PostgreSQL; its ledger verifies against the signed checkpoint of %d entries.\n", n, cp.Size)
	fmt.Println("Sign-in sessions were not copied: everyone signs in again.")
	fmt.Println("Point the deployment at it: store.driver = \"postgres\" and store.url in dissent.toml (or DISSENT_STORE_URL).")
	return nil
}
