package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dissent-channel/dissent/internal/backup"
	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/config"
	"github.com/dissent-channel/dissent/internal/server"
	"github.com/dissent-channel/dissent/internal/store/postgres"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
)

func cmdBackup(ctx context.Context, args []string) error {
	fs, data, _ := flags("backup")
	to := fs.String("to", "", "an empty folder for the snapshot")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *to == "" {
		return channel.Invalid("to", "say where the snapshot goes with --to")
	}
	cfg, err := loadConfig(*data, "")
	if err != nil {
		return err
	}
	st, err := server.OpenStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := backup.Snapshot(ctx, st.(*sqlstore.DB), *data, *to); err != nil {
		return err
	}
	fmt.Printf("Snapshot written to %s (database, ledger keys, configuration, latest checkpoint).\n", *to)
	fmt.Println("It holds the ledger's signing key and password hashes: store it as a secret.")
	return nil
}

func cmdRestore(ctx context.Context, args []string) error {
	fs, data, _ := flags("restore")
	from := fs.String("from", "", "the snapshot folder written by `dissent backup`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" {
		return channel.Invalid("from", "name the snapshot with --from")
	}
	if err := backup.Restore(*from, *data); err != nil {
		return err
	}
	cfg, err := loadConfig(*data, "")
	if err != nil {
		return err
	}
	st, err := server.OpenStore(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer st.Close()
	note, err := os.ReadFile(filepath.Join(*data, "checkpoint"))
	if err != nil {
		return err
	}
	vkey, err := os.ReadFile(filepath.Join(*data, "ledger.pub"))
	if err != nil {
		return err
	}
	cp, err := backup.Verify(ctx, st, note, strings.TrimSpace(string(vkey)))
	if err != nil {
		return err
	}
	fmt.Printf("Restored into %s and verified: the ledger extends the snapshot's signed checkpoint of %d entries.\n", *data, cp.Size)
	return nil
}

// cmdExport moves an embedded deployment to PostgreSQL.
func cmdExport(ctx context.Context, args []string) error {
	fs, data, _ := flags("export")
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
	src, err := server.OpenStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, url, postgres.Options{Migrate: true})
	if err != nil {
		return err
	}
	defer dst.Close()
	var note []byte
	tx, err := src.Begin(ctx, false)
	if err != nil {
		return err
	}
	_, note, err = tx.LatestCheckpoint(ctx)
	_ = tx.Rollback()
	if err != nil {
		return fmt.Errorf("the source has no checkpoint to verify against: %w", err)
	}
	n, err := backup.Copy(ctx, src.(*sqlstore.DB), dst)
	if err != nil {
		return err
	}
	vkey, err := os.ReadFile(filepath.Join(*data, "ledger.pub"))
	if err != nil {
		return err
	}
	cp, err := backup.Verify(ctx, dst, note, strings.TrimSpace(string(vkey)))
	if err != nil {
		return err
	}
	fmt.Printf("Copied %d rows to PostgreSQL; its ledger verifies against the signed checkpoint of %d entries.\n", n, cp.Size)
	fmt.Println("Point the deployment at it: store.driver = \"postgres\" and store.url in dissent.toml (or DISSENT_STORE_URL).")
	return nil
}
