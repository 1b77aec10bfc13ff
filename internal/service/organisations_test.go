package service_test

import (
	"context"
	"crypto/rand"
	"net/url"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/postgres"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestOrganisationsShareAPostgreSQLServer is OPERATIONS.md's "Many
// organisations on one PostgreSQL server": each organisation a deployment
// of its own, in a schema of its own, connecting as a database role that
// owns that schema and nothing else. The migrations run under such a role
// (no superuser), both deployments work, and one's role, which a node of
// that organisation holds, cannot read or change the other's rows: not
// its ledger, not its memos, not its users.
func TestOrganisationsShareAPostgreSQLServer(t *testing.T) {
	base, admin := storetest.PostgresAdmin(t)
	ctx := context.WithoutCancel(t.Context())
	type org struct {
		schema, dsn string
		d           *servicetest.Deployment
	}
	open := func(prefix string) *org {
		t.Helper()
		name := prefix + strings.ToLower(rand.Text())
		for _, stmt := range []string{
			`CREATE ROLE ` + name + ` LOGIN`,
			`CREATE SCHEMA ` + name + ` AUTHORIZATION ` + name,
		} {
			if _, err := admin.ExecContext(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		t.Cleanup(func() {
			for _, stmt := range []string{`DROP SCHEMA ` + name + ` CASCADE`, `DROP ROLE ` + name} {
				if _, err := admin.ExecContext(ctx, stmt); err != nil {
					t.Errorf("%s: %v", stmt, err)
				}
			}
		})
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.User(name)
		q := u.Query()
		q.Set("search_path", name)
		u.RawQuery = q.Encode()
		st, err := postgres.Open(ctx, u.String(), postgres.Options{Migrate: true, MaxConns: 4})
		if err != nil {
			t.Fatalf("open and migrate as the organisation's own role: %v", err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return &org{schema: name, dsn: u.String(), d: servicetest.NewDeployment(t, st)}
	}
	a, b := open("dissent_org_a_"), open("dissent_org_b_")

	alice := a.d.Member("alice")
	m, _ := a.d.Submitted(alice, "Only for organisation A")
	bob := b.d.Member("alice") // the same username, another organisation
	if _, err := b.d.Svc.GetMemo(b.d.Ctx, bob, m.ID); channel.ErrorCode(err) != channel.ENOTFOUND {
		t.Errorf("organisation B's alice opens A's memo by its id: %v", err)
	}
	if _, err := b.d.Svc.GetMemo(b.d.Ctx, b.d.Office, m.ID); channel.ErrorCode(err) != channel.ENOTFOUND {
		t.Errorf("organisation B's office opens A's memo by its id: %v", err)
	}
	if _, err := a.d.Svc.GetMemo(a.d.Ctx, a.d.Office, m.ID); err != nil {
		t.Errorf("organisation A's office cannot open its own memo: %v", err)
	}

	// B's role, as B's nodes hold it, against A's tables.
	asB, err := postgres.Open(ctx, b.dsn, postgres.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer asB.Close()
	for _, stmt := range []string{
		`SELECT count(*) FROM ` + a.schema + `.ledger_leaves`,
		`SELECT count(*) FROM ` + a.schema + `.memos`,
		`SELECT count(*) FROM ` + a.schema + `.users`,
		`DELETE FROM ` + a.schema + `.ledger_leaves`,
	} {
		_, err := asB.Raw().ExecContext(ctx, stmt)
		if err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("organisation B's role: %s: %v; want permission denied", stmt, err)
		}
	}
}
