package upgrade

// A review (helper-42) found: the upgrade test opens each memo's text and verifies its
// bundle, but nothing of release one's rows outside those paths: a
// migration that dropped every item (the office's reply, a reader's
// comment) or zeroed a column (revisions.created_at, items.created_at)
// went unnoticed. These tests compare every row and column release one
// wrote with what the upgraded database holds, and open the reply and the
// comment through the service.

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/config"
	"github.com/dissent-channel/dissent/internal/server"
	"github.com/dissent-channel/dissent/internal/service"
)

func stringsOf(t *testing.T, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) []string {
	t.Helper()
	rows, err := q.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// upgradedCopy copies release one's SQLite folder and migrates it.
func upgradedCopy(t *testing.T) (string, *config.Config) {
	t.Helper()
	data := t.TempDir()
	copyDir(t, "testdata/release1", data)
	cfg, err := config.Load(data, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	st, err := server.OpenStoreMigrating(context.Background(), cfg, true, nil)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return data, cfg
}

// anchoredService opens the store of cfg (applying its migrations, if
// migrate) and a service over it whose keys from before December 2026 are
// anchored, as the process that applies the upgrade anchors them.
func anchoredService(t *testing.T, cfg *config.Config, migrate bool) *service.Service {
	t.Helper()
	ctx := context.Background()
	st, err := server.OpenStore(ctx, cfg, migrate)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, err := server.ReadLedgerKey(cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := server.NewService(cfg, st, key, nil, migrate)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AnchorKeys(ctx); err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestEveryReleaseOneRowSurvives: for every table release one's
// database holds, every row, in every column that the current schema
// still has, is in the upgraded database unchanged (sessions aside, and
// the tables a migration is meant to rewrite).
func TestEveryReleaseOneRowSurvives(t *testing.T) {
	ctx := context.Background()
	data, _ := upgradedCopy(t)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "dissent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A copy of release one's database: the fixture itself is never opened.
	fixture := filepath.Join(t.TempDir(), "release1.db")
	b, err := os.ReadFile("testdata/release1/dissent.db")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fixture, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS r1`, fixture); err != nil {
		t.Fatal(err)
	}
	tables := stringsOf(t, conn, `SELECT name FROM r1.sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT IN ('schema_migrations')`)
	compared := 0
	for _, tb := range tables {
		old := stringsOf(t, conn, `SELECT name FROM pragma_table_info(?, 'r1')`, tb)
		now := stringsOf(t, conn, `SELECT name FROM pragma_table_info(?, 'main')`, tb)
		if len(now) == 0 {
			t.Errorf("table %s of release one is gone after the upgrade", tb)
			continue
		}
		var cols []string
		for _, c := range old {
			if !slices.Contains(now, c) {
				t.Errorf("column %s.%s of release one is gone after the upgrade", tb, c)
				continue
			}
			cols = append(cols, `"`+c+`"`)
		}
		list := strings.Join(cols, ", ")
		var missing, rows int
		if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT `+list+` FROM r1.`+tb+` EXCEPT SELECT `+list+` FROM main.`+tb+`)`).Scan(&missing); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM r1.`+tb).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if missing > 0 {
			t.Errorf("table %s: %d of release one's %d rows are not in the upgraded database as they were", tb, missing, rows)
		}
		compared += rows
	}
	if compared == 0 {
		t.Fatal("release one's database holds no rows: nothing was compared")
	}
}

// TestReleaseOneReplyAndCommentSurvive: the office's reply and a
// principal's comment written by release one read the same after the
// upgrade.
func TestReleaseOneReplyAndCommentSurvive(t *testing.T) {
	ctx := context.Background()
	_, cfg := upgradedCopy(t)
	svc := anchoredService(t, cfg, false)
	tok, _, err := svc.SignIn(ctx, "office", "office-password-1")
	if err != nil {
		t.Fatal(err)
	}
	office, err := svc.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	const replied = "4zlv6b6lk2mixxbeecthwlyu6y" // "Submitted and replied in release one"
	m, err := svc.GetMemo(ctx, office, replied)
	if err != nil {
		t.Fatal(err)
	}
	if m.Reply == nil || m.Reply.Body != "Reply from release one" || m.Reply.RepliedAt.IsZero() {
		t.Errorf("the reply release one wrote reads %+v after the upgrade, want \"Reply from release one\"", m.Reply)
	}
	if !slices.ContainsFunc(m.Comments, func(c service.Comment) bool {
		return c.Body == "Read in release one" && !c.CreatedAt.IsZero()
	}) {
		t.Errorf("the comment release one wrote is not on the memo after the upgrade: %+v", m.Comments)
	}
	if m.CreatedAt.IsZero() || m.CreatedAt.Year() < 2000 {
		t.Errorf("the memo's creation time after the upgrade is %v", m.CreatedAt)
	}
}
