package service_test

import (
	"context"
	"crypto/rand"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/postgres"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// organisation is one organisation's deployment on a shared PostgreSQL
// server: a database of its own, owned by a role of its own that nobody
// else may connect with (OPERATIONS.md, "Many organisations on one
// PostgreSQL server").
type organisation struct {
	name, dsn string
	d         *servicetest.Deployment
}

func openOrganisation(t *testing.T, prefix string) *organisation {
	t.Helper()
	base, admin := storetest.PostgresAdmin(t)
	ctx := context.WithoutCancel(t.Context())
	name := prefix + strings.ToLower(rand.Text())
	for _, stmt := range []string{
		`CREATE ROLE ` + name + ` LOGIN`,
		`CREATE DATABASE ` + name + ` OWNER ` + name,
		`REVOKE ALL ON DATABASE ` + name + ` FROM PUBLIC`,
	} {
		if _, err := admin.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		for _, stmt := range []string{`DROP DATABASE ` + name + ` WITH (FORCE)`, `DROP ROLE ` + name} {
			if _, err := admin.ExecContext(ctx, stmt); err != nil {
				t.Errorf("%s: %v", stmt, err)
			}
		}
	})
	dsn := orgURL(t, base, name, name)
	st, err := postgres.Open(ctx, dsn, postgres.Options{Migrate: true, MaxConns: 4})
	if err != nil {
		t.Fatalf("open and migrate as the organisation's own role: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &organisation{name: name, dsn: dsn, d: servicetest.NewDeployment(t, st)}
}

// orgURL is base with user role and database db.
func orgURL(t *testing.T, base, role, db string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.User, u.Path = url.User(role), "/"+db
	return u.String()
}

// TestOrganisationsShareAPostgreSQLServer: two organisations, each a
// deployment in a database of its own under a role that owns it. The
// migrations run under such a role (no superuser); both deployments work
// and see nothing of each other's. One's role, which that organisation's
// nodes hold, cannot connect to the other's database, cannot stop its
// nodes starting by holding its migration lock (advisory locks are a
// database's own), and reads none of its statistics (how many memos,
// sign-ins, ledger entries: per database too). Review 57 found the last
// two with a schema per organisation in one shared database.
func TestOrganisationsShareAPostgreSQLServer(t *testing.T) {
	a, b := openOrganisation(t, "dissent_org_a_"), openOrganisation(t, "dissent_org_b_")
	ctx := context.WithoutCancel(t.Context())
	base, _ := storetest.PostgresAdmin(t)

	alice := a.d.Member("alice")
	m, _ := a.d.Submitted(alice, "Only for organisation A")
	bAlice := b.d.Member("alice") // the same username, another organisation
	if _, err := b.d.Svc.GetMemo(b.d.Ctx, bAlice, m.ID); channel.ErrorCode(err) != channel.ENOTFOUND {
		t.Errorf("organisation B's alice opens A's memo by its id: %v", err)
	}
	if _, err := b.d.Svc.GetMemo(b.d.Ctx, b.d.Office, m.ID); channel.ErrorCode(err) != channel.ENOTFOUND {
		t.Errorf("organisation B's office opens A's memo by its id: %v", err)
	}
	if _, err := a.d.Svc.GetMemo(a.d.Ctx, a.d.Office, m.ID); err != nil {
		t.Errorf("organisation A's office cannot open its own memo: %v", err)
	}

	// B's role, as B's nodes hold it, against A's database.
	if st, err := postgres.Open(ctx, orgURL(t, base, b.name, a.name), postgres.Options{MaxConns: 1}); err == nil {
		st.Close()
		t.Error("organisation B's role connects to A's database")
	} else if !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("organisation B's role connecting to A's database: %v; want permission denied", err)
	}

	// B's role, in its own database, holds the lock A's nodes take to
	// migrate, by A's schema's name and by its own: A still starts.
	asB, err := postgres.Open(ctx, b.dsn, postgres.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer asB.Close()
	conn, err := asB.Raw().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, schema := range []string{"public", a.name} {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(hashtext('dissent migrations ' || $1))`, schema); err != nil {
			t.Fatal(err)
		}
	}
	start, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if st, err := postgres.Open(start, a.dsn, postgres.Options{Migrate: true, MaxConns: 2}); err != nil {
		t.Errorf("organisation A's node starting while B's role holds the migration locks: %v", err)
	} else {
		st.Close()
	}

	// What PostgreSQL tells a role of the tables it cannot read: B's view
	// of the statistics shows its own database's tables alone.
	var tables int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_all_tables WHERE relname = 'memos'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 1 {
		t.Errorf("organisation B's role sees the statistics of %d memos tables, want its own alone", tables)
	}
}
